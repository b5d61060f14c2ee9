"""results.json, the rubric's arithmetic and the reports, on check results made by hand."""
import json

import jsonschema
import pytest

from graders.engine.graded import Graded
from graders.engine.plugin import CheckResult
from graders.engine.report import html_report, terminal_table
from graders.engine.results import SCHEMA_FILE, build_results, question_totals, score_checks, write_results
from graders.engine.rubric import load_rubric, share_points

SCHEMA = json.loads(SCHEMA_FILE.read_text())


@pytest.fixture
def rubric():
    return load_rubric()


def checks(passed_layers=(True, False, True)):
    """Q8.1 all passed, Q8.3 three checks with weights 1, 2, 1 and the given outcomes."""
    made = [CheckResult('test_loss', 'loss', 'Q8.1', 1, False, True),
            CheckResult('test_cifar10_accuracy', 'accuracy', 'Q8.1', 1, True, True)]
    for i, (weight, ok) in enumerate(zip((1, 2, 1), passed_layers)):
        made.append(CheckResult(f'test_layer_{i}', f'layer {i}', 'Q8.3', weight, False, ok,
                                '' if ok else 'dx: relative error 3.1e-01 (allowed 1e-06)'))
    return made


def test_the_rubric_gives_part1_thirteen_points(rubric):
    assert rubric.total(1) == 13
    assert [q.id for q in rubric.for_part(1)] == ['Q8.1', 'Q8.2', 'Q8.3', 'Q8.4']


def test_points_are_shared_by_weight(rubric):
    shares = share_points(rubric.questions['Q8.3'], {'a': 1, 'b': 2, 'c': 1, 'd': 1})
    assert shares == pytest.approx({'a': 1, 'b': 2, 'c': 1, 'd': 1})
    assert sum(shares.values()) == pytest.approx(5)


def test_scores_give_partial_credit_within_a_question(rubric):
    scored = score_checks(rubric, checks())
    totals = question_totals(rubric, scored)
    assert totals['Q8.1'] == (3.0, 3.0)
    assert totals['Q8.3'] == (2.5, 5.0)
    assert [s.number for s in scored] == ['8.1.1', '8.1.2', '8.3.1', '8.3.2', '8.3.3']


def test_results_json_follows_the_gradescope_contract(rubric, tmp_path):
    scored = score_checks(rubric, checks())
    document = build_results(rubric, scored, seconds=12.3456, output='summary',
                             leaderboard=[{'name': 'accuracy', 'value': 0.88, 'order': 'desc'}])
    jsonschema.validate(document, SCHEMA)
    assert document['score'] == 5.5
    assert isinstance(document['execution_time'], float)
    failed = [t for t in document['tests'] if t['status'] == 'failed']
    assert len(failed) == 1 and failed[0]['score'] == 0 and failed[0]['max_score'] == 2.5
    assert 'relative error' in failed[0]['output']
    hidden = [t for t in document['tests'] if t['visibility'] == 'after_published']
    assert [t['number'] for t in hidden] == ['8.1.2']
    path = write_results(document, tmp_path / 'out' / 'results.json')
    assert json.loads(path.read_text()) == document
    assert [p.name for p in path.parent.iterdir()] == ['results.json']   # no temp file left behind


def test_the_schema_rejects_what_gradescope_rejects(rubric):
    document = build_results(rubric, score_checks(rubric, checks()), seconds=1.0, output='')
    for broken in ({**document, 'execution_time': '1.0'},
                   {**document, 'leaderboard': [{'name': 'a', 'value': 1, 'rank': 2}]},
                   {**document, 'tests': [{**document['tests'][0], 'status': 'error'}]},
                   {'output': 'no score and no tests'}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_reports_show_points_failures_and_notes(rubric):
    graded = Graded('alice/1_cs231n.zip', 1, rubric, score_checks(rubric, checks()), 42.0,
                    notes=['np.int used: legacy numpy alias shimmed to int'])
    table = terminal_table(graded)
    assert '5.5 / 13 points' in table and 'FAIL 8.3.2 layer 1' in table and 'relative error' in table
    assert 'Q8.2 Two-layer neural network' in table   # ungraded questions still show, at zero
    page = html_report(graded)
    assert '<b>5.5 / 13</b>' in page and 'np.int used' in page and 'relative error 3.1e-01' in page
    assert '<script' not in html_report(Graded('<script>x</script>.zip', 1, rubric, [], 0.0))
