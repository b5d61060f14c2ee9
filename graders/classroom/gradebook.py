"""The class's outputs of `hw1grade batch`, rebuilt from every OUT/<student>/<part>/status.json.

- `gradebook.csv`: one row per student: points per question, each part's total and status, the total,
  and `review` (what a TA should look at: claimed vs measured accuracy gaps, slow models, notebook flags).
  A part whose status is not a grade (`grader-error`, `crash`, `timeout`: graders/engine/outcome.py) flags the
  row first in `review` ("part1: GRADER-ERROR, not a grade: regrade (...)") and leaves its total (and
  canvas.csv's) empty, so that no import carries a score the student did not earn.
- `canvas.csv`: Canvas's gradebook import layout: `Student, ID, SIS User ID, SIS Login ID, Section`, then
  one assignment column holding the total (rename its header to Canvas's `<assignment> (<id>)` if the
  assignment already exists). ID is the Canvas user id of Canvas exports, SIS User ID the Gradescope sid.
- `gradescope_scores.csv`: Gradescope's score upload (an assignment's Manage Scores -> Upload): `Name, SID,
  Email` (Gradescope matches a row to a student by Email or SID, the ones its submission_metadata.yml gave:
  graders/classroom/submissions.py), one column per question of the parts the class submitted (Q8.1 ...
  Q8.8) and `Total Score`. A row without email and sid is still written (Gradescope cannot match it: it is
  named in a warning); the questions of a part that is not a grade, and the total, are left empty.
- Every CSV cell a spreadsheet would read as a formula (a name starting with `=`, `+`, `-`, `@`, a tab or
  a carriage return: student-controlled text from an LMS export) is written with a leading `'`
  (spreadsheet_safe), so opening an export in Excel or LibreOffice runs nothing.
- `index.html`: the class dashboard (graders/classroom/dashboard.py): status counts, score histograms,
  the checks failed most, failure messages by template, claimed vs measured accuracies, overrides, the
  leaderboard, every student with links to their reports; and `leaderboard.html` (the challenge,
  ranked by graders/classroom/leaderboard.py from the accuracies each Part 2 grade recorded).
- Staff overrides (`OUT/overrides.csv`, graders/classroom/overrides.py) are applied to the points of all
  of these, with the machine's verdict kept beside them (`machine total`, `overrides`).

Built from the status files alone (and overrides.csv), so a batch that was killed and resumed gives the
same gradebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from graders.classroom import dashboard, overrides
from graders.classroom.leaderboard import FULL, PUBLIC, Standing, rank, write_csv, write_html
from graders.classroom.records import MISSING, read_part
from graders.engine.outcome import NOT_A_GRADE
from graders.engine.rubric import Rubric

CANVAS_IDENTITY = ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section']
CANVAS_ASSIGNMENT = 'HW1 Q8'
GRADESCOPE_SCORES = 'gradescope_scores.csv'
GRADESCOPE_TOTAL = 'Total Score'
# What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list).
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')
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
            **{f'{p} status': MISSING for p in PARTS}, 'review': []})
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


def gradescope_layout(book: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Gradescope's score upload: Name, SID, Email, the points (with overrides: the gradebook's) of each
    question of the parts someone submitted, Total Score. A part that is not a grade (NOT_A_GRADE) leaves
    its questions empty, as the gradebook leaves the total: no import carries a score the grader did not give."""
    present = [p for p in PARTS if (book[f'{p} status'] != MISSING).any()]
    layout = pd.DataFrame({'Name': book['name'], 'SID': book['sis_id'], 'Email': book['email']})
    for label in present:
        no_grade = book[f'{label} status'].isin(NOT_A_GRADE)
        for question in rubric.for_part(int(label[-1])):
            layout[question.id] = book[question.id].astype(float).round(2).astype(object).where(~no_grade, '')
    layout[GRADESCOPE_TOTAL] = book['total']
    return layout


