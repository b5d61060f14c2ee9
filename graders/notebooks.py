"""Run the Part 1 notebooks headlessly and read figures out of the executed kernel.

`execute_notebook()` runs one notebook top to bottom with nbclient and an IPython kernel, then sends
one more execute request to the same kernel that evaluates the *probes*: Python expressions whose
values come back as JSON. Tests and graders assert on those values, i.e. on the state the notebook
really computed, never on the text typed into it or on its printed output.

The probe expressions of the four Part 1 notebooks live in one declarative table, `PROBES`; the
figures that the summary table shows are `KEY_FIGURES`. `run_notebooks()` runs a folder's notebooks,
writes the executed copies and returns the runs; `format_summary()` makes the readable table, and
`add_notebooks_commands()` adds `hw1grade notebooks run DIR [--out DIR]` to the command line.

The kernel is started by a jupyter_client AsyncKernelManager (nbclient's timeouts need the async
client). Pass `kernel_manager_factory` (a callable returning an AsyncKernelManager) to start it some
other way, e.g. inside a sandbox; `kernel_cmd_prefix` is a shortcut that runs the usual kernel
command behind a wrapper command (`['env', 'X=1']`, a container runner, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

# The Part 1 notebooks, in the order the homework walks through them.
NOTEBOOKS = ('softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb', 'convnet.ipynb')

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
        'test_acc': 'float(np.mean(softmax.predict(X_test) == y_test))',
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
        'test_acc': 'float(np.mean(np.argmax(two_layer_net(X_test, best_model), axis=1) == y_test))',
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
        'filter_size': 'int(best_model["W1"].shape[2])',
    },
}

# The figures the summary table shows for each notebook (names of PROBES entries).
KEY_FIGURES: dict[str, tuple[str, ...]] = {
    'softmax.ipynb': ('initial_loss', 'grad_rel_errors_reg0', 'val_acc', 'test_acc'),
    'two_layer_net.ipynb': ('max_score_diff', 'toy_loss_diff', 'grad_rel_errors', 'momentum_final_loss',
                            'rmsprop_final_loss', 'default_val_acc', 'tuned_val_acc', 'test_acc'),
    'layers.ipynb': ('backward_errors', 'fast_vs_naive_diffs', 'speedups'),
    'convnet.ipynb': ('initial_loss', 'grad_rel_errors', 'overfit_train_acc', 'epoch_val_acc'),
}

DEFAULT_TIMEOUT_PER_CELL = 600
PROBE_TIMEOUT = 300

# Environment defaults of the kernel, overridden by the caller's environment and by `env`.
# One BLAS thread: a multi-threaded OpenBLAS whose threads compete with any other busy process
# (another notebook, a build, a test worker) slows down by 10x or more, and the matrix products of
# the fast layers suffer most (the layers notebook then measures them slower than the naive loops).
# Single-threaded, the timings are stable and the notebooks still run within minutes.
DEFAULT_KERNEL_ENV = {'OPENBLAS_NUM_THREADS': '1', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1',
                      # Headless plotting whatever the user's matplotlib configuration says.
                      'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}


@dataclass
class CellError:
    """An error raised by one code cell (`index` counts all cells of the notebook from 0)."""
    index: int
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f'cell {self.index}: {self.ename}: {self.evalue}'


@dataclass
class NotebookRun:
    """The outcome of `execute_notebook`.

    - notebook: the executed notebook (outputs filled in; write it with nbformat.write)
    - errors: the cells that raised, in order (a timeout or a dead kernel is one too; the cells
      after it were not run)
    - elapsed: seconds from starting the kernel to the end of the probes
    - probes: name -> value (JSON types) of each probe that evaluated
    - probe_errors: name -> 'ExcType: message' of each probe that raised, or '*' -> why no probe ran
    """
    path: Path
    notebook: Any
    errors: list[CellError] = field(default_factory=list)
    elapsed: float = 0.0
    probes: dict[str, Any] = field(default_factory=dict)
    probe_errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no cell raised (probe failures are reported separately)."""
        return not self.errors


