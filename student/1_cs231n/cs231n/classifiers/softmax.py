"""The softmax (multinomial logistic regression) loss, vectorized."""
import numpy as np


def softmax_loss_vectorized(W, X, y, reg):
    """
    Softmax loss and its gradient, with no explicit loop.

    Examples are columns of X and the bias is folded into W as its last
    column (X carries a row of ones), so the scores are W.dot(X).

    Inputs:
    - W: weights of shape (C, D), C classes of D = 3072 + 1 features
    - X: data of shape (D, N), one example per column
    - y: labels of shape (N,), with 0 <= y[i] < C
    - reg: regularization strength; the loss adds reg * sum(W**2)

    Returns a tuple of:
    - loss: scalar, mean cross-entropy over the N examples plus regularization
    - dW: gradient of the loss with respect to W, of shape (C, D)
    """
    # TODO: softmax_loss_vectorized: compute the softmax loss and its gradient dW without explicit loops (see the docstring)
    raise NotImplementedError('softmax_loss_vectorized: compute the softmax loss and its gradient dW without explicit loops (see the docstring)')
    return loss, dW
