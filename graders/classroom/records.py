"""What status.json keeps of each check and notebook, for the class's views (overrides, dashboard).

`hw1grade batch` writes one status.json per student and part (graders/classroom/batch.py); the gradebook,
the dashboard and the overrides are rebuilt from those files alone, so each grade's per-check verdicts
and the figures its checks and notebooks recorded travel in it as plain data:

- `checks`: one entry per check that ran: its id (`Q8.3/test_conv_backward_naive`, CheckResult.id: the
  question and the check's function name, the same from run to run, unlike its number), title, status
  (graders/engine/outcome.py CheckStatus), points earned and possible, its message (cut) and the figures
  it recorded (`measured`: e.g. Part 2's `claimed test accuracy` beside `grader's accuracy`).
- `notebook_figures`: per notebook, the accuracies the submitted notebook claims and the ones the
  grader's own run of it measured, as numbers (graders/notebooks/grading.py), for the scatter plot.

`read_part(record)` turns one status.json back into a typed `PartRecord`; a record written before these
fields existed reads with none (its views say so rather than guess).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from graders.engine.untrusted import clean_text
from graders.part2 import deliverables

# A check's message as the class views keep it: enough for the example of a failure group.
MESSAGE_CHARS = 2000
# The figures the Part 2 log checks record (graders/part2/deliverables.py check_log): the claim, the grader's
# own accuracy, and the flag of a claim the grader's measurement cannot explain.
CLAIMED, GRADERS, FLAG = deliverables.CLAIMED, deliverables.GRADERS_ACCURACY, deliverables.FLAG
# The status of a part the student never submitted, beside the outcomes of a grade (outcome.Status):
# written by the gradebook, read by the dashboard.
MISSING = 'missing'


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def check_entries(scored) -> list[dict]:
    """status.json's `checks` from a grade's ScoredChecks (graders/engine/results.py)."""
    entries = []
    for s in scored:
        check = s.check
        entries.append({
            'id': check.id, 'question': check.question, 'title': check.title,
            'number': s.number, 'status': str(check.status), 'score': round(float(s.score), 4),
            'max_score': round(float(s.max_score), 4),
            'message': '' if check.passed else clean_text(check.message, MESSAGE_CHARS),
            'measured': {str(k): v for k, v in check.measured.items()
                         if isinstance(v, str) or _number(v) is not None}})
    return entries


def notebook_entries(notebooks: list[dict]) -> list[dict]:
    """status.json's `notebook_figures`: each notebook's claimed and measured accuracies (kind -> value)."""
    entries = []
    for nb in notebooks:
        claimed = {str(k): float(v) for k, v in (nb.get('claimed_figures') or {}).items() if _number(v) is not None}
        measured = {str(k): float(v) for k, v in (nb.get('measured_figures') or {}).items()
                    if _number(v) is not None}
        if claimed or measured:
            entries.append({'name': str(nb.get('name', '')), 'claimed': claimed, 'measured': measured,
                            'flags': [str(f) for f in nb.get('flags', [])]})
    return entries


def class_fields(graded) -> dict:
    """The fields this module adds to a status.json record (graders/classroom/batch.py `outcome`)."""
    return {'checks': check_entries(graded.scored), 'notebook_figures': notebook_entries(graded.notebooks)}


@dataclass(frozen=True)
class CheckRecord:
    id: str
    question: str
    title: str
    number: str
    status: str
    score: float
    max_score: float
    message: str = ''
    measured: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == 'passed'


@dataclass(frozen=True)
class NotebookFigures:
    name: str
    claimed: dict          # kind ('test', 'validation', 'training') -> accuracy
    measured: dict
    flags: tuple = ()


@dataclass(frozen=True)
class PartRecord:
    """One status.json, typed."""
    student: str
    label: str             # 'part1' | 'part2'
    part: int
    status: str            # graders/engine/outcome.py Status
    score: float
    max_score: float
    message: str
    questions: dict        # question -> (earned, possible)
    checks: tuple          # CheckRecord, in the order they ran
    notebooks: tuple       # NotebookFigures
    has_checks: bool       # False: written before status.json kept its checks
    raw: dict              # the record as read (the gradebook's input)

    def check(self, identifier: str) -> CheckRecord | None:
        return next((c for c in self.checks if c.id == identifier), None)


def read_part(record: dict) -> PartRecord:
    checks = tuple(CheckRecord(str(c.get('id', '')), str(c.get('question', '')), str(c.get('title', '')),
                               str(c.get('number', '')), str(c.get('status', '')),
                               _number(c.get('score')) or 0.0, _number(c.get('max_score')) or 0.0,
                               str(c.get('message', '')), dict(c.get('measured') or {}))
                   for c in record.get('checks') or [] if isinstance(c, dict))
    notebooks = tuple(NotebookFigures(str(n.get('name', '')), dict(n.get('claimed') or {}),
                                      dict(n.get('measured') or {}), tuple(n.get('flags') or ()))
                      for n in record.get('notebook_figures') or [] if isinstance(n, dict))
    questions = {str(q): (float(v[0]), float(v[1])) for q, v in (record.get('questions') or {}).items()}
    label = str(record.get('label', ''))
    return PartRecord(str(record.get('student', '')), label, int(record.get('part') or label[-1:] or 0),
                      str(record.get('status', '')), _number(record.get('score')) or 0.0,
                      _number(record.get('max_score')) or 0.0, str(record.get('message') or ''), questions,
                      checks, notebooks, 'checks' in record, record)
