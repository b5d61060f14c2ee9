"""What a Part 1 notebook is and what it printed: read from the notebook as data, in the trusted process.

Submitted notebooks come from two starters at least: ours (`student/1_cs231n/`, whose cells keep
figures in variables the probes of `graders.notebooks.runner` read) and the official 2019 one, which real
submissions use (REAL_SUBMISSIONS.md section 2: other names, figures only printed). Anything else is
possible too. So the report does not depend on variable names:

- `recognise(name, nb)`: which starter the notebook comes from ('hw1grade', '2019' or 'unknown');
- `printed_figures(nb)`: the figures the notebook's outputs print ("loss: 2.3", "dx error: 3e-10",
  "validation accuracy: 0.33", "Final loss with momentum: 0.49 ..."), one parser for the outputs saved
  in the submitted notebook (what it claims) and for those of the grader's own run (what it measures);
- `cell_origin(name, nb, index, starter)`: whether a cell (the first failing one) is the starter's,
  unchanged, or the student's, so that a TA does not read a starter cell's failure as the student's
  mistake without looking at what it calls.

Nothing here executes anything; notebooks are nbformat dicts parsed from bytes.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from graders import paths

STARTER_DIR = paths.STUDENT / '1_cs231n'
HW1GRADE, COURSE_2019, UNKNOWN = 'hw1grade', '2019', 'unknown'

# Lines only the 2019 starter's notebooks hold (REAL_SUBMISSIONS.md section 2), per notebook.
MARKERS_2019 = {
    'softmax.ipynb': ('softmax on raw pixels final test set accuracy', 'classifier = Softmax()',
                      'grad_check_sparse(f, W, grad'),
    'two_layer_net.ipynb': ('init_toy_model', 'correct_loss = 1.38191946092', 'Final loss with'),
    'layers.ipynb': ('from scipy.misc import imread', 'Testing affine_forward function',
                     'Testing conv_forward_naive'),
    'convnet.ipynb': ('x_test = X_test.transpose', 'Sanity check loss', 'init_two_layer_convnet(filter_size=7)'),
}
# Cells of the 2019 starter that students were not asked to change: setup, data loading, the
# constant and numeric checks, the kitten demo, the timings.
GIVEN_2019 = ('%load_ext autoreload', 'def get_CIFAR10_data', 'load_cifar10_train_val()',
              'from scipy.misc import imread', 'def init_toy_model', 'correct_scores =',
              'correct_loss = 1.38191946092', 'eval_numerical_gradient', 'correct_out = np.array', 'Speedup:',
              'Sanity check loss', 'grad_check_sparse')

MAX_FIGURES = 60
LABEL_CHARS = 60

# "loss: 2.302585", "dx error:  3.2e-10", "Test accuracy:  0.402", "Speedup: 12.5x",
# "W1 max relative error: 3.0e-09", "validation accuracy: 0.331000", "difference: 4.1e-09": a label of
# words, a colon or '=', then a number.
_FIGURE = re.compile(r'(?P<label>[A-Za-z][A-Za-z0-9 _()\-/\.]{0,80}?)\s*[:=]\s*'
                     r'(?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)')
_SPACES = re.compile(r'\s+')


def _source(cell: Any) -> str:
    source = cell.get('source', '') if isinstance(cell, dict) else ''
    return ''.join(source) if isinstance(source, list) else str(source)


def _cells(nb: Any) -> list:
    cells = nb.get('cells') if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


@functools.lru_cache(maxsize=8)
def _our_starter_cells(name: str) -> frozenset[str]:
    """The sources (stripped) of the code cells of our starter's notebook `name`."""
    import nbformat
    path = STARTER_DIR / name
    if not path.is_file():
        return frozenset()
    nb = nbformat.read(path, as_version=4)
    return frozenset(_source(c).strip() for c in nb.cells if c.get('cell_type') == 'code')