def unmatched_in_gradescope(layout: pd.DataFrame) -> list[str]:
    """The names of rows Gradescope cannot match to a student: neither an email nor a sid."""
    blank = (layout['SID'].fillna('').astype(str).str.strip() == '') & \
        (layout['Email'].fillna('').astype(str).str.strip() == '')
    return list(layout.loc[blank, 'Name'])


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where each text cell that starts like a formula (FORMULA_STARTS) begins with `'`: names and
    emails come from LMS exports the students filled in, and `=HYPERLINK(...)` in a name must stay text
    when a TA opens the CSV. Numbers are left as they are."""
    return frame.map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)


def standings(records: list[dict]) -> list[Standing]:
    """The challenge leaderboard from the accuracies the Part 2 grades recorded."""
    result = []
    for record in (r for r in records if r['label'] == 'part2'):
        values = {entry['name']: entry['value'] for entry in record.get('leaderboard', [])}
        problem = '' if FULL in values else (record['message'] or 'no challenge accuracy recorded')
        result.append(Standing(record['student'], values.get(PUBLIC), values.get(FULL), problem=problem))
    return rank(result)


def build_class_outputs(out: Path, rubric: Rubric, log=print) -> tuple[pd.DataFrame, overrides.Outcome]:
    """gradebook.csv, canvas.csv, gradescope_scores.csv, index.html (the class dashboard,
    graders/classroom/dashboard.py), leaderboard.csv/.html in `out`, with OUT/overrides.csv applied
    (graders/classroom/overrides.py: a malformed file raises OverridesError before anything is written;
    each row that cannot be applied is logged, flagged in the dashboard and the review column). Returns the
    gradebook and the overrides' outcome."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    listed = overrides.read(out, rubric)
    records = load_records(out)
    amended = overrides.apply(records, listed, rubric)
    book = overrides.gradebook_columns(gradebook(amended.records, rubric), amended)
    spreadsheet_safe(book).to_csv(out / 'gradebook.csv', index=False)
    spreadsheet_safe(canvas_layout(book)).to_csv(out / 'canvas.csv', index=False)
    scores = gradescope_layout(book, rubric)
    spreadsheet_safe(scores).to_csv(out / GRADESCOPE_SCORES, index=False)
    unmatched = unmatched_in_gradescope(scores)
    if unmatched:
        log(f'warning: {GRADESCOPE_SCORES}: {len(unmatched)} of {len(scores)} students have no email or sid '
            f'(Gradescope cannot match their rows; enter them by hand): {", ".join(unmatched[:5])}'
            + (', ...' if len(unmatched) > 5 else ''))
    board = standings(records)
    write_csv(board, out / 'leaderboard.csv')
    write_html(board, out / 'leaderboard.html')
    overrides.refresh_reports(out, amended, records)
    for problem in amended.unapplied:
        log(f'warning: {problem.text}')
    page = dashboard.render([read_part(r) for r in records], book, board, amended, rubric,
                            similarity=(out / 'similarity.html').is_file(),
                            has_overrides_file=overrides.path_in(out).is_file())
    (out / 'index.html').write_text(page, encoding='utf-8')
    return book, amended


def write_class_outputs(out: Path, rubric: Rubric, log=print) -> pd.DataFrame:
    """build_class_outputs, returning the gradebook."""
    return build_class_outputs(out, rubric, log)[0]


def gradebook_command(args) -> int:
    """`hw1grade gradebook OUT`: the class outputs rebuilt from OUT's status files and OUT/overrides.csv;
    exit 1 when a row of overrides.csv could not be applied (each is printed)."""
    from graders.engine.rubric import load_rubric
    out = Path(args.out)
    if not any(out.glob('*/*/status.json')):
        raise FileNotFoundError(f'{out} holds no <student>/<part>/status.json: give the OUT of hw1grade batch')
    book, amended = build_class_outputs(out, load_rubric())
    print(f'{len(book)} students; overrides: {len(amended.applied)} applied, {len(amended.unapplied)} not '
          f'applied -> {out / "index.html"}')
    return 1 if amended.unapplied else 0


def add_gradebook_commands(subparsers) -> None:
    """`hw1grade gradebook OUT`."""
    parser = subparsers.add_parser(
        'gradebook', help="rebuild a batch's gradebook, exports and dashboard, applying OUT/overrides.csv",
        description='Rebuild gradebook.csv, canvas.csv, index.html (the class dashboard) and the leaderboard '
                    'of a batch from its status files, applying the staff overrides in OUT/overrides.csv '
                    '(columns student, check, points, reason, who). Nothing is graded. Exit 1 when a row '
                    'cannot be applied (each is printed), 2 when the file is malformed (the lines named).')
    parser.add_argument('out', metavar='OUT', help='the OUT folder of hw1grade batch')
    parser.set_defaults(handler=gradebook_command)
