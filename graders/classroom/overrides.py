"""Staff overrides of the grader's points: `OUT/overrides.csv`, applied on every rebuild of the class outputs.

A TA who decides, on a regrade request, that a check was wrong for one student writes one row:

    student,check,points,reason,who
    alice,Q8.3/test_conv_backward_naive,1.25,pad 0 case: her padding is correct (rubric bug #41),TA Kim
    bob,Q8.8,7,MyModel trained on the TA machine reaches 0.71 (log was cut by the upload),TA Lee

- `student`: the student as the batch names them (the folder under OUT, gradebook.csv's `student`).
- `check`: a check id, `Q8.3/test_conv_backward_naive` (the question, then the check's function name; the
  `test_` prefix may be left out; the report and the dashboard show each check's id), or a question,
  `Q8.3`. The part follows from the question.
- `points`: what the item is worth for this student from now on (not a difference): 0 up to the
  item's points, or `full` (all of the item's points in this grade: a check's share depends on which
  checks ran, so `full` is safer than copying a number). A question override replaces the question's
  total; a check override replaces that check's points and the question's total moves with it.
- `reason`, `who`: required; the reason is shown in the student's report.

Where it lives: `OUT/overrides.csv`, beside the status files it amends, and nowhere else: every command
that rebuilds the class outputs from OUT (`hw1grade batch`, `hw1grade gradebook`, `hw1grade similarity`
into OUT) reads the same file, so an override can never be applied by one and dropped by another.

Why applied at rebuild time, never written into status.json or results.json: those are the machine's
verdict, rewritten whenever a submission is regraded; an override kept apart is re-applied to the new
verdict on every run, and the machine's verdict stays visible beside it (gradebook.csv `machine total`
and `overrides`, the report's "Staff overrides" block, the dashboard).

Two kinds of problems, both reported, neither silent:
- malformed rows (`OverridesError`, a UserError): a header without the five columns, a wrong number of
  fields, an empty student/reason/who, an item that is neither a check id nor a question of the rubric,
  points that are not a number between 0 and the question's points, the same item twice, a question and
  one of its checks both overridden. Known from the file alone, so `batch` refuses to start and
  `gradebook` to write anything until they are fixed; the message names each line.
- rows that cannot be applied to this OUT (`Unapplied`): a student or part not in OUT, a check that is
  not (or no longer) in the student's grade, points above the check's, a part that is not a grade
  (grader error, timeout, crash: regrade it first). The machine's points stand for that item; the row
  is listed at the top of the dashboard, in the student's `review` column and report, and the
  `gradebook` command exits 1.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from graders.classroom.records import PartRecord, read_part
from graders.engine.outcome import NOT_A_GRADE, UserError
from graders.engine.rubric import Rubric
from graders.files import write_atomic

FILE = 'overrides.csv'
COLUMNS = ('student', 'check', 'points', 'reason', 'who')
MAX_BYTES = 2_000_000
_QUESTION = re.compile(r'^Q\d+(?:\.\d+)*$')
_CHECK = re.compile(r'^(?P<question>Q\d+(?:\.\d+)*)/(?P<name>[A-Za-z_][A-Za-z0-9_]*)$')
# The block of a report that shows the overrides (re-written on every run; the markers cannot come from
# a submission: every text of a report is HTML-escaped, so `<!--` never appears in what it sent).
BEGIN, END = '<!-- hw1grade:overrides -->', '<!-- /hw1grade:overrides -->'


class OverridesError(UserError):
    """overrides.csv has malformed rows; str() names the file and each line."""


@dataclass(frozen=True)
class Override:
    line: int
    student: str
    item: str             # 'Q8.3' or 'Q8.3/test_conv_backward_naive'
    question: str
    label: str            # the question's part: 'part1' | 'part2'
    points: float | None  # None: `full`, whatever the item is worth in this grade
    reason: str
    who: str

    @property
    def is_question(self) -> bool:
        return '/' not in self.item


@dataclass(frozen=True)
class Applied:
    """One override applied: the machine's verdict beside the override."""
    override: Override
    label: str            # 'part1' | 'part2'
    machine_points: float
    possible: float
    machine_status: str   # the check's status, or the question's 'earned/possible'
    points: float         # what the item is worth now

    @property
    def text(self) -> str:
        o = self.override
        return f'{o.item} {self.machine_points:g} -> {self.points:g} of {self.possible:g} ({o.reason}; {o.who})'


