"""The reference solution, imported in the trusted process: the graders compare against it.

Only our own code is imported here; the submission's code never is (it runs in the sandbox).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from graders import paths

ROOT = paths.REFERENCE
PART1 = ROOT / '1_cs231n'


def part1(module: str) -> ModuleType:
    """A module of the Part 1 reference, e.g. part1('cs231n.layers')."""
    if str(PART1) not in sys.path:
        sys.path.insert(0, str(PART1))
    loaded = importlib.import_module(module)
    origin = Path(getattr(loaded, '__file__', '') or '').resolve()
    if PART1 not in origin.parents:
        raise ImportError(f'{module} resolved to {origin}, not to the reference in {PART1}')
    return loaded


def trainer_forms(update: str) -> dict[str, type]:
    """The reference trainer for each standard form of `update`: for 'rmsprop' the reference's
    x -= lr * dx / sqrt(cache + eps) and CS231n's own notes' x -= lr * dx / (sqrt(cache) + eps), which
    differ wherever a running mean square is of the order of eps (small gradients early in training).

    Here, not in the Q8.2 check: the second form is solution code, and the check modules are copied into
    the students' self-check (graders/course/selfcheck.py), where this returns the stored results."""
    import numpy as np
    trainer = part1('cs231n.classifier_trainer').ClassifierTrainer
    if update != 'rmsprop':
        return {'': trainer}

    class EpsOutsideTheRoot(trainer):
        def _step(self, name, grad, update, learning_rate, momentum):
            cache = 0.99 * self.step_cache.get(name, np.zeros_like(grad)) + 0.01 * grad ** 2
            self.step_cache[name] = cache
            return -learning_rate * grad / (np.sqrt(cache) + 1e-8)
    return {'eps inside the square root': trainer, 'eps outside the square root': EpsOutsideTheRoot}
