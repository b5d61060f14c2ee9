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
