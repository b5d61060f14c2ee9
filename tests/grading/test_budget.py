"""One wall-clock budget per part, and an import that timed out once is not waited for again
(graders/engine/budget.py, bridge.Worker._load), on a submission whose cs231n/layers.py sleeps ten minutes
at import time (fixtures/slow_import.py)."""
import dataclasses

import pytest

from fixtures.slow_import import SLOW_IMPORT, build_slow_import
from graders.engine.grade import grade
from graders.engine.outcome import CheckStatus, Status
from graders.engine.rubric import load_rubric
from tests.helpers import results_of

pytestmark = [pytest.mark.slow, pytest.mark.cifar]

CALL_TIMEOUT = 10.0
# Only the questions that import cs231n.layers, and the two before them as a control.
QUICK = dict(visible_only=True, notebooks=False, call_timeout=CALL_TIMEOUT)


@pytest.fixture(scope='module')
def slow_import(tmp_path_factory):
    return build_slow_import(tmp_path_factory.mktemp('slow') / '1_cs231n')


def by_name(graded):
    return {(s.check.question, s.check.name): s for s in graded.scored}


def test_a_slow_import_is_waited_for_once_and_fails_every_check_that_needs_it(slow_import, build_cache, tmp_path):
    graded = grade(slow_import, out_dir=tmp_path, build_cache=build_cache, **QUICK)
    assert graded.status is Status.GRADED
    checks = by_name(graded)
    for key, scored in checks.items():
        if key in SLOW_IMPORT.failing:
            assert scored.check.status is CheckStatus.FAILED and SLOW_IMPORT.says in scored.check.message, key
            assert 'cs231n.layers' in scored.check.message   # Q8.4's convnet too: it imports layers
        else:
            assert scored.check.passed, (key, scored.check.message)
    # One wait of CALL_TIMEOUT for the eight layer checks, not eight.
    assert sum(checks[key].check.seconds for key in SLOW_IMPORT.failing if key[0] == 'Q8.3') < 2 * CALL_TIMEOUT
    results_of(tmp_path)


def test_past_the_budget_the_items_left_fail_once_with_its_verdict_and_the_report_lists_them(slow_import, tmp_path):
    rubric = load_rubric()
    budget = 30
    rubric = dataclasses.replace(rubric, settings={**rubric.settings, 'budget': {'part1': budget}})
    graded = grade(slow_import, rubric=rubric, out_dir=tmp_path, **{**QUICK, 'call_timeout': 600})
    checks = by_name(graded)
    exhausted = [s for s in graded.scored if s.check.status is CheckStatus.BUDGET]
    # The import would have waited 600 s; the budget stopped it, and nothing after it waited.
    assert {key for key, s in checks.items() if s.check.status is CheckStatus.BUDGET} >= SLOW_IMPORT.failing
    assert all(s.check.passed or s in exhausted for s in graded.scored)
    assert all(s.check.message.startswith('grading budget exhausted') for s in exhausted)
    assert graded.seconds < budget + 60
    note = next(n for n in graded.notes if n.startswith('grading budget exhausted'))
    assert all(s.number in note for s in exhausted)
    document = results_of(tmp_path)
    assert note in document['output'] and graded.status is Status.GRADED