def recognise(name: str, nb: Any) -> str:
    """'hw1grade' (our starter: most of its code cells are there unchanged), '2019' (two of the 2019
    starter's own lines) or 'unknown'."""
    sources = [_source(c).strip() for c in _cells(nb) if c.get('cell_type') == 'code']
    ours = _our_starter_cells(name)
    if ours and sum(s in ours for s in sources) >= max(2, len(ours) // 2):
        return HW1GRADE
    text = '\n'.join(sources)
    if sum(marker in text for marker in MARKERS_2019.get(name, ())) >= 2:
        return COURSE_2019
    return UNKNOWN


def cell_origin(name: str, nb: Any, index: int, starter: str) -> str:
    """'starter' when cell `index` is one the starter gave and the student was not asked to change
    (for ours: its source is unchanged), else 'student'."""
    cells = _cells(nb)
    if not 0 <= index < len(cells):
        return 'student'
    source = _source(cells[index]).strip()
    if starter == HW1GRADE:
        return 'starter' if source in _our_starter_cells(name) else 'student'
    if starter == COURSE_2019:
        return 'starter' if any(marker in source for marker in GIVEN_2019) else 'student'
    return 'student'


def output_texts(nb: Any) -> list[str]:
    """The plain text of every output (streams and text/plain results), in order."""
    texts = []
    for cell in _cells(nb):
        if cell.get('cell_type') != 'code':
            continue
        for output in cell.get('outputs') or []:
            if not isinstance(output, dict):
                continue
            data = output.get('data')
            text = output.get('text') if output.get('output_type') == 'stream' else \
                data.get('text/plain') if isinstance(data, dict) else None
            if isinstance(text, list):
                text = ''.join(t for t in text if isinstance(t, str))
            if isinstance(text, str):
                texts.append(text)
    return texts


def printed_figures(nb: Any) -> dict[str, float]:
    """label -> the last number printed after it ("dx error" -> 3.2e-10), at most MAX_FIGURES labels.

    Labels are lower-cased, spaces collapsed, cut after the last sentence end ("finished optimization.
    best validation accuracy" -> "best validation accuracy"); a second figure on a line is qualified by
    the first ("final loss with momentum, we get"); a label printed again by a later cell is numbered
    ("dx error (2)"); progress lines of the trainer are skipped."""
    figures: dict[str, float] = {}
    for cell_texts in _texts_by_cell(nb):
        in_cell: dict[str, str] = {}
        for line in '\n'.join(cell_texts).splitlines():
            line = line[:500]
            if line.lstrip().startswith(('iteration ', 'starting iteration', 'Finished epoch')):
                continue
            first = None
            for m in _FIGURE.finditer(line):
                label = _SPACES.sub(' ', m.group('label')).strip().lower().split('. ')[-1][:LABEL_CHARS]
                try:
                    value = float(m.group('number'))
                except ValueError:
                    continue
                if not label:
                    continue
                label, first = (label, label) if first is None else (f'{first}, {label}', first)
                if label not in in_cell:
                    n, key = 1, label
                    while key in figures:
                        n += 1
                        key = f'{label} ({n})'
                    in_cell[label] = key
                key = in_cell[label]
                if key in figures or len(figures) < MAX_FIGURES:
                    figures[key] = value
    return figures


def _texts_by_cell(nb: Any) -> list[list[str]]:
    return [output_texts({'cells': [cell]}) for cell in _cells(nb)]


def format_figures(figures: dict[str, float], limit: int = 12) -> str:
    """'loss 2.30; dx error 3.2e-10; ...' (the first `limit` labels)."""
    def number(v: float) -> str:
        return f'{v:.4g}' if v == 0 or 1e-3 <= abs(v) < 1e5 else f'{v:.1e}'
    parts = [f'{label} {number(value)}' for label, value in list(figures.items())[:limit]]
    more = len(figures) - limit
    return '; '.join(parts) + (f'; and {more} more' if more > 0 else '')
