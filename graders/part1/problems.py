"""Problems the Part 1 checks share with the project's own tests."""

import numpy as np


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
