"""One notebook's report, for the TA and the student: a dict of plain values built from the validated
summary of the grader's run (`graders.notebooks.summary`), the submitted notebook (read as data) and
what it claims (`graders.notebooks.claims`).

    {'name', 'status', 'starter', 'errors', 'claimed', 'claimed_figures', 'measured', 'measured_figures',
     'seconds', 'flags'}

status: 'ok', 'error in cell N', 'timed out at cell N', 'kernel died at cell N', 'runner died at cell N',
'could not run', or for a notebook that did not run ('missing', 'not valid JSON', 'not run', ...:
`not_run`). Errors name the cell, whose it is (the starter's or the student's) and how it begins;
flags are claimed accuracies the grader's complete run measured more than ACCURACY_GAP away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graders.engine.untrusted import Untrusted
from graders.notebooks.budget import budget_line
from graders.notebooks.claims import claimed_accuracies, format_claims
from graders.notebooks.figures import COURSE_2019, HW1GRADE, UNKNOWN, cell_origin, format_figures, printed_figures
from graders.notebooks.runner import NotebookRun, key_figures
from graders.notebooks.summary import Summary, score_predictions

# Cap on the figures one report line shows (the measured line holds up to four times this).
FIGURE_CHARS = 300
# A claimed and a measured accuracy further apart than this are flagged.
ACCURACY_GAP = 0.05   # only for a run that went through: one cut short printed its early figures only


def _source_line(nb: Any, index: int) -> str:
    """The first non-blank line of cell `index` of the submitted notebook (to find the cell)."""
    try:
        source = nb.cells[index].source
    except (AttributeError, IndexError, TypeError):
        return ''
    source = ''.join(source) if isinstance(source, list) else str(source)
    line = next((line.strip() for line in source.splitlines() if line.strip()), '')
    return line if len(line) <= 100 else line[:97] + '...'


def _ranges(indexes: Sequence[int]) -> str:
    """'3, 5-9, 12' (cell indexes)."""
    parts, start = [], None
    for i, value in enumerate(indexes):
        if start is None:
            start = value
        if i + 1 == len(indexes) or indexes[i + 1] != value + 1:
            parts.append(str(start) if start == value else f'{start}-{value}')
            start = None
    return ', '.join(parts)


def _describe_error(nb: Any, error: Mapping[str, Any], name: str = '', starter: str = UNKNOWN) -> str:
    line = _source_line(nb, error['index'])
    origin = cell_origin(name, nb, error['index'], starter)
    whose = ({HW1GRADE: 'a cell of the starter, unchanged', COURSE_2019: "a cell the 2019 starter gave"}[starter]
             + ': look at the code it calls') if origin == 'starter' else 'a cell the student wrote or changed'
    text = f"cell {error['index']} ({whose}): {error['ename']}: {error['evalue']}"
    if line:
        text += f'\n  the cell begins: {line}'
    if error['traceback']:
        text += '\n' + error['traceback']
    return text


def _status(summary: Summary) -> str:
    if summary.fatal:
        return 'could not run'
    if summary.errors:
        first = summary.errors[0]
        if first['ename'] == 'CellTimeoutError':
            return f"timed out at cell {first['index']}"
        if first['ename'] == 'DeadKernelError':
            return f"kernel died at cell {first['index']}"
        return f"error in cell {first['index']}"
    return 'ok'


def _measured(name: str, summary: Summary, labels: np.ndarray | None, claims: Mapping[str, float],
              executed: Any, errors: list[str], flags: list[str], figures: dict | None = None) -> str:
    """What the grader's own run measured: the figures its outputs print (`printed_figures`, the
    parser that also reads the claims), our starter's probes, and the test accuracy scored here from
    the predictions of the model the notebook trained (the sandbox's test labels are all 0, so a
    printed test accuracy means nothing there). Gaps to the claims go to `flags`."""
    probes = dict(summary.probes)
    predictions, count = probes.pop('test_predictions', None), 0
    if predictions is not None and labels is not None:
        try:
            probes['test_acc'], count = score_predictions(predictions, labels)
        except Untrusted as e:
            errors.append(str(e))
    parts = []
    if 'test_acc' in probes:
        parts.append(f"test accuracy {probes['test_acc']:.3f} on the first {count} test images, scored by the grader")
    printed = {label: value for label, value in printed_figures(executed).items() if 'test' not in label}
    if printed:
        parts.append('printed: ' + format_figures(printed))
    ours = {k: v for k, v in probes.items() if k not in ('test_acc',)}
    if ours:
        run = NotebookRun(path=Path(name), notebook=None, probes=ours, probe_errors=summary.probe_errors)
        parts.append('read from the kernel: ' + key_figures(run))
    measured = {kind: value for kind, value in claimed_accuracies(executed).items() if kind != 'test'}
    if 'test_acc' in probes:
        measured['test'] = probes['test_acc']
    if figures is not None:   # the same figures as numbers (kind -> accuracy): the class dashboard's scatter
        figures.update(measured)
    complete = summary.finished and not summary.errors and not summary.fatal
    for kind, claimed in claims.items():   # a run cut short printed its earlier figures only: no flags
        value = measured.get(kind)
        if complete and isinstance(value, (int, float)) and abs(value - claimed) > ACCURACY_GAP:
            flags.append(f'claimed {kind} accuracy {claimed:.3f}, measured {value:.3f} '
                         f'(differ by more than {ACCURACY_GAP})')
    return '; '.join(parts)[:FIGURE_CHARS * 4] or 'nothing measured'


def notebook_report(name: str, nb: Any, claims: Mapping[str, float], summary: Summary,
                    labels: np.ndarray | None, note: str = '', stopped: str = '', *,
                    starter: str = UNKNOWN, executed: Any = None) -> dict:
    """The report dict of one notebook that ran (see the module docstring).

    note: added to the errors of a notebook that did not run through (e.g. why the extension is missing).
    stopped: how the sandboxed runner ended when it did not finish its summary ('' for the budget's
        wall clock, else e.g. a signal).
    """
    errors, flags = [], []
    if summary.fatal:
        errors.append(summary.fatal)
    errors.extend(_describe_error(nb, e, name, starter) for e in summary.errors)
    status = _status(summary)
    if not summary.finished:
        # The runner was killed or died: its last progress report shows where it was.
        where = summary.running if summary.running is not None else (summary.executed or [0])[-1]
        whose = "the starter's" if cell_origin(name, nb, where, starter) == 'starter' else "the student's"
        if stopped:
            status = f'runner died at cell {where}'
            errors.append(f'cell {where} ({whose}): the notebook runner stopped during this cell: {stopped}')
        else:
            status = f'timed out at cell {where}'
            errors.append(f'cell {where} ({whose}): the time budget for the notebooks ran out; the sandbox was killed')
    done = set(summary.executed) | {e['index'] for e in summary.errors} | (
        {summary.running} if summary.running is not None else set())
    not_run = [i for i in summary.code_cells if i not in done]
    if not_run and not summary.fatal:
        errors.append(f'code cells {_ranges(not_run)} did not run (the run stops at the first failing '
                      'cell, as Run All does)')
    # Our starter's probes read our names; another starter's notebook is asked for its test predictions only.
    missed = {k: v for k, v in summary.probe_errors.items() if starter == HW1GRADE or k in ('test_predictions', '*')}
    if status == 'ok' and missed:
        errors.append('not measured: ' + '; '.join(f'{k}: {v}' for k, v in sorted(missed.items())))
    by_budget = (not summary.finished and not stopped) or summary.budget_ran_out
    if by_budget:
        errors.append(budget_line(name))
    if note and status != 'ok':
        errors.append(note)
    figures: dict = {}
    measured = _measured(name, summary, labels, claims, executed, errors, flags, figures)
    return {'name': name, 'status': status, 'starter': starter, 'errors': errors,
            'claimed': format_claims(claims) or 'nothing',
            'claimed_figures': dict(claims), 'measured_figures': figures,
            'measured': measured + ''.join(f'; FLAG: {flag}' for flag in flags),
            'seconds': round(summary.seconds, 1), 'flags': flags}


def not_run(name: str, status: str, errors: Sequence[str] = (), claimed: str = '') -> dict:
    return {'name': name, 'status': status, 'errors': list(errors), 'claimed': claimed,
            'measured': 'nothing measured', 'seconds': 0.0, 'flags': []}
