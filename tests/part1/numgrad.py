"""Numeric gradients written for the tests, independent of cs231n.gradient_check.

Every helper takes a function of no arguments that reads the array `x`; the
array is perturbed in place, one coordinate at a time, and always restored.
"""
import numpy as np
from hypothesis import HealthCheck, settings

# Relative error that correct float64 code stays well below (it lands between
# 1e-10 and 1e-7); real bugs give errors of order 1e-2 to 1.
TOL = 1e-6

# Settings for property tests that run the naive (Python loop) layers.
slow_examples = settings(max_examples=50, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])


def rel_error(a, b):
    """Relative error of two arrays of one shape, measured on their norms."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def sample_indices(shape, max_checks=None, seed=0):
    """All multi-indices of `shape`, or `max_checks` distinct ones chosen at random."""
    size = int(np.prod(shape))
    flat = np.arange(size)
    if max_checks is not None and size > max_checks:
        flat = np.random.default_rng(seed).choice(size, max_checks, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def partial_derivative(f, x, ix, h=1e-5):
    """Centered difference (f(x + h e_ix) - f(x - h e_ix)) / 2h of a scalar f()."""
    old = x[ix]
    try:
        x[ix] = old + h
        plus = float(f())
        x[ix] = old - h
        minus = float(f())
    finally:
        x[ix] = old
    return (plus - minus) / (2 * h)


def gradient_error(f, x, analytic, max_checks=None, h=1e-5, seed=0):
    """Relative error between `analytic` and the numeric gradient of scalar f()
    with respect to x, on every coordinate or on `max_checks` random ones."""
    analytic = np.asarray(analytic)
    assert analytic.shape == x.shape, (analytic.shape, x.shape)
    indices = sample_indices(x.shape, max_checks, seed)
    numeric = [partial_derivative(f, x, ix, h) for ix in indices]
    return rel_error([analytic[ix] for ix in indices], numeric)


def upstream_loss(forward, dout):
    """The scalar sum(forward() * dout), whose gradient is what a backward
    pass returns when given the upstream gradient dout."""
    return lambda: float(np.sum(forward() * dout))
