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
    # BEGIN SOLUTION: softmax_loss_vectorized: compute the softmax loss and its gradient dW without explicit loops (see the docstring)
    N = X.shape[1]
    scores = W.dot(X)                                     # (C, N)
    scores -= scores.max(axis=0, keepdims=True)           # no overflow in exp
    log_probs = scores - np.log(np.exp(scores).sum(axis=0, keepdims=True))
    loss = -log_probs[y, np.arange(N)].mean() + reg * np.sum(W * W)

    dscores = np.exp(log_probs)                           # probabilities (C, N)
    dscores[y, np.arange(N)] -= 1
    dscores /= N
    dW = dscores.dot(X.T) + 2 * reg * W
    # END SOLUTION
    return loss, dW