@dataclass(frozen=True)
class Unapplied:
    override: Override
    why: str

    @property
    def text(self) -> str:
        o = self.override
        return f'{FILE} line {o.line} ({o.student}, {o.item}) not applied: {self.why}'


@dataclass
class Outcome:
    """What applying overrides.csv to OUT's records gave."""
    records: list[dict]                        # the status records with the overridden points (gradebook input)
    applied: list[Applied] = field(default_factory=list)
    unapplied: list[Unapplied] = field(default_factory=list)
    machine: dict = field(default_factory=dict)   # (student, label) -> the machine's score

    def for_part(self, student: str, label: str) -> tuple[list[Applied], list[Unapplied]]:
        return ([a for a in self.applied if (a.override.student, a.label) == (student, label)],
                [u for u in self.unapplied if (u.override.student, u.override.label) == (student, label)])


# ---- reading ----------------------------------------------------------------------------------

def path_in(out: Path) -> Path:
    return Path(out) / FILE


def read(out: Path, rubric: Rubric) -> list[Override]:
    """The overrides of OUT/overrides.csv ([] when there is none); OverridesError on malformed rows."""
    path = path_in(out)
    if not path.is_file():
        return []
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise OverridesError(f'{path} is over {MAX_BYTES // 1_000_000} MB: not an overrides file')
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        raise OverridesError(f'{path}: not UTF-8 text (byte {err.start}); save it as CSV UTF-8') from None
    return parse(text, rubric, str(path))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(text: str, rubric: Rubric, name: str = FILE) -> list[Override]:
    """Every row of an overrides file; OverridesError naming every malformed line."""
    problems: list[str] = []
    overrides: list[Override] = []
    reader = csv.reader(io.StringIO(text, newline=''))
    header, line = None, 0
    while header is None:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return []
        except csv.Error as err:
            raise OverridesError(f'{name} line {line}: {err}') from None
        if any(cell.strip() for cell in row) and not row[0].lstrip().startswith('#'):
            header = [cell.strip().lower() for cell in row]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise OverridesError(
            f'{name} line {line}: the header must name the columns {", ".join(COLUMNS)} (in any order)'
            + (f'; missing: {", ".join(missing)}' if missing else '')
            + (f'; unknown: {", ".join(unknown)}' if unknown else ''))
    where = {column: header.index(column) for column in COLUMNS}
    first_line: dict[tuple[str, str], int] = {}
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            problems.append(f'line {line}: {err}')
            break
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith('#'):
            continue
        if len(row) != len(header):
            problems.append(f'line {line}: {len(row)} fields, expected {len(header)} ({", ".join(header)}); '
                            'put a reason that holds commas in double quotes')
            continue
        cell = {column: row[index].strip() for column, index in where.items()}
        why = []
        if not cell['student']:
            why.append('no student')
        item, question = cell['check'], ''
        check = _CHECK.match(item)
        if check:
            question = check['question']
            function = check['name'] if check['name'].startswith('test_') else f'test_{check["name"]}'
            item = f'{question}/{function}'
        elif _QUESTION.match(item):
            question = item
        else:
            why.append(f'check {item!r} is neither a check id (Q8.3/test_conv_backward_naive) nor a question (Q8.3)')
        if question and question not in rubric.questions:
            why.append(f'{question} is not a question of the rubric ({", ".join(rubric.questions)})')
            question = ''
        points = None   # `full`: all of the item's points in this grade, resolved when applied
        if cell['points'].lower() != 'full':
            points = _number(cell['points'])
            if points is None:
                why.append(f'points {cell["points"]!r} is not a number (nor `full`)')
            elif points < 0:
                why.append(f'points {points:g} is negative (points are what the item is worth now, not a deduction)')
            elif question and points > rubric.questions[question].points:
                why.append(f'points {points:g} is more than {question} is worth '
                           f'({rubric.questions[question].points:g})')
        if not cell['reason']:
            why.append('no reason (the student reads it in the report)')
        if not cell['who']:
            why.append('no who (the TA who decided)')
        if why:
            problems.append(f'line {line}: ' + '; '.join(why))
            continue
        key = (cell['student'], item)
        if key in first_line:
            problems.append(f'line {line}: {cell["student"]} {item} is already overridden on line {first_line[key]}')
            continue
        first_line[key] = line
        overrides.append(Override(line, cell['student'], item, question, f'part{rubric.questions[question].part}',
                                  points, cell['reason'], cell['who']))
    for o in overrides:   # a question and one of its checks: which one would count is not clear
        if o.is_question:
            for other in overrides:
                if other.student == o.student and not other.is_question and other.question == o.question:
                    problems.append(f'line {o.line}: {o.student} {o.question} is overridden as a whole and its '
                                    f'check {other.item} on line {other.line}: keep one of the two')
    if problems:
        raise OverridesError(f'{name}: {len(problems)} malformed row{"s" * (len(problems) > 1)}, nothing '
                             'applied until fixed: ' + ' | '.join(sorted(problems, key=_line_of)))
    return overrides


