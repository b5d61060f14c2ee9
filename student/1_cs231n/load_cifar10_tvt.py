"""CIFAR-10 prepared for the softmax notebook: examples as columns."""
import numpy as np

from cs231n.data_utils import load_CIFAR10


def load_cifar10_train_val(cifar10_dir='cs231n/datasets/cifar-10-batches-py',
                           num_training=49000, num_val=1000, num_test=1000):
    """
    Load CIFAR-10 and prepare it for a linear classifier: subtract the mean
    training image, append a row of ones for the bias, one example per column.

    The validation images are the num_val training images that follow the
    first num_training; the test images are the first num_test of the test
    batch.

    Returns a tuple of:
    - X_train: (3073, num_training), y_train: (num_training,)
    - X_val: (3073, num_val), y_val: (num_val,)
    - X_test: (3073, num_test), y_test: (num_test,)
    """
    X_train, y_train, X_test, y_test = load_CIFAR10(cifar10_dir)

    X_val = X_train[num_training:num_training + num_val]
    y_val = y_train[num_training:num_training + num_val]
    X_train = X_train[:num_training]
    y_train = y_train[:num_training]
    X_test = X_test[:num_test]
    y_test = y_test[:num_test]

    # Flatten each image into a row.
    X_train = X_train.reshape(num_training, -1)
    X_val = X_val.reshape(num_val, -1)
    X_test = X_test.reshape(num_test, -1)

    # Center the data on the mean training image.
    mean_image = np.mean(X_train, axis=0)
    X_train -= mean_image
    X_val -= mean_image
    X_test -= mean_image

    # Append the bias dimension and make each example a column.
    X_train = np.hstack([X_train, np.ones((num_training, 1))]).T
    X_val = np.hstack([X_val, np.ones((num_val, 1))]).T
    X_test = np.hstack([X_test, np.ones((num_test, 1))]).T
    return X_train, y_train, X_val, y_val, X_test, y_test
