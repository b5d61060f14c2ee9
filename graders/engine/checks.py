"""Comparisons the checks use, each failing with a message a student can act on.

Every value from the sandbox is checked for its type, dtype and shape before any arithmetic: an
object that only pretends to be an array (a Handle, a list, an object whose `__eq__` says True) fails
here, and nothing of it is ever called.
"""

from __future__ import annotations

import numpy as np
import pytest

from graders.engine.plugin import fail


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


class Cases:
    """Partial credit by case inside one check whose cases differ in kind (rubric [partial_credit]).

        cases = Cases(settings['partial_credit'], record_property)
        for problem in problems:
            cases.run('stride 2, pad 1', lambda: compare(problem), notebook=False)
        cases.finish()      # fails with every failing case's message, if any

    The cases the homework's notebook itself runs weigh `notebook_share` of the check together; the
    other kinds (stride 2, pad 0 and 2, non-square inputs, overlapping pools, a batch of one) share the
    rest equally. A check with a failing case fails (its message names each failing case) and earns
    the share of the cases that passed. A case fails on the check's own `fail` or on an error of the
    submission's code; after a timeout or a crash the remaining cases are not run (an infinite loop
    costs one timeout, not one per case) and count as failed.
    """

    def __init__(self, rubric_table: dict, record):
        self.notebook_share = float(rubric_table['notebook_share'])
        self.record = record
        self.outcomes: list[tuple[bool, str]] = []   # (notebook case?, failure message or '')
        self.stopped = ''

    def run(self, label: str, body, *, notebook: bool = False) -> None:
        from graders.engine.bridge import CallTimeout, SandboxError, WorkerDied
        if self.stopped:
            self.outcomes.append((notebook, f'{label}: not run ({self.stopped})'))
            return
        try:
            body()
        except (pytest.fail.Exception, SandboxError) as error:
            self.outcomes.append((notebook, str(error).strip() or f'{label}: failed'))
            if isinstance(error, (CallTimeout, WorkerDied)):
                self.stopped = 'an earlier case timed out or crashed'
        else:
            self.outcomes.append((notebook, ''))

    def fraction(self) -> float:
        """The share of the check's points its passed cases earn."""
        notebook = [not message for is_notebook, message in self.outcomes if is_notebook]
        other = [not message for is_notebook, message in self.outcomes if not is_notebook]
        if notebook and other:
            return self.notebook_share * sum(notebook) / len(notebook) + \
                (1 - self.notebook_share) * sum(other) / len(other)
        flat = notebook + other   # one kind only: every case weighs the same
        return sum(flat) / len(flat) if flat else 0.0

    def finish(self) -> None:
        failed = [message for _, message in self.outcomes if message]
        if not failed:
            return
        from graders.engine.plugin import PARTIAL_CREDIT
        self.record(PARTIAL_CREDIT, round(self.fraction(), 4))
        distinct = list(dict.fromkeys(failed))
        if len(self.outcomes) == 1:
            fail(failed[0])
        if len(failed) == len(self.outcomes) and len(distinct) == 1:
            fail(f'all {len(failed)} cases failed, each with: {distinct[0]}')
        passed = len(self.outcomes) - len(failed)
        fail(f'{len(failed)} of {len(self.outcomes)} cases failed'
             + (f' (the {passed} others earn their share of this check)' if passed else '') + ':\n'
             + '\n'.join(f'- {message}' for message in distinct))
