"""Gradescope's results.json, exactly as shared/specs/gradescope-results.md describes it.

`build_results()` turns check results into the document; `write_results()` writes it atomically
(a half-written results.json shows students "The autograder failed to execute correctly").
`results.schema.json` beside this file is the contract the tests validate every document against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from graders.engine.outcome import GRADER_ERROR_MESSAGE, NOT_GRADED
from graders.engine.plugin import CheckResult
from graders.engine.rubric import Rubric, share_points
from graders.engine.untrusted import clean_text
from graders.files import write_atomic

SCHEMA_FILE = Path(__file__).with_name('results.schema.json')
# results.json stays under 1 MB whatever a submission sends (its messages are forgeable: see
# graders/engine/untrusted.py): each test's output is cut to TEST_OUTPUT_CHARS, any other text to FIELD_CHARS,
# and if the file would still be larger, every text to the longest length that fits.
MAX_RESULTS_BYTES = 1_000_000 - 4096
TEST_OUTPUT_CHARS = 8000
FIELD_CHARS = 64_000
LIST_TEXTS = 500        # texts in one list (notes): the rest replaced by one that says how many


@dataclass(frozen=True)
class ScoredCheck:
    """A check with its points: what results.json, the report and the terminal table show."""
    check: CheckResult
    number: str          # "8.3.4"
    score: float
    max_score: float


def score_checks(rubric: Rubric, checks: list[CheckResult]) -> list[ScoredCheck]:
    """Points for each check, numbered within its question in the order the checks ran."""
    scored = []
    for question in rubric.questions.values():
        mine = [c for c in checks if c.question == question.id]
        if not mine:
            continue
        shares = share_points(question, {c.name: c.weight for c in mine})
        for index, check in enumerate(mine, start=1):
            number = f'{question.id.lstrip("Q")}.{index}'
            maximum = round(shares[check.name], 4)
            earned = maximum if check.passed else round(maximum * check.fraction, 4)
            scored.append(ScoredCheck(check, number, earned, maximum))
    return scored


def question_totals(rubric: Rubric, scored: list[ScoredCheck]) -> dict[str, tuple[float, float]]:
    """Question id -> (points earned, points possible), for the questions that were graded."""
    totals: dict[str, tuple[float, float]] = {}
    for s in scored:
        earned, possible = totals.get(s.check.question, (0.0, 0.0))
        totals[s.check.question] = (earned + s.score, possible + s.max_score)
    return {q: (round(e, 2), round(p, 2)) for q, (e, p) in totals.items()}


def build_results(rubric: Rubric, scored: list[ScoredCheck], *, seconds: float, output: str,
                  leaderboard: list[dict] | None = None, extra_data: dict | None = None) -> dict:
    """The results.json document. Hidden checks are 'after_published': students see their total
    only once the TAs publish the grades."""
    tests = []
    for s in scored:
        question = rubric.questions[s.check.question]
        test = {
            'score': round(s.score, 4),
            'max_score': s.max_score,
            'status': 'passed' if s.check.passed else 'failed',
            'name': f'{question.id} {question.title}: {s.check.title}',
            'number': s.number,
            'output': (s.check.message if not s.check.passed else 'passed') + measured_text(s.check),
            'visibility': 'after_published' if s.check.hidden else 'visible',
            'tags': [question.id],
        }
        tests.append(test)
    document = {
        'score': round(sum(s.score for s in scored), 2),
        'execution_time': round(float(seconds), 1),
        'output': output,
        'visibility': 'visible',
        'stdout_visibility': 'hidden',
        'tests': tests,
    }
    if leaderboard:
        document['leaderboard'] = leaderboard
    if extra_data:
        document['extra_data'] = extra_data
    return document


def grader_error_results(rubric: Rubric, part: int, message: str, *, seconds: float, output: str,
                         extra_data: dict | None = None) -> dict:
    """The results.json of a submission the grader could not grade (graders/engine/outcome.py: a grader
    error, or a batch task that crashed or ran out of time), presenting no score as earned.

    Gradescope requires a score; it hides the total from students when any test is hidden. So each of
    the part's questions is one hidden test, 0 of its points, 'not graded', and the top-level output
    (which students do see) says in plain words that the autograder failed on the server, not their
    code, and that staff will regrade; then the reason, for the TA. extra_data's `status` tells the
    Gradescope runner and staff tools what happened without parsing text."""
    tests = [{'score': 0.0, 'max_score': float(q.points), 'status': 'failed', 'name': f'{q.id} {q.title}: not graded',
              'number': q.id.lstrip('Q'), 'output': NOT_GRADED, 'visibility': 'hidden', 'tags': [q.id]}
             for q in rubric.for_part(part)]
    return {
        'score': 0.0,
        'execution_time': round(float(seconds), 1),
        'output': f'{GRADER_ERROR_MESSAGE}\n\nFor course staff: {message}\n\n{output}',
        'visibility': 'visible',
        'stdout_visibility': 'hidden',
        'tests': tests,
        'extra_data': dict(extra_data or {}),
    }


def measured_text(check: CheckResult) -> str:
    """' (accuracy 0.312)': the figures a check recorded, for the student and the TA."""
    if not check.measured:
        return ''
    return ' (' + ', '.join(f'{k.replace("_", " ")} {v}' for k, v in check.measured.items()) + ')'


def bounded(document: dict, max_bytes: int = MAX_RESULTS_BYTES) -> dict:
    """`document` with every text cleaned (`untrusted.clean_text`: no terminal escapes or control
    characters but newlines and tabs), each test's output at most TEST_OUTPUT_CHARS and other texts
    FIELD_CHARS, then, while its JSON is over `max_bytes`, every text cut to the longest length that
    fits (each cut carries a marker saying how much was cut)."""
    def cut(value, limit: int, test_limit: int, in_test: bool = False):
        """Every text of `value` cleaned and cut to `limit`, a test's output to `test_limit`."""
        if type(value) is str:
            return clean_text(value, limit)
        if type(value) in (list, tuple):
            value = list(value)
            if len(value) > LIST_TEXTS and all(type(v) is str for v in value):
                value = value[:LIST_TEXTS] + ['%d more left out by the grader' % (len(value) - LIST_TEXTS)]
            return [cut(v, limit, test_limit, in_test) for v in value]
        if type(value) is dict:
            return {k: cut(v, test_limit if in_test and k == 'output' else limit, test_limit, k == 'tests')
                    for k, v in value.items()}
        return value

    def size(doc: dict) -> int:
        return len(json.dumps(doc, indent=2, allow_nan=False))   # ASCII: characters are bytes

    fitted = cut(document, FIELD_CHARS, TEST_OUTPUT_CHARS)
    if size(fitted) <= max_bytes:
        return fitted
    low, high = 16, TEST_OUTPUT_CHARS   # the longest cut that fits, by bisection
    best = cut(fitted, low, low)
    while low < high:
        middle = (low + high + 1) // 2
        trial = cut(fitted, middle, middle)
        if size(trial) <= max_bytes:
            low, best = middle, trial
        else:
            high = middle - 1
    return best


def write_results(document: dict, path: Path) -> Path:
    """Write `document` to `path` atomically (`graders.files.write_atomic`), `bounded`."""
    return write_atomic(path, json.dumps(bounded(document), indent=2, allow_nan=False) + '\n')
