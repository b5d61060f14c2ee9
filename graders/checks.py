"""Comparisons the checks use, each failing with a message a student can act on.

Every value from the sandbox is checked for its type, dtype and shape before any arithmetic: an
object that only pretends to be an array (a Handle, a list, an object whose `__eq__` says True) fails
here, and nothing of it is ever called.
"""

from __future__ import annotations

import numpy as np

from graders.plugin import fail


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The largest elementwise relative error, as the homework's notebooks measure it."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)), initial=0.0))


def as_array(name: str, value, shape: tuple[int, ...] | None = None, *, kind: str = 'fc') -> np.ndarray:
    """`value` if it is a numpy array of the right kind ('f' float, 'i'/'u' integer, 'b' bool, 'c'
    complex) and shape; else the check fails saying what came back."""
    if type(value) is not np.ndarray:
        fail(f'{name}: expected a numpy array, got {describe(value)}')
    if value.dtype.kind not in kind:
        fail(f'{name}: expected a {"floating" if "f" in kind else "integer"} array, got dtype {value.dtype}')
    if shape is not None and value.shape != tuple(shape):
        fail(f'{name}: expected shape {tuple(shape)}, got {value.shape}')
    return value


def as_scalar(name: str, value) -> float:
    """A finite real number (Python or numpy scalar, or a 0-d/1-element float array)."""
    if isinstance(value, bool):
        fail(f'{name}: expected a number, got {value!r}')
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, np.ndarray) and type(value) is np.ndarray and value.size == 1 and value.dtype.kind in 'iuf':
        number = float(value.reshape(()))
    else:
        fail(f'{name}: expected a number, got {describe(value)}')
    if not np.isfinite(number):
        fail(f'{name}: expected a finite number, got {number}')
    return number


def as_tuple(name: str, value, length: int) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        fail(f'{name}: expected {length} return values, got {describe(value)}')
    return tuple(value)


def expect_close(name: str, got, expected: np.ndarray, tolerance: float) -> None:
    """`got` must be a float array shaped like `expected` within `tolerance` relative error."""
    expected = np.asarray(expected)
    got = as_array(name, got, expected.shape)
    if not np.all(np.isfinite(got)):
        fail(f'{name}: contains nan or inf')
    error = rel_error(got, expected)
    if not error <= tolerance:
        worst = np.unravel_index(np.argmax(np.abs(got - expected)), expected.shape) if expected.size else ()
        fail(f'{name}: relative error {error:.2e} (allowed {tolerance:.0e}); '
             f'at index {tuple(int(i) for i in worst)} expected {expected[worst]:.6g}, got {got[worst]:.6g}')


def describe(value) -> str:
    """A short, safe description of a value from the sandbox (never calls its methods)."""
    if isinstance(value, np.ndarray):
        return f'an array of shape {value.shape} and dtype {value.dtype}'
    if isinstance(value, (tuple, list)):
        return f'a {type(value).__name__} of {len(value)} values'
    if isinstance(value, (int, float, str, bool)) or value is None:
        text = repr(value)
        return text if len(text) < 60 else text[:57] + '...'
    type_name = getattr(value, 'type_name', None)   # a bridge.Handle
    return f'an object of type {type_name}' if type_name else f'a {type(value).__name__}'
