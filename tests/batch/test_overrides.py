"""OUT/overrides.csv: applied to the gradebook, canvas.csv and the reports with the machine's verdict beside
them, re-applied on every rebuild, unapplicable rows reported, malformed files refused naming each line."""
import json

import pandas as pd
import pytest

from graders.classroom import overrides
from graders.classroom.batch import run_batch
from graders.classroom.gradebook import write_class_outputs
from graders.cli import main
from graders.engine.rubric import load_rubric
from tests.helpers import CONV, check, write_status

HEADER = 'student,check,points,reason,who\n'


def small_class(out):
    """alice: Q8.1 passed, conv_backward_naive 0.4 of 1; bob: the same, and a Part 2 grader error."""
    for student in ('alice', 'bob'):
        write_status(out, student, 'part1', checks=[check('Q8.1/test_loss', score=1.5, max_score=1.5),
                                                    check(CONV, 'failed', 0.4, 1.0, 'pad 0: relative error 0.3')])
    write_status(out, 'bob', 'part2', status='grader-error', message='sandbox unavailable')
    return out


def book_of(out):
    return pd.read_csv(out / 'gradebook.csv', keep_default_na=False, dtype=str).set_index('student')


def test_overrides_apply_everywhere_beside_the_machine_verdict_and_survive_a_regrade(tmp_path, capsys):
    out = small_class(tmp_path)
    (out / 'overrides.csv').write_text(HEADER
                                       + 'alice,Q8.3/conv_backward_naive,full,"pad 0: her padding is right, see #41",'
                                       'TA Kim\n'
                                       'bob,Q8.1,0,copied softmax (honor code case 7),Prof. Lee\n')
    assert main(['gradebook', str(out)]) == 0
    assert '2 applied, 0 not applied' in capsys.readouterr().out
    book = book_of(out)
    assert (book.loc['alice', 'Q8.3'], book.loc['alice', 'total'], book.loc['alice', 'machine total']) == \
        ('1.0', '2.5', '1.9')
    assert book.loc['alice', 'overrides'] == \
        'Q8.3/test_conv_backward_naive 0.4 -> 1 of 1 (pad 0: her padding is right, see #41; TA Kim)'
    assert (book.loc['bob', 'Q8.1'], book.loc['bob', 'total'], book.loc['bob', 'machine total']) == ('0.0', '', '')
    canvas = pd.read_csv(out / 'canvas.csv', keep_default_na=False, dtype=str)
    assert list(canvas['HW1 Q8']) == ['2.5', '']   # bob's Part 2 is no grade: no total exported
    report = (out / 'alice' / 'part1' / 'report.html').read_text()
    assert report.count(overrides.BEGIN) == 1 and 'Staff overrides' in report
    assert '<td>failed</td><td class="num">0.4 / 1</td><td class="num"><b>1</b></td>' in report
    assert 'after the overrides: <b>2.5 / 13</b> (the grader\'s: 1.9)' in report
    assert overrides.BEGIN in (out / 'bob' / 'part1' / 'report.html').read_text()
    assert 'Q8.3/test_conv_backward_naive' in (out / 'index.html').read_text()

    # A regrade rewrites alice's status and report (the machine's verdict, no override in it): the
    # next rebuild applies the override again, once.
    write_status(out, 'alice', 'part1', checks=[check('Q8.1/test_loss', score=0.0, max_score=1.5, status='failed',
                                                      message='loss wrong'),
                                                check(CONV, 'failed', 0.2, 1.0, 'pad 0: relative error 0.3')])
    for _ in range(2):
        write_class_outputs(out, load_rubric(), log=lambda line: None)
    assert (book_of(out).loc['alice', 'total'], book_of(out).loc['alice', 'machine total']) == ('1.0', '0.2')
    assert (out / 'alice' / 'part1' / 'report.html').read_text().count(overrides.BEGIN) == 1

    # An override taken out of the file leaves no trace in the report.
    (out / 'overrides.csv').write_text(HEADER + 'bob,Q8.1,0,copied softmax (honor code case 7),Prof. Lee\n')
    write_class_outputs(out, load_rubric(), log=lambda line: None)
    assert overrides.BEGIN not in (out / 'alice' / 'part1' / 'report.html').read_text()
    assert book_of(out).loc['alice', 'total'] == '0.2'


