"""Run the Part 1 notebooks headlessly and read figures out of the executed kernel.

`execute_notebook()` (from `graders.inside.run_notebook`, shared with the sandboxed runner) runs one
notebook top to bottom with nbclient and an IPython kernel, then sends one more execute request to the
same kernel that evaluates the *probes*: Python expressions whose values come back as JSON. Tests and
graders assert on those values, i.e. on the state the notebook really computed, never on the text typed
into it or on its printed output.

The probe expressions of the four Part 1 notebooks live in one declarative table, `PROBES`; the
figures that the summary table shows are `KEY_FIGURES`. The same table serves the grading of submitted
notebooks in the sandbox (`graders.notebooks.grading`), minus the probes that read the test labels,
which the sandbox never sees: `probes_without_test_labels()` asks for `TEST_PREDICTIONS` instead.
`run_notebooks()` runs a folder's notebooks, writes the executed copies and returns the runs;
`format_summary()` makes the readable table, and `add_notebooks_commands()` adds
`hw1grade notebooks run DIR [--out DIR]` to the command line.

The kernel is started by a jupyter_client AsyncKernelManager (nbclient's timeouts need the async
client). Pass `kernel_manager_factory` (a callable returning an AsyncKernelManager) to start it some
other way, e.g. inside a sandbox; `kernel_cmd_prefix` is a shortcut that runs the usual kernel
command behind a wrapper command (`['env', 'X=1']`, a container runner, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat

from graders.engine.outcome import UserError

# The execution itself is shared with the sandboxed runner of submitted notebooks.
from graders.inside.run_notebook import (
    DEFAULT_KERNEL_ENV,
    DEFAULT_PROBE_TIMEOUT,
    DEFAULT_TIMEOUT_PER_CELL,
    CellError,
    NotebookRun,
    PrefixedKernelManager,
    execute_notebook,
)

# The Part 1 notebooks, in the order the homework walks through them.
NOTEBOOKS = ('softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb', 'convnet.ipynb')

# The predicted classes of each notebook's final model on its test set (the first len(X_test) images
# of test_batch), as expressions evaluated in its kernel, under our notebooks' names and the 2019
# starter's (REAL_SUBMISSIONS.md section 2): softmax's model is `softmax` or `classifier`; the 2019
# convnet keeps the transposed test set in a lower-case `x_test` (a starter typo) and X_test as
# (N, 32, 32, 3) images, which are transposed here; ours keeps the transposed set in X_test. The
# convnet's are computed 100 images at a time: im2col of 1000 images with 7x7 filters alone would take 1.2 GB.
TEST_PREDICTIONS: dict[str, str] = {
    'softmax.ipynb': "(classifier if 'classifier' in globals() else softmax).predict(X_test)",
    'two_layer_net.ipynb': 'np.argmax(two_layer_net(X_test, best_model), axis=1)',
    'convnet.ipynb': '(lambda T: np.concatenate([np.argmax(two_layer_convnet(T[i:i + 100], best_model), axis=1) '
                     'for i in range(0, len(T), 100)]))((lambda T: T.transpose(0, 3, 1, 2) if T.shape[-1] == 3 '
                     "else T)(x_test if 'x_test' in globals() else X_test))",
}


def _accuracy_on_test(name: str) -> str:
    """The probe expression of the test accuracy of `name`'s final model, from its TEST_PREDICTIONS."""
    return f'float(np.mean(({TEST_PREDICTIONS[name]}) == y_test))'


