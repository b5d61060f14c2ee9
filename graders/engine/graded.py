"""`Graded`: the outcome of grading one submission, the value every consumer reads.

`graders/engine/grade.py` makes it; results.json (`grade.results_document`), the HTML report and the
terminal table (`graders/engine/report.py`, views only), `hw1grade batch` (status.json, the gradebook)
and Gradescope's run_autograder (graders/classroom/gradescope.py) read it. Whose outcome it is is
`status` (graders/engine/outcome.py), set by the producer: no consumer tells a grader error from an
invalid submission by the wording of `verdict`, and what a TA must look at is the notes the checks
made as review notes (`outcome.Note`), not notes whose text happens to match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graders.engine.outcome import NOT_A_GRADE, NoteKind, Status
from graders.engine.results import ScoredCheck
from graders.engine.rubric import Rubric


@dataclass
class Graded:
    """One graded submission."""
    source: str
    part: int
    rubric: Rubric
    scored: list[ScoredCheck]
    seconds: float
    verdict: str = ''                                   # one line when the submission could not be graded
    notes: list[str] = field(default_factory=list)      # intake, build, shims, isolation (some `Note`s)
    notebooks: list[dict] = field(default_factory=list)  # name, status, failing cells, claimed vs measured
    status: Status = Status.GRADED                      # whose outcome: graded, invalid, grader-error...
    isolation: str = ''                                 # the sandbox's isolation level (Sandbox.isolation)

    @property
    def is_grade(self) -> bool:
        """Whether the score is the submission's (not after a grader error, a batch crash or timeout)."""
        return self.status not in NOT_A_GRADE

    @property
    def score(self) -> float:
        return round(sum(s.score for s in self.scored), 2)

    @property
    def max_score(self) -> float:
        return self.rubric.total(self.part)

    @property
    def review(self) -> list[str]:
        """What a TA should look at by hand: the checks' review notes (claims the grader's measurement
        cannot explain, models too slow for the training budget, predictions that disagree with the
        submitted model, implausible accuracies), then each notebook's flags."""
        flags = [str(n) for n in self.notes if getattr(n, 'kind', None) is NoteKind.REVIEW]
        flags += [f'{nb["name"]}: {flag}' for nb in self.notebooks for flag in nb.get('flags', [])]
        return flags
