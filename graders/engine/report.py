"""What people read: the terminal table and the per-student HTML report.

Both are views of the same `Graded` outcome (graders/engine/graded.py) that results.json is built from;
nothing here decides a point.
"""

from __future__ import annotations

import html
from pathlib import Path

from graders.engine.graded import Graded
from graders.engine.pictures import bounded
from graders.engine.results import measured_text, question_totals
from graders.engine.untrusted import clean_text

# Submitted code can forge any message (graders/engine/untrusted.py): what is shown is cleaned of terminal
# escapes and control characters, and cut: the terminal table as a whole, each text of the report.
TABLE_CHARS = 200_000
REPORT_FIELD_CHARS = 20_000
# Pictures (graders/engine/pictures.py: thumbnails encoded here from pixels the sandbox decoded, charts of
# the grader's runs) embedded in one report at most, in number and in bytes; the rest are counted.
REPORT_PICTURES, REPORT_PICTURE_BYTES = 40, 3_000_000


def terminal_table(graded: Graded, *, show_passed: bool = False) -> str:
    """Points per question, then each failing check with its message (what to fix)."""
    points = (f'{graded.score:g} / {graded.max_score:g} points' if graded.is_grade else
              f'NOT GRADED ({graded.status}): no score')
    lines = [f'{graded.source}: Part {graded.part}, {points} ({graded.seconds:.0f} s)']
    if graded.isolation:
        lines.append(f'  sandbox isolation: {graded.isolation}')
    if graded.verdict:
        lines.append(f'  {graded.verdict}')
    totals = question_totals(graded.rubric, graded.scored)
    for question in graded.rubric.for_part(graded.part) if graded.is_grade else ():   # no points shown
        earned, possible = totals.get(question.id, (0.0, question.points))
        lines.append(f'  {question.id} {question.title:<28} {earned:>5.2f} / {possible:g}')
        for s in graded.scored:
            if s.check.question != question.id or (s.check.passed and not show_passed and not s.check.measured):
                continue
            mark = 'ok  ' if s.check.passed else 'FAIL'
            lines.append(f'    {mark} {s.number} {s.check.title}{measured_text(s.check)}')
            if not s.check.passed:
                lines.extend(f'         {line}' for line in s.check.message.splitlines()[:6])
    if graded.notebooks:
        lines.append('  notebooks (executed in the sandbox for the report; no points):')
        for nb in graded.notebooks:
            figures = '; '.join(f'{k} {nb[k]}' for k in ('claimed', 'measured') if nb.get(k))
            lines.append(f'    {nb["name"]:<22} {nb["status"]}{"  " + figures if figures else ""}')
    for note in graded.notes:
        lines.append(f'  note: {note}')
    return clean_text('\n'.join(lines), TABLE_CHARS)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left}
.pass{color:#176f2c}.fail{color:#b00020}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;margin:.2em 0}
.num{text-align:right;white-space:nowrap}code.id{color:#777;font-size:.8em}
.pics{display:flex;flex-wrap:wrap;gap:.5em;margin:.3em 0}figure{margin:0;max-width:430px}
figure img{max-width:256px;max-height:256px;image-rendering:auto;border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}.nopic figcaption{color:#b00020}"""


def html_report(graded: Graded) -> str:
    """A self-contained HTML page: points per question, every check, notebooks and notes."""
    def e(text) -> str:
        return html.escape(clean_text(text, REPORT_FIELD_CHARS))
    totals = question_totals(graded.rubric, graded.scored)
    every = [p for s in graded.scored for p in s.check.pictures]
    every += [p for nb in graded.notebooks for p in nb.get('pictures', ())]
    shown, left_out = bounded(every, REPORT_PICTURES, REPORT_PICTURE_BYTES)
    shown_ids = {id(p) for p in shown}

    def pictures(items) -> str:
        kept = [p for p in items if id(p) in shown_ids]
        return f'<div class="pics">{"".join(p.html() for p in kept)}</div>' if kept else ''
    rows = []
    for question in graded.rubric.for_part(graded.part) if graded.is_grade else ():   # no points shown
        earned, possible = totals.get(question.id, (0.0, question.points))
        rows.append(f'<tr><th colspan="3">{e(question.id)} {e(question.title)}</th>'
                    f'<th class="num">{earned:g} / {possible:g}</th></tr>')
        for s in (s for s in graded.scored if s.check.question == question.id):
            status = '<span class="pass">passed</span>' if s.check.passed else '<span class="fail">failed</span>'
            detail = '' if s.check.passed else f'<pre>{e(s.check.message)}</pre>'
            detail += e(measured_text(s.check)) + pictures(s.check.pictures)
            hidden = ' (hidden from students until grades are published)' if s.check.hidden else ''
            rows.append(f'<tr><td>{e(s.number)}</td><td>{e(s.check.title)} <code class="id">{e(s.check.id)}</code>'
                        f'{hidden}{detail}</td>'
                        f'<td>{status}</td><td class="num">{s.score:g} / {s.max_score:g}</td></tr>')
    parts = [f'<!doctype html><meta charset="utf-8"><title>{e(graded.source)}</title><style>{_STYLE}</style>',
             f'<h1>{e(graded.source)}</h1>',
             f'<p>Part {graded.part}: <b>{graded.score:g} / {graded.max_score:g}</b> points, '
             f'graded in {graded.seconds:.0f} s.</p>' if graded.is_grade else
             f'<p class="fail">Part {graded.part}: <b>not graded ({e(str(graded.status))})</b>: no score; '
             f'staff will regrade.</p>']
    if graded.isolation:
        parts.append(f'<p>Sandbox isolation: {e(graded.isolation)}.</p>')
    if graded.verdict:
        parts.append(f'<p class="fail">{e(graded.verdict)}</p>')
    parts.append('<table>' + ''.join(rows) + '</table>')
    if graded.notebooks:
        parts.append('<h2>Notebooks</h2><p>Executed headlessly in the sandbox; their outputs earn no points.</p>'
                     '<table><tr><th>notebook</th><th>status</th><th>claimed</th><th>measured</th></tr>')
        for nb in graded.notebooks:
            errors = ''.join(f'<pre>{e(err)}</pre>' for err in nb.get('errors', []))
            errors += pictures(nb.get('pictures', ()))
            parts.append(f'<tr><td>{e(nb["name"])}</td><td>{e(nb["status"])}{errors}</td>'
                         f'<td>{e(nb.get("claimed", ""))}</td><td>{e(nb.get("measured", ""))}</td></tr>')
        parts.append('</table>')
    if left_out:
        parts.append(f'<p>{left_out} more picture(s) left out: a report embeds at most {REPORT_PICTURES} '
                     f'({REPORT_PICTURE_BYTES // 1_000_000} MB).</p>')
    if graded.notes:
        parts.append('<h2>Notes</h2><ul>' + ''.join(f'<li>{e(n)}</li>' for n in graded.notes) + '</ul>')
    return '\n'.join(parts) + '\n'


def write_report(graded: Graded, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(graded), encoding='utf-8')
    return path
