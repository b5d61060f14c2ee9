"""One wall-clock budget for grading one part of one submission.

Why: every piece of grading has its own timeout (a call 60 s, a training run 10 minutes, a notebook
cell...), and a submission that is slow everywhere used to pay all of them in turn: one whose module
did slow work at import time took 921 s for Part 1, each of eight layer checks waiting out its own
60 s. A class of 200 such submissions would hold a batch for two days, and Gradescope kills a run
at its own limit without writing results.json.

So grading a part has one budget (rubric.toml `[budget]`, seconds per part) over intake, the build,
the checks, the training runs and the notebooks:
- every call into the sandbox waits at most what is left of it (`graders/engine/bridge.py`);
- a check that starts, or a call that would wait, past it fails at once with `verdict()`: "grading
  budget exhausted", never the check's own message about slow code, and the report lists those items;
- when importing a submission's module timed out once, `slow_imports` remembers it and every later
  call that needs that module fails at once with the same verdict instead of waiting again.

The budget is generous (a multiple of what the reference takes on 2 cores): it is a bound on the
grader's time, not a speed requirement for the students.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

# rubric.toml's [budget] table: `part1`, `part2` (seconds).
RUBRIC_TABLE = 'budget'


@dataclass
class Budget:
    """What grading one part of one submission may still spend.

    seconds: the whole budget (None: unlimited); part: for the verdict's wording.
    slow_imports: submission module -> the verdict its timed-out import gave (later calls reuse it).
    stops: waits and items it stopped so far (the plugin marks a check cut short as BUDGET).
    """
    seconds: float | None
    part: int = 1
    started: float = field(default_factory=time.monotonic)
    slow_imports: dict[str, str] = field(default_factory=dict)
    stops: int = 0      # how many waits or items the budget has stopped (`stop()`)

    @classmethod
    def from_rubric(cls, settings: dict, part: int, started: float | None = None) -> 'Budget':
        """The budget of `part` from the rubric's [budget] table (none there: unlimited)."""
        seconds = settings.get(RUBRIC_TABLE, {}).get(f'part{part}')
        return cls(float(seconds) if seconds else None, part,
                   time.monotonic() if started is None else started)

    def left(self) -> float:
        """Seconds left (inf when unlimited, never negative)."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.started + self.seconds - time.monotonic())

    @property
    def exhausted(self) -> bool:
        return self.left() <= 0.0

    def cap(self, timeout: float) -> tuple[float, bool]:
        """(what a wait of `timeout` s may take, whether the budget is what limits it)."""
        left = self.left()
        return (left, True) if left < timeout else (timeout, False)

    def verdict(self) -> str:
        """The message of every item not graded because the budget ran out (one text, said once)."""
        return (f'grading budget exhausted: grading Part {self.part} may take {self.seconds:g} s in all '
                f'(about three times what the reference solution needs), and this submission used it up '
                f'before this item could be graded, so it earns no points. Look for code that is far slower '
                f'than it should be: loops where the homework expects vectorized numpy, work done at import '
                f'time, training that never stops.')

    def stop(self) -> str:
        """Count one wait or item stopped by the budget, and return the verdict to raise it with: a check
        whose own code caught that (graders.engine.checks.Cases) is still known to have been cut short."""
        self.stops += 1
        return self.verdict()

    def stalled_prefix(self, module: str) -> str | None:
        """The verdict of `module` or of a package above it whose import timed out, if any."""
        parts = module.split('.')
        for i in range(1, len(parts) + 1):
            message = self.slow_imports.get('.'.join(parts[:i]))
            if message:
                return message
        return None
