"""Numeric gradients by centered differences, to check analytic ones."""
from random import randrange

import numpy as np


def _evaluate_around(f, x, ix, h):
    """
    Evaluate f with x[ix] moved by +h, then by -h, and restore x[ix].

    Returns a tuple (f(x + h e_ix), f(x - h e_ix)); array results are copied,
    since f may return a view of something it reuses.
    """
    old = x[ix]
    x[ix] = old + h
    fxph = np.copy(f(x))
    x[ix] = old - h
    fxmh = np.copy(f(x))
    x[ix] = old
    return fxph, fxmh


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """
    Numeric gradient of a scalar function at x.

    Inputs:
    - f: function of one argument returning a scalar; it reads x, which is
      perturbed in place and restored
    - x: array at which to evaluate the gradient, of any shape
    - verbose: if True, print each coordinate's gradient
    - h: step of the centered difference

    Returns:
    - grad: array shaped like x
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        fxph, fxmh = _evaluate_around(f, x, ix, h)
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """
    Numeric gradient of sum(f(x) * df) at x, for a function f that returns
    an array and an upstream gradient df shaped like f(x).

    Inputs:
    - f: function of one argument returning an array; it reads x, which is
      perturbed in place and restored
    - x: array at which to evaluate the gradient, of any shape
    - df: upstream gradient, of the shape of f(x)
    - h: step of the centered difference

    Returns:
    - grad: array shaped like x
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        pos, neg = _evaluate_around(f, x, ix, h)
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks, h=1e-5):
    """
    Compare an analytic gradient with the numeric one at a few random
    coordinates, printing both and their relative error.

    Inputs:
    - f: function of one argument returning a scalar; it reads x, which is
      perturbed in place and restored
    - x: array at which the gradient was computed
    - analytic_grad: the gradient to check, shaped like x
    - num_checks: number of random coordinates to check
    - h: step of the centered difference

    Returns:
    - rel_errors: list of the num_checks relative errors
    """
    rel_errors = []
    for _ in range(num_checks):
        ix = tuple(randrange(m) for m in x.shape)
        fxph, fxmh = _evaluate_around(f, x, ix, h)
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = analytic_grad[ix]
        denom = abs(grad_numerical) + abs(grad_analytic)
        rel_error = abs(grad_numerical - grad_analytic) / denom if denom > 0 else 0.0
        rel_errors.append(rel_error)
        print('numerical: %f analytic: %f, relative error: %e'
              % (grad_numerical, grad_analytic, rel_error))
    return rel_errors
