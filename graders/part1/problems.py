"""Problems the Part 1 checks share with the project's own tests."""

import numpy as np

from graders.part1.reference import part1


def toy_two_layer_problem():
    """The two_layer_net notebook's toy problem: 4 inputs, 10 hidden units, 3 classes, 5 examples.

    Returns (X (5, 4), y (5,), model) with every array filled by linspace, as the notebook does."""
    model = {'W1': np.linspace(-0.2, 0.6, num=40).reshape(4, 10),
             'b1': np.linspace(-0.3, 0.7, num=10),
             'W2': np.linspace(-0.4, 0.1, num=30).reshape(10, 3),
             'b2': np.linspace(-0.5, 0.9, num=3)}
    X = np.linspace(-0.2, 0.5, num=20).reshape(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return X, y, model


def random_two_layer_problem(rng, n=8, d=6, h=7, c=4):
    """A fresh two-layer problem of the same kind: (X (n, d), y (n,), model)."""
    model = {'W1': rng.standard_normal((d, h)) * 0.5, 'b1': rng.standard_normal(h) * 0.1,
             'W2': rng.standard_normal((h, c)) * 0.5, 'b2': rng.standard_normal(c) * 0.1}
    return rng.standard_normal((n, d)), rng.integers(0, c, size=n), model


def problem(rng, c, d, n, scale=1e-3):
    """Small weights as in the notebook (loss near log C), pixel-scale X with a row of ones."""
    W = rng.standard_normal((c, d)) * scale
    X = np.vstack([rng.standard_normal((d - 1, n)) * 50, np.ones((1, n))])
    y = rng.integers(0, c, size=n)
    return W, X, y


def telling_problem(rng, c=4, d=7, n=9):
    """Weights of order 1 and inputs of order 0.3: scores of order 1 (no saturated softmax), and a
    regularization term that separates the two conventions by far more than any tolerance."""
    W = rng.standard_normal((c, d))
    X = np.vstack([rng.standard_normal((d - 1, n)) * 0.3, np.ones((1, n))])
    return W, X, rng.integers(0, c, size=n)


def conventions(W, X, y, reg):
    """The two correct (loss, dW) pairs: full and half regularization."""
    ref = part1('cs231n.classifiers.softmax')
    data_loss, data_grad = ref.softmax_loss_vectorized(W, X, y, 0.0)
    square = float(np.sum(W * W))
    return {'reg * sum(W**2)': (data_loss + reg * square, data_grad + 2 * reg * W),
            '0.5 * reg * sum(W**2)': (data_loss + 0.5 * reg * square, data_grad + reg * W)}


def matching_conventions(loss, W, X, y, reg) -> list[str]:
    """The conventions whose loss `loss` is within the tolerance of, nearest first."""
    expected = {name: value for name, (value, _) in conventions(W, X, y, reg).items()}
    distance = {name: abs(loss - value) for name, value in expected.items()}
    close = [name for name, value in expected.items() if distance[name] <= 1e-6 * max(1.0, abs(value))]
    return sorted(close, key=distance.get)
