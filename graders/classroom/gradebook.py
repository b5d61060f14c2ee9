"""The class's outputs of `hw1grade batch`, rebuilt from every OUT/<student>/<part>/status.json.

- `gradebook.csv`: one row per student: points per question, each part's total and status, the total,
  and `review` (what a TA should look at: claimed vs measured accuracy gaps, slow models, notebook flags).
  A part whose status is not a grade (`grader-error`, `crash`, `timeout`: graders/engine/outcome.py) flags the
  row first in `review` ("part1: GRADER-ERROR, not a grade: regrade (...)") and leaves its total (and
  canvas.csv's) empty, so that no import carries a score the student did not earn.
- `canvas.csv`: Canvas's gradebook import layout: `Student, ID, SIS User ID, SIS Login ID, Section`, then
  one assignment column holding the total (rename its header to Canvas's `<assignment> (<id>)` if the
  assignment already exists). ID is the Canvas user id of Canvas exports, SIS User ID the Gradescope sid.
- `index.html`: every student with links to their reports, and `leaderboard.html` (the challenge,
  ranked by graders/classroom/leaderboard.py from the accuracies each Part 2 grade recorded).

Built from the status files alone, so a batch that was killed and resumed gives the same gradebook.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from graders.classroom.leaderboard import FULL, PUBLIC, Standing, rank, write_csv, write_html
from graders.engine.outcome import NOT_A_GRADE
from graders.engine.rubric import Rubric

CANVAS_IDENTITY = ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section']
CANVAS_ASSIGNMENT = 'HW1 Q8'
PARTS = ('part1', 'part2')


def load_records(out: Path) -> list[dict]:
    """Every status.json under OUT/<student>/<part>/ (unreadable ones are left out)."""
    records = []
    for path in sorted(Path(out).glob('*/*/status.json')):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return records


def gradebook(records: list[dict], rubric: Rubric) -> pd.DataFrame:
    """One row per student; a part never submitted has status `missing` and zero points."""
    questions = [q.id for part in (1, 2) for q in rubric.for_part(part)]
    rows = {}
    for record in records:
        row = rows.setdefault(record['student'], {
            'student': record['student'], 'name': '', 'canvas_id': '', 'sis_id': '', 'email': '',
            **{q: 0.0 for q in questions}, **{f'{p} points': 0.0 for p in PARTS},
            **{f'{p} status': 'missing' for p in PARTS}, 'review': []})
        for field in ('canvas_id', 'sis_id', 'email'):
            row[field] = row[field] or record.get(field, '')
        row['name'] = row['name'] or record.get('display') or record['student']
        for question, (earned, _) in record['questions'].items():
            row[question] = earned
        row[f'{record["label"]} points'] = record['score']
        row[f'{record["label"]} status'] = record['status']
        row['review'] += [f'{record["label"]}: {flag}' for flag in record['flags']]
        if record['status'] in NOT_A_GRADE:   # the grader failed on it: no points are the student's
            row['review'].insert(0, f'{record["label"]}: {record["status"].upper()}, not a grade: regrade '
                                    f'({" ".join(str(record.get("message", "")).split())[:200]})')
            row['not a grade'] = True
    frame = pd.DataFrame(list(rows.values()), columns=[
        'student', 'name', 'canvas_id', 'sis_id', 'email', *questions, *(f'{p} points' for p in PARTS),
        'total', *(f'{p} status' for p in PARTS), 'review'])
    frame['total'] = frame[[f'{p} points' for p in PARTS]].sum(axis=1).round(2)
    # A row with a part the grader failed on has no total: an import into Canvas must not carry it.
    failed = [bool(rows[s].get('not a grade')) for s in frame['student']]
    frame['total'] = frame['total'].astype(object).where(~pd.Series(failed, index=frame.index), '')
    frame['review'] = frame['review'].map(lambda flags: '; '.join(flags) if isinstance(flags, list) else '')
    return frame.sort_values('student').reset_index(drop=True)


def canvas_layout(book: pd.DataFrame, assignment: str = CANVAS_ASSIGNMENT) -> pd.DataFrame:
    return pd.DataFrame({'Student': book['name'], 'ID': book['canvas_id'], 'SIS User ID': book['sis_id'],
                         'SIS Login ID': book['email'], 'Section': '', assignment: book['total']})


def standings(records: list[dict]) -> list[Standing]:
    """The challenge leaderboard from the accuracies the Part 2 grades recorded."""
    result = []
    for record in (r for r in records if r['label'] == 'part2'):
        values = {entry['name']: entry['value'] for entry in record.get('leaderboard', [])}
        problem = '' if FULL in values else (record['message'] or 'no challenge accuracy recorded')
        result.append(Standing(record['student'], values.get(PUBLIC), values.get(FULL), problem=problem))
    return rank(result)


def index_html(book: pd.DataFrame, similarity: bool = False) -> str:
    """The class's index; `similarity`: link similarity.html (hw1grade similarity wrote it into OUT)."""
    e = html.escape
    rows = []
    for row in book.itertuples(index=False):
        cells = [e(row.student)]
        for part in PARTS:
            status, points = getattr(row, f'{part}_status'), getattr(row, f'{part}_points')
            cells.append(e(status) if status == 'missing' else
                         f'<a href="{e(row.student)}/{part}/report.html">{points:g}</a> {e(status)}')
        cells += [f'{row.total:g}' if row.total != '' else '<b>not a grade</b>', e(row.review)]
        rows.append('<tr>' + ''.join(f'<td>{c}</td>' for c in cells) + '</tr>')
    return ('<!doctype html><meta charset="utf-8"><title>HW1 Q8 gradebook</title>'
            '<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}'
            'td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}</style>'
            '<h1>HW1 Q8 gradebook</h1><p><a href="gradebook.csv">gradebook.csv</a> · '
            '<a href="canvas.csv">canvas.csv</a> · <a href="leaderboard.html">challenge leaderboard</a>'
            + (' · <a href="similarity.html">code similarity</a>' if similarity else '') + '</p>'
            '<table><tr><th>student</th><th>Part 1</th><th>Part 2</th><th>total</th><th>review</th></tr>'
            + ''.join(rows) + '</table>\n')


def write_class_outputs(out: Path, rubric: Rubric) -> pd.DataFrame:
    """gradebook.csv, canvas.csv, index.html, leaderboard.csv/.html in `out`; returns the gradebook."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = load_records(out)
    book = gradebook(records, rubric)
    book.to_csv(out / 'gradebook.csv', index=False)
    canvas_layout(book).to_csv(out / 'canvas.csv', index=False)
    board = standings(records)
    write_csv(board, out / 'leaderboard.csv')
    write_html(board, out / 'leaderboard.html')
    renamed = book.rename(columns=lambda c: c.replace(' ', '_'))
    (out / 'index.html').write_text(index_html(renamed, similarity=(out / 'similarity.html').is_file()),
                                    encoding='utf-8')
    return book
