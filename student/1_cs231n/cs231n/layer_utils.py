"""Common sandwiches of layers, each with its forward and backward pass."""
from cs231n.layers import affine_forward, affine_backward, relu_forward, relu_backward
from cs231n.fast_layers import (conv_forward_fast, conv_backward_fast,
                                max_pool_forward_fast, max_pool_backward_fast)


def affine_relu_forward(x, w, b):
    """
    Affine transform followed by a ReLU.

    Inputs:
    - x: input of shape (N, d_1, ..., d_k)
    - w: weights of shape (D, M), b: biases of shape (M,)

    Returns a tuple of:
    - out: output of shape (N, M)
    - cache: object to give to affine_relu_backward
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """
    Backward pass of affine_relu_forward.

    Inputs:
    - dout: upstream gradient of shape (N, M)
    - cache: from affine_relu_forward

    Returns a tuple of (dx, dw, db), shaped like x, w and b.
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """
    Convolution followed by a ReLU.

    Inputs:
    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C, HH, WW), b: biases of shape (F,)
    - conv_param: {'stride', 'pad'} of the convolution

    Returns a tuple of:
    - out: output of shape (N, F, H', W')
    - cache: object to give to conv_relu_backward
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """
    Backward pass of conv_relu_forward.

    Inputs:
    - dout: upstream gradient of shape (N, F, H', W')
    - cache: from conv_relu_forward

    Returns a tuple of (dx, dw, db), shaped like x, w and b.
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """
    Convolution, ReLU, then max pooling.

    Inputs:
    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C, HH, WW), b: biases of shape (F,)
    - conv_param: {'stride', 'pad'} of the convolution
    - pool_param: {'pool_height', 'pool_width', 'stride'} of the pooling

    Returns a tuple of:
    - out: output of shape (N, F, H'', W'')
    - cache: object to give to conv_relu_pool_backward
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """
    Backward pass of conv_relu_pool_forward.

    Inputs:
    - dout: upstream gradient of shape (N, F, H'', W'')
    - cache: from conv_relu_pool_forward

    Returns a tuple of (dx, dw, db), shaped like x, w and b.
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)
