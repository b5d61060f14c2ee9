"""The class outputs rebuilt from status records: gradebook rows, Canvas columns, leaderboard."""
import json

import pandas as pd

from graders.classroom.gradebook import write_class_outputs
from graders.classroom.leaderboard import FULL, PUBLIC
from graders.engine.rubric import load_rubric


def record(student, label, status, score, questions, flags=(), leaderboard=(), **who):
    return {'student': student, 'label': label, 'part': int(label[-1]), 'status': status, 'message': '',
            'score': score, 'max_score': 13 if label == 'part1' else 16, 'questions': questions,
            'flags': list(flags), 'leaderboard': list(leaderboard), 'display': who.get('display', ''),
            'canvas_id': who.get('canvas_id', ''), 'sis_id': '', 'email': ''}


def test_one_row_per_student_with_review_flags_canvas_columns_and_the_leaderboard(tmp_path):
    records = [
        record('alice', 'part1', 'graded', 13.0, {'Q8.1': [3, 3], 'Q8.2': [3, 3], 'Q8.3': [5, 5], 'Q8.4': [2, 2]},
               display='Alice Smith', canvas_id='12345'),
        record('alice', 'part2', 'graded', 14.0, {'Q8.5': [2, 2], 'Q8.8': [8, 10]},
               flags=['flagged for review: mymodel.log claims 0.95'],
               leaderboard=[{'name': PUBLIC, 'value': 0.8, 'order': 'desc'},
                            {'name': FULL, 'value': 0.81, 'order': 'desc'}]),
        record('bob', 'part2', 'timeout', 0.0, {}),
    ]
    for r in records:
        folder = tmp_path / r['student'] / r['label']
        folder.mkdir(parents=True)
        (folder / 'status.json').write_text(json.dumps(r))
    write_class_outputs(tmp_path, load_rubric())
    book = pd.read_csv(tmp_path / 'gradebook.csv', keep_default_na=False).set_index('student')
    assert list(book.index) == ['alice', 'bob']
    assert float(book.loc['alice', 'total']) == 27.0 and book.loc['alice', 'Q8.8'] == 8
    assert book.loc['alice', 'review'] == 'part2: flagged for review: mymodel.log claims 0.95'
    assert (book.loc['bob', 'part1 status'], book.loc['bob', 'part2 status']) == ('missing', 'timeout')
    # A part the grader did not finish is no grade: the row is flagged and carries no total to Canvas.
    assert book.loc['bob', 'total'] == '' and book.loc['bob', 'review'].startswith('part2: TIMEOUT, not a grade')
    canvas = pd.read_csv(tmp_path / 'canvas.csv', keep_default_na=False, dtype=str)
    assert canvas.iloc[0].to_dict() == {'Student': 'Alice Smith', 'ID': '12345', 'SIS User ID': '',
                                        'SIS Login ID': '', 'Section': '', 'HW1 Q8': '27.0'}
    assert canvas.iloc[1]['HW1 Q8'] == ''
    board = pd.read_csv(tmp_path / 'leaderboard.csv', keep_default_na=False)
    assert list(board['name']) == ['alice', 'bob'] and board.loc[0, 'rank'] == '1'
    assert 'timeout' in (tmp_path / 'index.html').read_text()