def _line_of(problem: str) -> int:
    return int(problem.split()[1].rstrip(':'))


# ---- applying ---------------------------------------------------------------------------------

def apply(records: list[dict], overrides: list[Override], rubric: Rubric) -> Outcome:
    """The records with the overridden points (the originals are not changed), and what was and was not
    applied. Points are rounded as question_totals rounds them."""
    parts = {(r.get('student'), r.get('label')): read_part(r) for r in records}
    result = Outcome(records=[], machine={key: part.score for key, part in parts.items()})
    changed: dict[tuple, dict] = {}
    for o in overrides:
        label = o.label
        part = parts.get((o.student, label))
        why = _why_not(o, part, label, {s for s, _ in parts})
        if why:
            result.unapplied.append(Unapplied(o, why))
            continue
        record = changed.setdefault((o.student, label), {**part.raw, 'questions': dict(part.questions)})
        earned, possible = record['questions'].get(o.question, (0.0, rubric.questions[o.question].points))
        if o.is_question:
            points = possible if o.points is None else o.points
            result.applied.append(Applied(o, label, earned, possible, f'{earned:g} / {possible:g}', points))
            record['questions'][o.question] = (round(points, 2), possible)
        else:
            check = part.check(o.item)
            points = check.max_score if o.points is None else o.points
            result.applied.append(Applied(o, label, check.score, check.max_score, check.status, points))
            record['questions'][o.question] = (round(earned - check.score + points, 2), possible)
    for key, record in changed.items():
        record['score'] = round(sum(earned for earned, _ in record['questions'].values()), 2)
        record['machine_score'] = parts[key].score
    result.records = [changed.get((r.get('student'), r.get('label')), r) for r in records]
    return result


def _why_not(o: Override, part: PartRecord | None, label: str, students: set) -> str:
    if part is None:
        if o.student not in students:
            near = get_close_matches(o.student, sorted(students), n=1)
            return f'no student {o.student!r} in this batch' + (f' (did you mean {near[0]!r}?)' if near else '')
        return f'{o.student} has no {label} in this batch'
    if part.status in NOT_A_GRADE:
        return f'{label} is not a grade ({part.status}): regrade it first, the override is applied then'
    if o.is_question:
        return ''
    if not part.has_checks:
        return f'{label} was graded by an older grader that did not keep its checks: regrade it (--force)'
    check = part.check(o.item)
    if check is None:
        ids = ', '.join(c.id for c in part.checks if c.question == o.question) or 'none'
        return (f'{o.item} is not a check of this grade (it no longer exists, or did not run): {o.question}\'s '
                f'checks are {ids}; override the question instead, or fix the id')
    if o.points is not None and o.points > check.max_score + 1e-9:
        return f'points {o.points:g} is more than the check is worth ({check.max_score:g})'
    return ''


