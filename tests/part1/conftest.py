"""Fixtures shared by the Part 1 tests."""
import numpy as np
import pytest


@pytest.fixture
def toy():
    """The two_layer_net notebook's toy problem: 4 inputs, 10 hidden units, 3 classes, 5 examples.

    Returns (X (5, 4), y (5,), model) with every array filled by linspace, as the notebook does."""
    model = {'W1': np.linspace(-0.2, 0.6, num=40).reshape(4, 10),
             'b1': np.linspace(-0.3, 0.7, num=10),
             'W2': np.linspace(-0.4, 0.1, num=30).reshape(10, 3),
             'b2': np.linspace(-0.5, 0.9, num=3)}
    X = np.linspace(-0.2, 0.5, num=20).reshape(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return X, y, model
