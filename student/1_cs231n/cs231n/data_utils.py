"""Loading the CIFAR-10 python batches."""
import os
import pickle

import numpy as np


def load_CIFAR_batch(filename):
    """
    Load one batch file of the CIFAR-10 python version.

    Input:
    - filename: path of a batch file (data_batch_1, ..., test_batch)

    Returns a tuple of:
    - X: images of shape (n, 32, 32, 3), float64 pixel values in [0, 255]
    - Y: labels of shape (n,), integers in [0, 10)
    """
    with open(filename, 'rb') as f:
        batch = pickle.load(f, encoding='latin1')
    # Rows are channel-major: 1024 red, then 1024 green, then 1024 blue values.
    X = batch['data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype('float64')
    Y = np.array(batch['labels'])
    return X, Y


def load_CIFAR10(ROOT):
    """
    Load all of CIFAR-10.

    Input:
    - ROOT: the cifar-10-batches-py folder

    Returns a tuple of:
    - Xtr: training images of shape (50000, 32, 32, 3)
    - Ytr: training labels of shape (50000,)
    - Xte: test images of shape (10000, 32, 32, 3)
    - Yte: test labels of shape (10000,)
    """
    xs, ys = [], []
    for b in range(1, 6):
        X, Y = load_CIFAR_batch(os.path.join(ROOT, 'data_batch_%d' % b))
        xs.append(X)
        ys.append(Y)
    Xtr = np.concatenate(xs)
    Ytr = np.concatenate(ys)
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, 'test_batch'))
    return Xtr, Ytr, Xte, Yte