# ---- showing ----------------------------------------------------------------------------------

def gradebook_columns(book, outcome: Outcome):
    """gradebook.csv with `machine total` beside `total` and `overrides` (machine -> override, reason,
    who) beside `review`; rows with an override that could not be applied say so in `review`."""
    book = book.copy()
    machine, notes, problems = [], [], []
    for row in book.itertuples(index=False):
        student = row.student
        applied = [a for a in outcome.applied if a.override.student == student]
        if row.total == '':
            machine.append('')
        else:
            delta = sum(outcome.machine.get((student, key), 0.0) for key in ('part1', 'part2')) - \
                sum(float(r.get('score', 0)) for r in outcome.records if r.get('student') == student)
            machine.append(round(float(row.total) + delta, 2))
        notes.append('; '.join(a.text for a in applied))
        problems.append([u.text for u in outcome.unapplied if u.override.student == student])
    book.insert(list(book.columns).index('total') + 1, 'machine total', machine)
    book['review'] = [('; '.join(p + ([r] if r else []))) for p, r in zip(problems, book['review'])]
    book.insert(list(book.columns).index('review') + 1, 'overrides', notes)
    return book


def report_block(applied: list[Applied], unapplied: list[Unapplied], machine: float, final: float,
                 possible: float) -> str:
    """The "Staff overrides" block of a report: the grader's verdict and the override side by side."""
    e = html.escape
    rows = ''.join(
        f'<tr><td>{e(a.override.item)}</td><td>{e(a.machine_status)}</td>'
        f'<td class="num">{a.machine_points:g} / {a.possible:g}</td><td class="num"><b>{a.points:g}</b></td>'
        f'<td>{e(a.override.reason)}</td><td>{e(a.override.who)}</td></tr>' for a in applied)
    parts = [BEGIN, '<section class="overrides" style="border:2px solid #1a5fb4;padding:.5em 1em;margin:1em 0">',
             '<h2>Staff overrides</h2>']
    if applied:
        parts.append(f'<p>Score after the overrides: <b>{final:g} / {possible:g}</b> (the grader\'s: '
                     f'{machine:g}). The checks below show the grader\'s own verdicts.</p>'
                     '<table><tr><th>item</th><th>grader\'s verdict</th><th>grader\'s points</th>'
                     f'<th>override</th><th>reason</th><th>by</th></tr>{rows}</table>')
    if unapplied:
        parts.append('<ul class="fail">' + ''.join(f'<li>{e(u.text)}</li>' for u in unapplied) + '</ul>')
    parts += ['</section>', END]
    return '\n'.join(parts)


def _strip_block(page: str) -> str:
    start = page.find(BEGIN)
    end = page.find(END, start)
    if start < 0 or end < 0:
        return page
    return page[:start].rstrip('\n') + '\n' + page[end + len(END):].lstrip('\n')


def refresh_reports(out: Path, outcome: Outcome, records: list[dict]) -> None:
    """Put the current overrides into each report they concern, and take them out of the others (an
    override deleted from the file leaves no trace). Reports are rewritten only when they change."""
    for record in records:
        student, label = record.get('student'), record.get('label')
        path = Path(out) / str(student) / str(label) / 'report.html'
        try:
            page = path.read_text(encoding='utf-8')
        except OSError:
            continue
        new = _strip_block(page)
        applied, unapplied = outcome.for_part(student, label)
        if applied or unapplied:
            final = next((r.get('score', 0.0) for r in outcome.records
                          if (r.get('student'), r.get('label')) == (student, label)), 0.0)
            block = report_block(applied, unapplied, outcome.machine.get((student, label), 0.0), final,
                                 float(record.get('max_score') or 0))
            cut = new.find('</h1>')
            at = cut + len('</h1>') if cut >= 0 else 0
            new = new[:at] + '\n' + block + '\n' + new[at:].lstrip('\n')
        if new != page:
            write_atomic(path, new)

