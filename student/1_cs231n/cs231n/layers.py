"""Modular layers: each forward returns (out, cache); each backward takes
(dout, cache) and returns the gradients of its inputs."""
import numpy as np


def affine_forward(x, w, b):
    """
    Fully-connected layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k), with D = d_1 * ... * d_k
    - w: weights of shape (D, M)
    - b: biases of shape (M,)

    Returns a tuple of:
    - out: array of shape (N, M)
    - cache: (x, w, b)
    """
    # TODO: affine_forward: compute the output out (N, M) of the affine layer
    raise NotImplementedError('affine_forward: compute the output out (N, M) of the affine layer')
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Backward pass of the fully-connected layer.

    Inputs:
    - dout: upstream gradient of shape (N, M)
    - cache: (x, w, b) from affine_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: gradient with respect to w, of shape (D, M)
    - db: gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    # TODO: affine_backward: compute the gradients dx, dw and db of the affine layer
    raise NotImplementedError('affine_backward: compute the gradients dx, dw and db of the affine layer')
    return dx, dw, db


def relu_forward(x):
    """
    Rectified linear unit: out = max(0, x), elementwise.

    Input:
    - x: array of any shape

    Returns a tuple of:
    - out: array of the same shape as x
    - cache: x
    """
    # TODO: relu_forward: compute the output out of the ReLU
    raise NotImplementedError('relu_forward: compute the output out of the ReLU')
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Backward pass of the ReLU: the gradient flows only where the input was positive.

    Inputs:
    - dout: upstream gradient, of any shape
    - cache: x from relu_forward, of the same shape as dout

    Returns:
    - dx: gradient with respect to x, of the same shape as dout
    """
    x = cache
    # TODO: relu_backward: compute the gradient dx of the ReLU
    raise NotImplementedError('relu_backward: compute the gradient dx of the ReLU')
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """
    Naive convolution (cross-correlation, as in every deep learning library).

    Each of the N inputs has C channels, height H and width W; each of the F
    filters spans all C channels and has height HH and width WW.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - w: filter weights of shape (F, C, HH, WW)
    - b: biases of shape (F,)
    - conv_param: dictionary with the keys
      - 'stride': step between neighbouring receptive fields, in both directions
      - 'pad': number of zeros added on every side of the input

    Returns a tuple of:
    - out: output of shape (N, F, H', W') where
      H' = 1 + (H + 2 * pad - HH) // stride
      W' = 1 + (W + 2 * pad - WW) // stride
    - cache: (x, w, b, conv_param)
    """
    # TODO: conv_forward_naive: compute the output out (N, F, H', W') of the convolution (see the docstring)
    raise NotImplementedError("conv_forward_naive: compute the output out (N, F, H', W') of the convolution (see the docstring)")

    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    Naive backward pass of the convolution.

    Inputs:
    - dout: upstream gradient of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from conv_forward_naive

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    - dw: gradient with respect to w, of shape (F, C, HH, WW)
    - db: gradient with respect to b, of shape (F,)
    """
    x, w, b, conv_param = cache
    # TODO: conv_backward_naive: compute the gradients dx, dw and db of the convolution
    raise NotImplementedError('conv_backward_naive: compute the gradients dx, dw and db of the convolution')
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    Naive max pooling.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - pool_param: dictionary with the keys
      - 'pool_height': height of each pooling region
      - 'pool_width': width of each pooling region
      - 'stride': step between neighbouring pooling regions

    Returns a tuple of:
    - out: output of shape (N, C, H', W') where
      H' = 1 + (H - pool_height) // stride
      W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param)
    """
    # TODO: max_pool_forward_naive: compute the output out (N, C, H', W') of the max pooling (see the docstring)
    raise NotImplementedError("max_pool_forward_naive: compute the output out (N, C, H', W') of the max pooling (see the docstring)")

    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    Naive backward pass of max pooling: each region's gradient goes to the
    position of its maximum (the first one, if several elements tie).

    Inputs:
    - dout: upstream gradient of shape (N, C, H', W')
    - cache: (x, pool_param) from max_pool_forward_naive

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param = cache
    # TODO: max_pool_backward_naive: compute the gradient dx of the max pooling
    raise NotImplementedError('max_pool_backward_naive: compute the gradient dx of the max pooling')
    return dx


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss, averaged over the batch.

    Inputs:
    - x: scores of shape (N, C); x[i, j] is the score of class j for input i
    - y: labels of shape (N,), with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N

    positive = (margins > 0).astype(x.dtype)
    dx = positive
    dx[np.arange(N), y] -= positive.sum(axis=1)
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax (cross-entropy) loss, averaged over the batch.

    Inputs:
    - x: scores of shape (N, C); x[i, j] is the score of class j for input i
    - y: labels of shape (N,), with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)       # no overflow in exp
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()

    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
