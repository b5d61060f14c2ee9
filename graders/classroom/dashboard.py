"""The class dashboard: OUT/index.html, what a TA reads after `hw1grade batch` (or `hw1grade gradebook`).

One static page, built here from the status files alone (graders/classroom/records.py) and the
gradebook (overrides applied, graders/classroom/overrides.py): no server, no script, no file fetched
from anywhere (charts are inline SVG), so it opens offline from a copied folder. From the top:

- status counts per part (graded, invalid, grader-error, timeout, crash: graders/engine/outcome.py
  Status; missing: never submitted), as numbers and one stacked bar;
- overrides: each one applied (the grader's points beside the override), and, in red, each row of
  overrides.csv that could not be applied;
- a score histogram per question (the points after overrides, over the students whose part is a grade);
- the checks that failed most: how many students, one example message (with whose it is);
- failure messages grouped by template: numbers, shapes, quoted names and paths are replaced by
  placeholders, so one bug seen by 37 students is one line with 37 beside it; a message with one line per
  failed case (graders/engine/checks.py Cases) counts each case line on its own;
- claimed vs measured accuracies as a scatter plot: Part 2's logs (the accuracy the log claims against
  the grader's own training run, graders/part2/deliverables.py) and the notebooks (what the submitted
  notebook printed against the grader's run of it, graders/notebooks/grading.py); points above the
  diagonal claim more than was measured;
- the challenge leaderboard (top rows; all of it in leaderboard.html);
- every student with links to their reports, totals (and the grader's total where overridden), review flags.

Everything a submission may have sent (messages, names) is HTML-escaped; numbers are formatted here.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from graders.classroom.records import CLAIMED, FLAG, GRADERS, MISSING, PartRecord
from graders.engine.outcome import Status

PARTS = ('part1', 'part2')
STATUS_ORDER = (*(str(s) for s in Status), MISSING)
STATUS_COLOURS = {Status.GRADED: '#2e7d32', Status.INVALID: '#f9a825', Status.GRADER_ERROR: '#c62828',
                  Status.TIMEOUT: '#6a1b9a', Status.CRASH: '#ad1457', MISSING: '#9e9e9e'}
TOP_CHECKS, TOP_TEMPLATES, NAMES_SHOWN, LEADERBOARD_ROWS = 25, 40, 8, 15
TEMPLATE_CHARS, EXAMPLE_CHARS = 240, 600
SERIES_COLOURS = ('#1565c0', '#ef6c00', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#5d4037', '#ad1457',
                  '#455a64', '#827717')

e = html.escape


# ---- failure templates ------------------------------------------------------------------------

_PATTERNS = [
    (re.compile(r'(?:[A-Za-z]:)?(?:[\w.~-]*/)+[\w.-]+'), '<path>'),                 # a/b/c.py, /tmp/x
    (re.compile(r'0x[0-9a-fA-F]+'), '<hex>'),
    (re.compile(r"'[^'\n]{1,80}'|\"[^\"\n]{1,80}\""), "'<name>'"),                  # quoted names and values
    (re.compile(r'[(\[]\s*-?\d+(?:\s*,\s*-?\d+)*\s*,?\s*[)\]]'), '<shape>'),         # (2, 3, 5, 5), (37,), [1, 2]
    # 3.1e-01, -0.5, 1000, not inside a name (cs231n, conv2d)
    (re.compile(r'(?<![\w.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)[eE][-+]?\d+|\d*\.\d+|\d{3,})(?!\w|\.\d)'), '<x>'),
]


def templates(message: str) -> list[str]:
    """The templates of one failure message: each failed case's line when the message lists cases
    ('- ...' lines), else its first line; numbers with a point or three digits or more, shapes, quoted
    names and paths replaced (small integers stay: `stride 2, pad 0` tells cases apart)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    cases = [line[2:] for line in lines if line.startswith('- ')]
    chosen = cases or lines[:1]
    result = []
    for line in chosen:
        text = line[:TEMPLATE_CHARS * 2]
        for pattern, placeholder in _PATTERNS:
            text = pattern.sub(placeholder, text)
        result.append(text[:TEMPLATE_CHARS])
    return list(dict.fromkeys(result))


