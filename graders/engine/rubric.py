"""The rubric (graders/rubric.toml) as Python objects, and the one rule that turns checks into points.

A question's points are shared among its checks in proportion to the weights their
`@pytest.mark.points(question, weight)` markers carry; a passed check earns its share, a failed one
nothing, except a check graded by case (graders.engine.checks.Cases), which earns the share of the cases
it passed (rubric.toml [partial_credit]).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders import paths

RUBRIC_FILE = paths.RUBRIC_FILE


@dataclass(frozen=True)
class Question:
    id: str                 # "Q8.1"
    title: str
    part: int
    points: float
    hidden: tuple[str, ...] = ()   # names of checks not run by `hw1grade check`


@dataclass(frozen=True)
class Rubric:
    questions: dict[str, Question]
    settings: dict[str, Any] = field(default_factory=dict)  # every other table: tolerances, runs...

    def for_part(self, part: int) -> list[Question]:
        return [q for q in self.questions.values() if q.part == part]

    def total(self, part: int) -> float:
        return sum(q.points for q in self.for_part(part))


def load_rubric(path: Path = RUBRIC_FILE) -> Rubric:
    """Read the rubric file; raises ValueError when a question lacks a field."""
    data = tomllib.loads(path.read_text())
    questions = {}
    for qid, q in data.pop('questions').items():
        try:
            questions[qid] = Question(qid, q['title'], int(q['part']), float(q['points']),
                                      tuple(q.get('hidden', ())))
        except KeyError as missing:
            raise ValueError(f'{path}: question {qid} has no {missing}') from None
    return Rubric(questions, data)


def share_points(question: Question, weights: dict[str, float]) -> dict[str, float]:
    """Split a question's points over its checks: check name -> max score (weights: name -> weight)."""
    total = sum(weights.values())
    return {name: question.points * w / total for name, w in weights.items()}