# What each notebook is asked for after it ran: name -> expression evaluated in its kernel.
# Expressions recompute what they can from the notebook's objects (accuracies of the trained
# models on the data the notebook loaded) rather than trusting a number the notebook printed.
PROBES: dict[str, dict[str, str]] = {
    'softmax.ipynb': {
        'initial_loss': 'float(loss_initial)',
        'expected_initial_loss': 'float(-np.log(0.1))',
        'grad_rel_errors_reg0': '[float(e) for e in rel_errors_reg0]',
        'grad_rel_errors_reg': '[float(e) for e in rel_errors_reg]',
        'learning_rate': 'float(learning_rate)',
        'reg': 'float(reg)',
        'num_iters': 'int(num_iters)',
        'val_acc': 'float(np.mean(softmax.predict(X_val) == y_val))',
        'test_acc': _accuracy_on_test('softmax.ipynb'),
        'templates_shape': 'list(templates.shape)',
    },
    'two_layer_net.ipynb': {
        'max_score_diff': 'float(np.max(np.abs(scores - correct_scores)))',
        'toy_loss': 'float(loss)',
        'toy_loss_diff': 'float(abs(loss - correct_loss))',
        'grad_rel_errors': '{k: float(v) for k, v in grad_rel_errors.items()}',
        'momentum_final_loss': 'float(loss_history_momentum[-1])',
        'rmsprop_final_loss': 'float(loss_history_rmsprop[-1])',
        'default_val_acc': 'float(np.mean(np.argmax(two_layer_net(X_val, default_best_model), axis=1) == y_val))',
        'tuned_val_acc': 'float(np.mean(np.argmax(two_layer_net(X_val, best_model), axis=1) == y_val))',
        'test_acc': _accuracy_on_test('two_layer_net.ipynb'),
        'tuned_setting': '{k: (v if isinstance(v, (int, str)) else float(v)) for k, v in tuned.items()}',
    },
    'layers.ipynb': {
        'forward_errors': '{k: float(v) for k, v in forward_errors.items()}',
        'backward_errors': '{k: float(v) for k, v in backward_errors.items()}',
        'fast_vs_naive_diffs': '{k: float(v) for k, v in fast_vs_naive_diffs.items()}',
        'speedups': '{k: float(v) for k, v in speedups.items()}',
        'demo_output_shape': 'list(demo_out.shape)',
    },
    'convnet.ipynb': {
        'initial_loss': 'float(loss_initial)',
        'initial_loss_reg': 'float(loss_initial_reg)',
        'expected_initial_loss': 'float(np.log(10))',
        'grad_rel_errors': '{k: float(v) for k, v in grad_rel_errors.items()}',
        'overfit_train_acc': 'float(np.mean(np.argmax(two_layer_convnet(X_small, overfit_model), axis=1) == y_small))',
        'epoch_val_acc': 'float(np.mean(np.argmax(two_layer_convnet(X_val, best_model), axis=1) == y_val))',
        'test_acc': _accuracy_on_test('convnet.ipynb'),
        'filter_size': 'int(best_model["W1"].shape[2])',
    },
}

# The figures the summary table shows for each notebook (names of PROBES entries).
KEY_FIGURES: dict[str, tuple[str, ...]] = {
    'softmax.ipynb': ('initial_loss', 'grad_rel_errors_reg0', 'val_acc', 'test_acc'),
    'two_layer_net.ipynb': ('max_score_diff', 'toy_loss_diff', 'grad_rel_errors', 'momentum_final_loss',
                            'rmsprop_final_loss', 'default_val_acc', 'tuned_val_acc', 'test_acc'),
    'layers.ipynb': ('backward_errors', 'fast_vs_naive_diffs', 'speedups'),
    'convnet.ipynb': ('initial_loss', 'grad_rel_errors', 'overfit_train_acc', 'epoch_val_acc', 'test_acc'),
}

_TEST_LABELS = re.compile(r'\by_test\b')


def probes_without_test_labels(name: str, ours: bool = True) -> dict[str, str]:
    """PROBES of `name` for a run whose test labels are withheld (a submission's, in the sandbox):
    the probes that read y_test are left out and `test_predictions` (TEST_PREDICTIONS) is added, for
    the grader to score against the real labels. ours=False (a notebook of another starter, whose
    variables have other names): `test_predictions` only; its printed figures say the rest."""
    probes = {key: expr for key, expr in PROBES.get(name, {}).items()
              if ours and not _TEST_LABELS.search(expr)}
    if name in TEST_PREDICTIONS:
        probes['test_predictions'] = TEST_PREDICTIONS[name]
    return probes

def clear_outputs(nb: Any) -> Any:
    """Remove every output and execution count (what is committed has no outputs)."""
    for cell in nb.cells:
        if cell.cell_type == 'code':
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop('execution', None)
    return nb


def _fmt(value: Any) -> str:
    """Compact text of a probe value for the summary table."""
    if isinstance(value, float):
        return f'{value:.6g}' if (value == 0 or 1e-3 <= abs(value) < 1e4) else f'{value:.1e}'
    if isinstance(value, list):
        if len(value) <= 4:
            return '[' + ', '.join(_fmt(v) for v in value) + ']'
        if all(isinstance(v, (int, float)) for v in value):
            return f'max {_fmt(max(value))}'
        return f'{len(value)} items'
    if isinstance(value, dict):
        numbers = [v for v in value.values() if isinstance(v, (int, float))]
        if len(numbers) == len(value) and len(value) > 4:
            return f'min {_fmt(min(numbers))} max {_fmt(max(numbers))}'
        return '{' + ', '.join(f'{k} {_fmt(v)}' for k, v in value.items()) + '}'
    return str(value)


def key_figures(run: NotebookRun) -> str:
    """The summary-table text of a run's key figures."""
    names = KEY_FIGURES.get(run.path.name) or tuple(run.probes)
    parts = []
    for name in names:
        if name in run.probes:
            parts.append(f'{name}={_fmt(run.probes[name])}')
        elif name in run.probe_errors or '*' in run.probe_errors:
            parts.append(f'{name}=?')
    return '; '.join(parts)