# ---- charts (inline SVG) ----------------------------------------------------------------------

def _svg(width: int, height: int, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">{body}</svg>')


def histogram(values: list[float], maximum: float, title: str, bins: int = 10) -> str:
    """Students per score bin from 0 to `maximum` (the last bin holds full marks)."""
    width, height, left, bottom, top = 260, 150, 28, 22, 8
    counts = [0] * bins
    for v in values:
        index = bins - 1 if maximum <= 0 else min(bins - 1, max(0, int(v / maximum * bins)))
        counts[index] += 1
    peak = max(counts) or 1
    bar = (width - left - 6) / bins
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" stroke="#555"/>']
    for i, count in enumerate(counts):
        h = (height - bottom - top) * count / peak
        x = left + i * bar
        lo, hi = maximum * i / bins, maximum * (i + 1) / bins
        body.append(f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                    f'fill="#1565c0"><title>{count} student{"s" * (count != 1)}: {lo:.3g} to {hi:.3g} points'
                    '</title></rect>')
        if count:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom - h - 2:.1f}" font-size="9" '
                        f'text-anchor="middle">{count}</text>')
    body.append(f'<text x="{left}" y="{height - 6}" font-size="10">0</text>'
                f'<text x="{width - 4}" y="{height - 6}" font-size="10" text-anchor="end">{maximum:g}</text>'
                f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{peak}</text>')
    return _svg(width, height, ''.join(body), title)


def status_bar(counts: dict[str, int], width: int = 420) -> str:
    total = sum(counts.values()) or 1
    x, body = 0.0, []
    for status in STATUS_ORDER:
        n = counts.get(status, 0)
        if not n:
            continue
        w = width * n / total
        body.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{STATUS_COLOURS[status]}">'
                    f'<title>{status}: {n}</title></rect>')
        x += w
    return _svg(width, 18, ''.join(body), 'submissions by status')


@dataclass(frozen=True)
class Point:
    claimed: float
    measured: float
    series: str
    student: str
    flagged: bool = False