class PrefixedKernelManager(AsyncKernelManager):
    """A KernelManager that starts the usual kernel command behind `kernel_cmd_prefix`."""

    def __init__(self, *args: Any, kernel_cmd_prefix: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prefix = list(kernel_cmd_prefix)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self._prefix + super().format_kernel_cmd(extra_arguments)


# Runs in the kernel after the last cell: evaluates each expression in the user namespace and
# prints one JSON object between two markers that the notebook cannot know in advance.
_PROBE_CODE = '''\
def __hw1grade_probe(exprs, start, end):
    import json, math
    def plain(v):
        if hasattr(v, 'tolist') and callable(v.tolist):   # numpy scalars and arrays
            v = v.tolist()
        if isinstance(v, float) and not math.isfinite(v):
            return repr(v)
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return repr(v)
    namespace = get_ipython().user_ns
    values, errors = {}, {}
    for name, expr in exprs.items():
        try:
            values[name] = plain(eval(expr, namespace))
        except BaseException as e:
            errors[name] = '%s: %s' % (type(e).__name__, e)
    print(start + json.dumps({'values': values, 'errors': errors}) + end)
__hw1grade_probe(EXPRS, START, END)
del __hw1grade_probe
'''


def _cell_errors(nb: Any) -> list[CellError]:
    """The error outputs recorded in an executed notebook."""
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != 'code':
            continue
        for output in cell.get('outputs', []):
            if output.get('output_type') == 'error':
                errors.append(CellError(index, output.get('ename', '?'), str(output.get('evalue', ''))))
    return errors


def _run_probes(client: NotebookClient, probes: Mapping[str, str], timeout: int) -> tuple[dict, dict]:
    """Evaluate `probes` in the client's kernel; return (values, errors)."""
    token = uuid.uuid4().hex
    start, end = f'<<hw1grade-probes-{token}>>', f'<<end-{token}>>'
    code = _PROBE_CODE.replace('EXPRS, START, END', f'{dict(probes)!r}, {start!r}, {end!r}')
    cell = nbformat.v4.new_code_cell(code)
    client.nb.cells.append(cell)
    index = len(client.nb.cells) - 1
    saved_timeout = client.timeout
    client.timeout = timeout
    try:
        client.execute_cell(cell, index, store_history=False)
    finally:
        client.timeout = saved_timeout
        client.nb.cells.pop()
    text = ''.join(o.get('text', '') for o in cell.outputs
                   if o.get('output_type') == 'stream' and o.get('name') == 'stdout')
    errors = [o for o in cell.outputs if o.get('output_type') == 'error']
    if start not in text or end not in text:
        why = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else 'no probe output'
        return {}, {'*': why}
    payload = json.loads(text.split(start, 1)[1].split(end, 1)[0])
    return payload['values'], payload['errors']


def execute_notebook(path: str | os.PathLike, cwd: str | os.PathLike | None = None,
                     timeout_per_cell: int = DEFAULT_TIMEOUT_PER_CELL,
                     probes: Mapping[str, str] | None = None, *,
                     stop_on_error: bool = False,
                     kernel_name: str = 'python3',
                     kernel_manager_factory: Callable[[], AsyncKernelManager] | None = None,
                     kernel_cmd_prefix: Sequence[str] | None = None,
                     env: Mapping[str, str] | None = None,
                     probe_timeout: int = PROBE_TIMEOUT) -> NotebookRun:
    """Execute the notebook at `path` top to bottom in a fresh kernel, then evaluate `probes` in it.

    - cwd: the kernel's working directory (default: the notebook's folder)
    - timeout_per_cell: seconds any one cell may run; a cell over it ends the run (recorded as an
      error named CellTimeoutError)
    - probes: name -> Python expression, evaluated in the kernel's namespace after the last cell
      (also after failed cells, so that partial work can still be graded)
    - stop_on_error: stop at the first cell that raises (default: run every cell, as
      "Restart & Run All" with errors allowed would)
    - kernel_name: the kernel spec to start
    - kernel_manager_factory: a callable returning the (jupyter_client Async)KernelManager to use
      instead of the default one (the way to put the kernel in a sandbox)
    - kernel_cmd_prefix: a command that wraps the kernel command (ignored with a factory)
    - env: environment variables for the kernel, over the caller's environment, itself over
      DEFAULT_KERNEL_ENV (single-threaded BLAS, inline plots)
    """
    path = Path(path)
    cwd = Path(cwd) if cwd is not None else path.parent
    nb = nbformat.read(path, as_version=4)
    if kernel_manager_factory is not None:
        km = kernel_manager_factory()
    elif kernel_cmd_prefix:
        km = PrefixedKernelManager(kernel_name=kernel_name, kernel_cmd_prefix=kernel_cmd_prefix)
    else:
        km = AsyncKernelManager(kernel_name=kernel_name)
    client = NotebookClient(nb, km=km, kernel_name=kernel_name, timeout=timeout_per_cell,
                            allow_errors=not stop_on_error, interrupt_on_timeout=True,
                            resources={'metadata': {'path': str(cwd)}})
    run = NotebookRun(path=path, notebook=nb)
    started = time.monotonic()
    kernel_env = {**DEFAULT_KERNEL_ENV, **os.environ, **(env or {})}
    # cleanup_kc: shut the kernel down afterwards even though we, not nbclient, made its manager.
    with client.setup_kernel(env=kernel_env, cwd=str(cwd), cleanup_kc=True):
        kernel_alive = True
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != 'code':
                continue
            cell_started = time.monotonic()
            failure = None
            try:
                client.execute_cell(cell, index)
            except DeadKernelError as e:
                failure = CellError(index, 'DeadKernelError', str(e))
                kernel_alive = False
            except Exception as e:  # CellExecutionError with stop_on_error, or a client failure
                failure = CellError(index, getattr(e, 'ename', type(e).__name__), str(getattr(e, 'evalue', e)))
            # On a timeout nbclient interrupts the kernel (so that it stays usable for the probes) and
            # the cell ends with a KeyboardInterrupt: report it as the timeout it is.
            if kernel_alive and time.monotonic() - cell_started >= timeout_per_cell:
                failure = CellError(index, 'CellTimeoutError', f'the cell ran for more than {timeout_per_cell} s')
            if failure is not None:
                run.errors.append(failure)
                break
        # Errors recorded in outputs (allow_errors) and not yet counted.
        seen = {e.index for e in run.errors}
        run.errors = sorted(run.errors + [e for e in _cell_errors(nb) if e.index not in seen],
                            key=lambda e: e.index)
        if probes:
            if not kernel_alive:
                run.probe_errors = {'*': 'the kernel died'}
            else:
                try:
                    run.probes, run.probe_errors = _run_probes(client, probes, probe_timeout)
                except (CellTimeoutError, DeadKernelError) as e:
                    run.probe_errors = {'*': f'{type(e).__name__}: {e}'}
    run.elapsed = time.monotonic() - started
    return run


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
        raise OSError(f'{folder} is not a folder')
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


__all__ = ['NOTEBOOKS', 'PROBES', 'KEY_FIGURES', 'CellError', 'NotebookRun', 'PrefixedKernelManager',
           'execute_notebook', 'run_notebooks', 'format_summary', 'key_figures', 'clear_outputs',
           'write_probes_json', 'add_notebooks_commands']