def format_summary(runs: Sequence[NotebookRun]) -> str:
    """A plain-text table: notebook, status, seconds, key figures (then the errors, if any)."""
    rows = [('notebook', 'status', 'seconds', 'key figures')]
    for run in runs:
        status = (f'failed (cell {run.errors[0].index})' if run.errors
                  else 'probes failed' if run.probe_errors else 'ok')
        rows.append((run.path.name, status, f'{run.elapsed:.1f}', key_figures(run)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ['  '.join(r[i].ljust(widths[i]) for i in range(3)) + '  ' + r[3] for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths) + '  ' + '-' * 11)
    for run in runs:
        for error in run.errors:
            lines.append(f'{run.path.name}: {error}')
        for name, why in run.probe_errors.items():
            lines.append(f'{run.path.name}: probe {name}: {why}')
    return '\n'.join(lines)


def run_notebooks(folder: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  names: Sequence[str] | None = None, timeout_per_cell: int = DEFAULT_TIMEOUT_PER_CELL,
                  log: Callable[[str], None] | None = None, **kwargs: Any) -> list[NotebookRun]:
    """Execute the notebooks `names` (default NOTEBOOKS) of `folder` (cwd = `folder`) with their
    PROBES, in order.

    Each executed copy is written to `out_dir` (if given) under its own name. A notebook that is
    missing counts as a failed run. `kwargs` go to execute_notebook (e.g. kernel_manager_factory).
    """
    folder = Path(folder)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    runs = []
    for name in NOTEBOOKS if names is None else names:
        path = folder / name
        if log:
            log(f'running {path} ...')
        if not path.is_file():
            run = NotebookRun(path=path, notebook=None,
                              errors=[CellError(-1, 'FileNotFoundError', f'no {name} in {folder}')])
        else:
            run = execute_notebook(path, cwd=folder, timeout_per_cell=timeout_per_cell,
                                   probes=PROBES.get(name), **kwargs)
            if out is not None:
                nbformat.write(run.notebook, out / name)
        if log:
            log(f'  {"ok" if run.ok else "FAILED"} in {run.elapsed:.1f} s')
        runs.append(run)
    return runs


def write_probes_json(runs: Sequence[NotebookRun], path: Path) -> None:
    """Save every run's status, time, errors and probe values as JSON (for CI artefacts)."""
    data = {run.path.name: {'ok': run.ok, 'seconds': round(run.elapsed, 2),
                            'errors': [str(e) for e in run.errors],
                            'probes': run.probes, 'probe_errors': run.probe_errors}
            for run in runs}
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=str) + '\n')


def notebooks_run(args: argparse.Namespace) -> int:
    """`hw1grade notebooks run DIR`: run the four notebooks and print the summary.

    Returns 1 if any notebook is missing, has a cell that raised, or lacks one of its probes."""
    folder = Path(args.dir)
    if not folder.is_dir():
        raise UserError(f'{folder} is not a folder')
    runs = run_notebooks(folder, args.out, timeout_per_cell=args.timeout, log=print)
    write_probes_json(runs, Path(args.out) / 'summary.json')
    print(format_summary(runs))
    print(f'executed notebooks and summary.json in {args.out}')
    return 0 if all(run.ok and not run.probe_errors for run in runs) else 1


def add_notebooks_commands(subparsers: argparse._SubParsersAction) -> None:
    """The `notebooks` group: `hw1grade notebooks run DIR [--out DIR] [--timeout S]`."""
    group = subparsers.add_parser('notebooks', help='execute the Part 1 notebooks headlessly')
    commands = group.add_subparsers(metavar='COMMAND', required=True)
    run = commands.add_parser(
        'run', help='execute the four Part 1 notebooks of DIR and summarize them',
        description='Execute ' + ', '.join(NOTEBOOKS) + ' of DIR top to bottom (with DIR as the working '
                    'directory), write the executed copies and summary.json to --out, and print a summary '
                    'with the key figures read from each kernel. Exits with 1 if any notebook is missing, had '
                    'an error or lacks one of the values the graders read.')
    run.add_argument('dir', metavar='DIR', help='the folder with the notebooks, e.g. reference/1_cs231n')
    run.add_argument('--out', metavar='OUTDIR', default='out/notebooks',
                     help='where to write the executed notebooks (default out/notebooks)')
    run.add_argument('--timeout', type=int, default=DEFAULT_TIMEOUT_PER_CELL, metavar='S',
                     help=f'seconds any one cell may run (default {DEFAULT_TIMEOUT_PER_CELL})')
    run.set_defaults(handler=notebooks_run)


__all__ = ['NOTEBOOKS', 'PROBES', 'KEY_FIGURES', 'TEST_PREDICTIONS', 'DEFAULT_KERNEL_ENV',
           'DEFAULT_TIMEOUT_PER_CELL', 'DEFAULT_PROBE_TIMEOUT', 'CellError', 'NotebookRun', 'PrefixedKernelManager',
           'execute_notebook', 'probes_without_test_labels', 'run_notebooks', 'format_summary', 'key_figures',
           'clear_outputs', 'write_probes_json', 'add_notebooks_commands']