def scatter(points: list[Point]) -> str:
    """Claimed (y) against measured (x) accuracy, 0 to 1, with the diagonal; one colour per series."""
    size, pad, legend_w = 360, 36, 230
    series = sorted({p.series for p in points})
    colour = {s: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, s in enumerate(series)}
    inner = size - 2 * pad

    def xy(measured: float, claimed: float) -> tuple[float, float]:
        return pad + inner * min(1.0, max(0.0, measured)), size - pad - inner * min(1.0, max(0.0, claimed))

    body = [f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="#fafafa" stroke="#999"/>',
            f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#999" stroke-dasharray="4 3"/>']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x, y = xy(tick, tick)
        body.append(f'<text x="{x:.1f}" y="{size - pad + 14}" font-size="10" text-anchor="middle">{tick:g}</text>'
                    f'<text x="{pad - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
    body.append(f'<text x="{size / 2}" y="{size - 4}" font-size="11" text-anchor="middle">measured by the grader</text>'
                f'<text x="12" y="{size / 2}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 12 {size / 2})">claimed by the submission</text>')
    for p in points:
        x, y = xy(p.measured, p.claimed)
        stroke = ' stroke="#000" stroke-width="1.5"' if p.flagged else ''
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{5 if p.flagged else 3.5}" fill="{colour[p.series]}" '
                    f'fill-opacity="0.75"{stroke}><title>{e(p.student)}, {e(p.series)}: claimed {p.claimed:.3f}, '
                    f'measured {p.measured:.3f}{" (flagged)" if p.flagged else ""}</title></circle>')
    for i, s in enumerate(series):
        y = pad + 14 * i
        count = sum(1 for p in points if p.series == s)
        body.append(f'<circle cx="{size + 8}" cy="{y}" r="4" fill="{colour[s]}"/>'
                    f'<text x="{size + 16}" y="{y + 4}" font-size="11">{e(s)} ({count})</text>')
    return _svg(size + legend_w, size, ''.join(body), 'claimed against measured accuracy')


# ---- what the page shows ----------------------------------------------------------------------

def claim_points(parts: list[PartRecord]) -> list[Point]:
    points = []
    for part in parts:
        for check in part.checks:
            claimed, measured = check.measured.get(CLAIMED), check.measured.get(GRADERS)
            if isinstance(claimed, (int, float)) and isinstance(measured, (int, float)):
                model = check.id.split('/', 1)[0]
                points.append(Point(float(claimed), float(measured), f'{model} log (Part 2)', part.student,
                                    FLAG in check.measured))
        for nb in part.notebooks:
            for kind, claimed in nb.claimed.items():
                measured = nb.measured.get(kind)
                if isinstance(claimed, (int, float)) and isinstance(measured, (int, float)):
                    points.append(Point(float(claimed), float(measured), f'{nb.name} {kind}', part.student,
                                        # graders/notebooks/grading.py writes 'claimed <kind> accuracy ...'
                                        any(str(flag).startswith(f'claimed {kind} ') for flag in nb.flags)))
    return points


@dataclass
class FailedCheck:
    id: str
    title: str
    students: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    example: tuple = ('', '')       # (student, message)
    graded: int = 0                 # students whose grade ran this check


def failed_checks(parts: list[PartRecord]) -> list[FailedCheck]:
    """Checks by the number of students who did not pass them (a grader error's checks left out: not theirs)."""
    table: dict[str, FailedCheck] = {}
    for part in parts:
        if part.status != Status.GRADED:
            continue
        for check in part.checks:
            entry = table.setdefault(check.id, FailedCheck(check.id, check.title))
            entry.graded += 1
            if check.passed or check.status == 'grader-error':
                continue
            entry.students.append(part.student)
            entry.statuses[check.status] += 1
            if not entry.example[1] and check.message:
                entry.example = (part.student, check.message)
    ranked = [c for c in table.values() if c.students]
    return sorted(ranked, key=lambda c: (-len(c.students), c.id))


def failure_groups(parts: list[PartRecord]) -> list[tuple[str, str, list[str], tuple[str, str]]]:
    """(check id, template, students, (student, example message)), most students first."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    for part in parts:
        if part.status != Status.GRADED:
            continue
        for check in part.checks:
            if check.passed or check.status == 'grader-error' or not check.message:
                continue
            for template in templates(check.message):
                key = (check.id, template)
                if part.student not in groups[key]:
                    groups[key].append(part.student)
                examples.setdefault(key, (part.student, check.message))
    return sorted(((k[0], k[1], students, examples[k]) for k, students in groups.items()),
                  key=lambda g: (-len(g[2]), g[0], g[1]))


def _names(students: list[str], label: str = '') -> str:
    links = [f'<a href="#student-{e(s)}">{e(s)}</a>' for s in students[:NAMES_SHOWN]]
    more = len(students) - NAMES_SHOWN
    return ', '.join(links) + (f' and {more} more' if more > 0 else '')


_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:80em}
h2{margin-top:1.6em;border-bottom:1px solid #ccc}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
.num{text-align:right;white-space:nowrap}.fail{color:#b00020}.muted{color:#666}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid figure{margin:0}figcaption{font-size:.9em}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.3em .5em;margin:.2em 0;max-width:60em;font-size:.85em}
.chip{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em}
.problems{border:2px solid #b00020;padding:.3em 1em;background:#fff5f5}"""


def render(parts: list[PartRecord], book, standings, overrides, rubric, *, similarity: bool = False,
           has_overrides_file: bool = False) -> str:
    """The page. `book`: the gradebook with its override columns (graders/classroom/overrides.py
    gradebook_columns); `standings`: the ranked leaderboard; `overrides`: overrides.Outcome."""
    students = list(book['student'])
    out = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HW1 Q8 class dashboard</title>'
           f'<style>{_STYLE}</style></head><body>',
           '<h1>HW1 Q8 class dashboard</h1>',
           '<p><a href="gradebook.csv">gradebook.csv</a> · <a href="canvas.csv">canvas.csv</a> · '
           '<a href="gradescope_scores.csv">gradescope_scores.csv</a> · '
           '<a href="leaderboard.html">challenge leaderboard</a>'
           + (' · <a href="similarity.html">code similarity</a>' if similarity else '')
           + (' · <a href="overrides.csv">overrides.csv</a>' if has_overrides_file else '') + '</p>']

    # status counts
    counts = {label: Counter() for label in PARTS}
    for part in parts:
        counts.setdefault(part.label, Counter())[part.status] += 1
    for label in PARTS:
        counts[label][MISSING] = len(students) - sum(counts[label].values())
    out.append(f'<h2 id="status">Submissions</h2><p>{len(students)} students.</p><table><tr><th>part</th>'
               + ''.join(f'<th class="num"><span class="chip" style="background:{STATUS_COLOURS[s]}"></span>'
                         f'{e(s)}</th>' for s in STATUS_ORDER) + '<th></th></tr>')
    for label in PARTS:
        out.append(f'<tr><td>{label}</td>' + ''.join(f'<td class="num">{counts[label].get(s, 0)}</td>'
                                                     for s in STATUS_ORDER)
                   + f'<td>{status_bar(counts[label])}</td></tr>')
    out.append('</table><p class="muted">grader-error, timeout and crash are not grades: no total is '
               'exported for them; regrade them (hw1grade batch --force, or after fixing the machine).</p>')

    # overrides
    if overrides.applied or overrides.unapplied:
        out.append(f'<h2 id="overrides">Overrides</h2><p>{len(overrides.applied)} applied from overrides.csv '
                   '(the grader\'s verdict stays in each report, beside the override).</p>')
        if overrides.unapplied:
            out.append('<div class="problems"><p class="fail"><b>Not applied</b> (the grader\'s points stand):'
                       '</p><ul>' + ''.join(f'<li>{e(u.text)}</li>' for u in overrides.unapplied) + '</ul></div>')
        if overrides.applied:
            out.append('<table><tr><th>student</th><th>item</th><th>grader\'s verdict</th>'
                       '<th class="num">grader\'s points</th><th class="num">override</th><th>reason</th>'
                       '<th>by</th></tr>')
            for a in overrides.applied:
                o = a.override
                out.append(f'<tr><td><a href="{e(o.student)}/{a.label}/report.html">{e(o.student)}</a></td>'
                           f'<td>{e(o.item)}</td><td>{e(a.machine_status)}</td>'
                           f'<td class="num">{a.machine_points:g} / {a.possible:g}</td>'
                           f'<td class="num"><b>{a.points:g}</b></td><td>{e(o.reason)}</td><td>{e(o.who)}</td></tr>')
            out.append('</table>')

    # histograms
    out.append('<h2 id="questions">Scores per question</h2><p class="muted">Points after overrides, over the '
               'students whose part is a grade (graded or invalid).</p><div class="grid">')
    for label, part_no in (('part1', 1), ('part2', 2)):
        graded = book[book[f'{label} status'].isin([str(Status.GRADED), str(Status.INVALID)])]
        for question in rubric.for_part(part_no):
            values = [float(v) for v in graded[question.id]] if question.id in graded else []
            mean = f'mean {sum(values) / len(values):.2f}' if values else 'no grades'
            out.append(f'<figure>{histogram(values, question.points, question.id)}<figcaption><b>{e(question.id)}'
                       f'</b> {e(question.title)} ({question.points:g} points): {len(values)} students, {mean}'
                       '</figcaption></figure>')
    out.append('</div>')

    # checks failed most
    failing = failed_checks(parts)
    out.append('<h2 id="checks">Checks failed most</h2>')
    if failing:
        out.append('<table><tr><th class="num">students</th><th>check</th><th>example</th></tr>')
        for c in failing[:TOP_CHECKS]:
            kinds = ', '.join(f'{n} {s}' for s, n in c.statuses.items() if s != 'failed')
            who, message = c.example
            out.append(f'<tr><td class="num">{len(c.students)} of {c.graded}</td><td><b>{e(c.id)}</b><br>'
                       f'{e(c.title)}{"<br><span class=muted>" + e(kinds) + "</span>" if kinds else ""}</td>'
                       f'<td>{_names([who])}:<pre>{e(message[:EXAMPLE_CHARS])}</pre></td></tr>')
        out.append('</table>')
        if len(failing) > TOP_CHECKS:
            out.append(f'<p>{len(failing) - TOP_CHECKS} more checks failed for some students.</p>')
    else:
        out.append('<p>No check failed in any graded submission.</p>')

    # failure templates
    groups = failure_groups(parts)
    out.append('<h2 id="messages">Failure messages by template</h2><p class="muted">Numbers, shapes, quoted '
               'names and paths replaced by placeholders; a message listing failed cases counts each case.</p>')
    if groups:
        out.append('<table><tr><th class="num">students</th><th>check: template</th><th>who</th></tr>')
        for check, template, who, (example_student, example) in groups[:TOP_TEMPLATES]:
            out.append(f'<tr><td class="num"><b>{len(who)}</b></td><td><b>{e(check)}</b>: {e(template)}'
                       f'<details><summary>example ({e(example_student)})</summary><pre>{e(example[:EXAMPLE_CHARS])}'
                       f'</pre></details></td><td>{_names(who)}</td></tr>')
        out.append('</table>')
        if len(groups) > TOP_TEMPLATES:
            out.append(f'<p>{len(groups) - TOP_TEMPLATES} more templates, each seen by fewer students.</p>')
    else:
        out.append('<p>No failure messages.</p>')

    # claimed vs measured
    points = claim_points(parts)
    out.append('<h2 id="claims">Claimed vs measured accuracy</h2>')
    if points:
        flagged = sum(p.flagged for p in points)
        out.append(f'<p>{len(points)} claims, {flagged} flagged for review (outlined). Above the diagonal: the '
                   'submission claims more than the grader measured (Part 2: the grader trains briefly, so its '
                   'figure is lower; the review column says when the gap cannot come from that).</p>'
                   + scatter(points))
    else:
        out.append('<p>No claimed accuracy with a measurement beside it (the Part 2 log checks and the '
                   'notebooks record them).</p>')

    # leaderboard
    out.append('<h2 id="leaderboard">Challenge leaderboard</h2>')
    ranked = [s for s in standings if s.rank is not None]
    if ranked:
        out.append('<table><tr><th class="num">rank</th><th>student</th><th class="num">all images</th>'
                   '<th class="num">public 10%</th></tr>')
        for s in ranked[:LEADERBOARD_ROWS]:
            public = '' if s.public is None else f'{s.public:.4f}'
            out.append(f'<tr><td class="num">{s.rank}</td><td>{e(s.name)}</td><td class="num">{s.full:.4f}</td>'
                       f'<td class="num">{public}</td></tr>')
        out.append('</table>')
    out.append(f'<p>{len(ranked)} ranked, {len(standings) - len(ranked)} without a challenge accuracy; all in '
               '<a href="leaderboard.html">leaderboard.html</a>.</p>')

    # students
    out.append('<h2 id="students">Students</h2><table><tr><th>student</th><th>Part 1</th><th>Part 2</th>'
               '<th class="num">total</th><th>review</th><th>overrides</th></tr>')
    for row in book.to_dict('records'):
        cells = [f'<td id="student-{e(row["student"])}">{e(row["student"])}</td>']
        for label in PARTS:
            status, points = row[f'{label} status'], row[f'{label} points']
            cells.append(f'<td>{e(status)}</td>' if status == MISSING else
                         f'<td><a href="{e(row["student"])}/{label}/report.html">{points:g}</a> {e(status)}</td>')
        total, machine = row['total'], row.get('machine total', '')
        shown = '<b>not a grade</b>' if total == '' else f'{float(total):g}'
        if total != '' and machine != '' and not math.isclose(float(machine), float(total)):
            shown += f' <span class="muted">(grader: {float(machine):g})</span>'
        cells += [f'<td class="num">{shown}</td>', f'<td>{e(str(row["review"]))}</td>',
                  f'<td>{e(str(row.get("overrides", "")))}</td>']
        out.append('<tr>' + ''.join(cells) + '</tr>')
    out.append('</table></body></html>\n')
    return '\n'.join(out)
