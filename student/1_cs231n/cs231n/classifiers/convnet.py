"""A two-layer convolutional network built from the modular layers."""
import numpy as np

from cs231n.layers import affine_forward, affine_backward, softmax_loss
from cs231n.layer_utils import conv_relu_pool_forward, conv_relu_pool_backward


def init_two_layer_convnet(weight_scale=1e-3, bias_scale=0, input_shape=(3, 32, 32),
                           num_classes=10, num_filters=32, filter_size=5):
    """
    Initialize the weights of a two-layer convnet (see two_layer_convnet).

    Inputs:
    - weight_scale: standard deviation of the random weights
    - bias_scale: scale of the random biases
    - input_shape: (C, H, W) of each input image
    - num_classes: number C of classes
    - num_filters: number F of convolutional filters
    - filter_size: height and width of each filter; must be odd

    Returns:
    - model: dictionary with the keys
      - 'W1': filters of shape (F, C, filter_size, filter_size)
      - 'b1': filter biases of shape (F,)
      - 'W2': affine weights of shape (F * H * W / 4, num_classes)
      - 'b2': affine biases of shape (num_classes,)
    """
    C, H, W = input_shape
    assert filter_size % 2 == 1, 'Filter size must be odd; got %d' % filter_size

    model = {}
    model['W1'] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
    model['b1'] = bias_scale * np.random.randn(num_filters)
    model['W2'] = weight_scale * np.random.randn(num_filters * H * W // 4, num_classes)
    model['b2'] = bias_scale * np.random.randn(num_classes)
    return model


def two_layer_convnet(X, model, y=None, reg=0.0):
    """
    Loss and gradients of a two-layer convnet: conv (stride 1, padding that
    keeps the size) - ReLU - 2x2 max pool - affine - softmax.

    Inputs:
    - X: images of shape (N, C, H, W), with H and W even
    - model: dictionary of 'W1' (F, C, k, k), 'b1' (F,),
      'W2' (F * H * W / 4, num_classes), 'b2' (num_classes,)
    - y: labels of shape (N,); optional
    - reg: regularization strength; the loss adds
      0.5 * reg * (sum(W1**2) + sum(W2**2))

    Returns:
    If y is None:
    - scores: array of shape (N, num_classes)
    Otherwise a tuple of:
    - loss: scalar
    - grads: dictionary with the same keys as model, each gradient shaped
      like its parameter
    """
    W1, b1, W2, b2 = model['W1'], model['b1'], model['W2'], model['b2']
    filter_size = W1.shape[2]
    conv_param = {'stride': 1, 'pad': (filter_size - 1) // 2}
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

    a1, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
    scores, cache2 = affine_forward(a1, W2, b2)
    if y is None:
        return scores

    data_loss, dscores = softmax_loss(scores, y)
    da1, dW2, db2 = affine_backward(dscores, cache2)
    dX, dW1, db1 = conv_relu_pool_backward(da1, cache1)

    # Regularization of the weights, not the biases.
    reg_loss = 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    loss = data_loss + reg_loss
    grads = {'W1': dW1 + reg * W1, 'b1': db1, 'W2': dW2 + reg * W2, 'b2': db2}
    return loss, grads
