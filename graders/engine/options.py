"""`GradeOptions`: how to grade, one frozen value that `grade()`, `hw1grade grade`/`check`, `hw1grade batch`
(shipped to each Dask task as is) and Gradescope's run_autograder pass around.

What belongs to one submission (its path, its part, where its results go, the sandbox uid of the
process grading it, the files uploaded beside it) stays an argument of `grade()`; what is the same for
every submission of a run lives here. `identity()` is what of it changes a grade, so that `batch`
regrades when it changes (graders/classroom/batch.py, `grader_version`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graders.engine.rubric import Rubric

# Options that change where or how fast a grade is made, never what it is.
NOT_IN_IDENTITY = frozenset({'build_cache', 'keep_scratch'})


@dataclass(frozen=True)
class GradeOptions:
    """visible_only: only the checks students see (`hw1grade check`).
    notebooks: also execute the submitted notebooks in the sandbox, for the report (no points).
    select: a pytest -k expression to run only some checks (calibration, debugging).
    preflight: first check that this machine can grade (graders/engine/doctor.py); if it cannot, nothing
    of the submission runs and the outcome is a grader error.
    call_timeout: default seconds per call into the sandbox (graders/engine/bridge.py).
    rubric: the rubric to grade with (default graders/rubric.toml).
    build_cache: a folder of earlier Cython builds of identical sources (graders/part1/build.py).
    find_cifar10: callable () -> the cifar-10-batches-py folder (default cifar10.ensure_cifar10).
    keep_scratch: leave the scratch copy in place (debugging)."""
    visible_only: bool = False
    notebooks: bool = True
    select: str | None = None
    preflight: bool = True
    call_timeout: float = 60.0
    rubric: Rubric | None = None
    build_cache: Path | None = None
    find_cifar10: Callable[[], Path] | None = None
    keep_scratch: bool = False

    def identity(self) -> dict:
        """The options that change a grade, as plain data."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_IN_IDENTITY}