def test_rows_that_cannot_be_applied_are_reported_never_dropped(tmp_path, capsys):
    out = small_class(tmp_path)
    (out / 'overrides.csv').write_text(
        HEADER + 'alice,Q8.3/test_conv_forward_naive,1,its check was removed,TA\n'
        'alcie,Q8.1,3,typo in the name,TA\n'
        'bob,Q8.5,2,part 2 failed on our machine,TA\n'
        'alice,Q8.3/test_conv_backward_naive,1.5,more than it is worth,TA\n'
        'bob,Q8.2,2,no part... yes there is,TA\n')
    assert main(['gradebook', str(out)]) == 1
    printed = capsys.readouterr().out
    assert '1 applied, 4 not applied' in printed
    assert "line 2 (alice, Q8.3/test_conv_forward_naive) not applied: Q8.3/test_conv_forward_naive is not a check " \
           "of this grade (it no longer exists, or did not run): Q8.3's checks are " \
           "Q8.3/test_conv_backward_naive" in printed
    assert "no student 'alcie' in this batch (did you mean 'alice'?)" in printed
    assert 'part2 is not a grade (grader-error): regrade it first' in printed
    assert 'more than the check is worth (1)' in printed
    book = book_of(out)
    assert book.loc['alice', 'total'] == '1.9' and 'line 2 (alice' in book.loc['alice', 'review']
    assert book.loc['bob', 'review'].startswith('overrides.csv line 4 (bob, Q8.5) not applied')
    page = (out / 'index.html').read_text()
    assert page.count('<li>overrides.csv line') == 4 and 'Not applied' in page
    assert 'line 2 (alice' in (out / 'alice' / 'part1' / 'report.html').read_text()


def test_a_malformed_file_is_refused_naming_each_line_before_anything_is_written(tmp_path, capsys):
    out = small_class(tmp_path)
    (out / 'overrides.csv').write_text(
        '# regrades, fall 2019\n' + HEADER
        + 'alice,Q8.3/conv_backward_naive,1,ok,TA\n'        # line 3
        + 'bob,Q8.1,three,why,TA\n'                          # 4: not a number
        + 'bob,Q8.1,1,a reason, with a comma,TA\n'           # 5: six fields
        + 'bob,Q8.9,1,why,TA\n'                              # 6: no such question
        + 'alice,Q8.3/test_conv_backward_naive,1,again,TA\n'  # 7: the same item twice
        + 'bob,Q8.2,1,,TA\n'                                 # 8: no reason
        + 'alice,Q8.3,4,whole question,TA\n'                 # 9: its check is overridden on line 3
        + 'bob,Q8.1,-1,take one off,TA\n'                    # 10: negative
        + 'bob,Q8.1,4,more than the question,TA\n')          # 11: above Q8.1's 3 points
    assert main(['gradebook', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('hw1grade: error: ') and '8 malformed rows' in err
    for line, words in [(4, "points 'three' is not a number"), (5, '6 fields, expected 5'),
                        (6, 'Q8.9 is not a question of the rubric'), (7, 'already overridden on line 3'),
                        (8, 'no reason'), (9, 'its check Q8.3/test_conv_backward_naive on line 3: keep one'),
                        (10, 'negative'),
                        (11, "more than Q8.1 is worth (3)")]:
        assert f'line {line}: ' in err and words in err, (line, words)
    assert not (out / 'gradebook.csv').exists() and not (out / 'index.html').exists()
    (out / 'overrides.csv').write_text('student,item,points\nalice,Q8.1,1\n')
    with pytest.raises(overrides.OverridesError,
                       match='line 1: the header must name the columns student, check, '
                             'points, reason, who .*missing: check, reason, who; unknown: item'):
        write_class_outputs(out, load_rubric())
    # batch reads it before grading anything
    with pytest.raises(overrides.OverridesError):
        run_batch(tmp_path / 'nothing', out, log=lambda line: None)


def test_the_check_ids_are_the_ones_status_json_keeps(tmp_path):
    """The id a TA copies from the report or the dashboard is the one overrides.csv is matched against."""
    from graders.classroom.records import check_entries, read_part
    from graders.engine.plugin import CheckResult
    from graders.engine.results import ScoredCheck
    result = CheckResult('test_conv_backward_naive', 'conv backward', 'Q8.3', 1.0, False, message='bad',
                         measured={'claimed test accuracy': 0.5, 'x': float('nan')})
    entries = check_entries([ScoredCheck(result, '8.3.6', 0.0, 1.25)])
    part = read_part({'student': 'a', 'label': 'part1', 'part': 1, 'status': 'graded', 'checks': entries})
    assert part.check(CONV).max_score == 1.25 and part.check(CONV).measured == {'claimed test accuracy': 0.5}
    assert json.loads(json.dumps(entries)) == entries
    from graders.engine.graded import Graded
    from graders.engine.report import html_report
    graded = Graded('a.zip', 1, load_rubric(), [ScoredCheck(result, '8.3.6', 0.0, 1.25)], 1.0)
    assert f'<code class="id">{CONV}</code>' in html_report(graded)
