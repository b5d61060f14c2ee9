"""A two-layer fully-connected network written out by hand."""
import numpy as np


def init_two_layer_model(input_size, hidden_size, output_size):
    """
    Initialize the weights and biases of a two-layer net: small random
    weights, zero biases.

    Inputs:
    - input_size: the dimension D of the input data
    - hidden_size: the number H of neurons in the hidden layer
    - output_size: the number C of classes

    Returns:
    - model: dictionary with the keys
      - 'W1': first layer weights, of shape (D, H)
      - 'b1': first layer biases, of shape (H,)
      - 'W2': second layer weights, of shape (H, C)
      - 'b2': second layer biases, of shape (C,)
    """
    model = {}
    model['W1'] = 0.00001 * np.random.randn(input_size, hidden_size)
    model['b1'] = np.zeros(hidden_size)
    model['W2'] = 0.00001 * np.random.randn(hidden_size, output_size)
    model['b2'] = np.zeros(output_size)
    return model


def two_layer_net(X, model, y=None, reg=0.0):
    """
    Loss and gradients of a two-layer fully-connected network: input -
    fully connected - ReLU - fully connected - softmax.

    Inputs:
    - X: input data of shape (N, D)
    - model: dictionary of 'W1' (D, H), 'b1' (H,), 'W2' (H, C), 'b2' (C,)
    - y: labels of shape (N,), with 0 <= y[i] < C; optional
    - reg: regularization strength; the loss adds
      0.5 * reg * (sum(W1**2) + sum(W2**2))

    Returns:
    If y is None:
    - scores: array of shape (N, C), the class scores of each input
    Otherwise a tuple of:
    - loss: scalar, mean cross-entropy plus regularization
    - grads: dictionary with the same keys as model, each gradient shaped
      like its parameter
    """
    W1, b1, W2, b2 = model['W1'], model['b1'], model['W2'], model['b2']
    N = X.shape[0]

    # TODO: two_layer_net: compute the forward pass, the class scores of shape (N, C) (see the docstring)
    raise NotImplementedError('two_layer_net: compute the forward pass, the class scores of shape (N, C) (see the docstring)')
    if y is None:
        return scores

    # TODO: two_layer_net: compute the loss (softmax data loss + 0.5 * reg * (sum(W1**2) + sum(W2**2))) and the gradients of every parameter in grads
    raise NotImplementedError('two_layer_net: compute the loss (softmax data loss + 0.5 * reg * (sum(W1**2) + sum(W2**2))) and the gradients of every parameter in grads')
    return loss, grads
