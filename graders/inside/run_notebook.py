"""Execute one notebook headlessly with nbclient and read values out of its kernel afterwards.

`execute_notebook()` runs a notebook top to bottom in a fresh IPython kernel, then sends one more
execute request to the same kernel that evaluates the *probes*: Python expressions whose values come
back as JSON. Whoever asks reads the state the notebook really computed, never the text typed into
it or its printed output.

Two callers share this code:
- `graders.notebooks.runner` (trusted side: `hw1grade notebooks run`, the reference notebook tests) imports
  it and runs the reference notebooks with the real data, outside any sandbox;
- the grader runs this file as a script *inside the sandbox* for a submission's notebook:

      python -I -B /opt/hw1grade/run_notebook.py NOTEBOOK --summary FILE --probes JSON
             [--cwd DIR] [--timeout-per-cell S] [--budget S] [--probe-timeout S] [--executed FILE]

  The kernel is a child of this process, so its ZMQ sockets never cross the sandbox boundary. The
  script stops at the first failing cell (as Jupyter's "Run All" does; the cells after it would
  only fail with NameErrors), still evaluates the probes, and writes `summary_dict()` as JSON to
  FILE, rewritten before and after every cell so that a run killed from outside still says where it
  was. The trusted side reads FILE as untrusted data (`graders.notebooks.grading`).

Standard library, nbformat, nbclient and jupyter_client only: nothing from `graders`, since only
graders/inside/ is mounted in the sandbox.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
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

DEFAULT_TIMEOUT_PER_CELL = 600
# Seconds the probes may take after the cells when the caller gives no other limit: our reference
# notebooks (`hw1grade notebooks run`, no budget). A submission's run passes its own, reserved out of
# its budget (graders.notebooks.grading.SUBMISSION_PROBE_SECONDS).
DEFAULT_PROBE_TIMEOUT = 300

# Environment defaults of the kernel, overridden by the caller's environment and by `env`.
# One BLAS thread: a multi-threaded OpenBLAS whose threads compete with any other busy process
# (another notebook, a build, a test worker) slows down by 10x or more, and the matrix products of
# the fast layers suffer most (the layers notebook then measures them slower than the naive loops).
# Single-threaded, the timings are stable and the notebooks still run within minutes.
# The names are graders.engine.sandbox.THREAD_VARIABLES, written out again because this module runs in
# the sandbox, where `graders` is not importable (only graders/inside/ is mounted, run as scripts);
# tests/engine/test_sandbox.py checks that the two lists agree.
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS',
                    'NUMEXPR_NUM_THREADS', 'BLIS_NUM_THREADS')
DEFAULT_KERNEL_ENV = {**{name: '1' for name in THREAD_VARIABLES},
                      # Headless plotting whatever the user's matplotlib configuration says.
                      'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}

# Version of the JSON summary the script writes (checked by the reader).
SUMMARY_FORMAT = 2
# Caps on what one error carries, so that a summary stays small whatever a notebook raises.
EVALUE_CHARS = 1000
TRACEBACK_LINES = 16
TRACEBACK_CHARS = 3000
# Figures (images the cells displayed) sent back as thumbnails for the report: at most this many, this side.
FIGURES_MAX, FIGURE_SIDE = 6, 200

_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')


@dataclass
class CellError:
    """An error raised by one code cell (`index` counts all cells of the notebook from 0).

    traceback: the last lines of the kernel's traceback, without terminal colours (may be empty,
    e.g. for a timeout or a dead kernel).
    """
    index: int
    ename: str
    evalue: str
    traceback: str = ''

    def __str__(self) -> str:
        return f'cell {self.index}: {self.ename}: {self.evalue}'


@dataclass
class NotebookRun:
    """The outcome of `execute_notebook`.

    - notebook: the executed notebook (outputs filled in; write it with nbformat.write)
    - errors: the cells that raised, in order (a timeout or a dead kernel is one too; the cells
      after it were not run)
    - elapsed: seconds from starting the kernel to the end of the probes (so far, in progress reports)
    - probes: name -> value (JSON types) of each probe that evaluated
    - probe_errors: name -> 'ExcType: message' of each probe that raised, or '*' -> why no probe ran
    - code_cells: indexes of the notebook's code cells
    - executed: code cells that ran to their end (with or without an error)
    - running: the cell being executed (set while in progress, None once the cells are done)
    - budget_ran_out: the run stopped because `budget` ran out (its last error says during which cell)
    """
    path: Path
    notebook: Any
    errors: list[CellError] = field(default_factory=list)
    elapsed: float = 0.0
    probes: dict[str, Any] = field(default_factory=dict)
    probe_errors: dict[str, str] = field(default_factory=dict)
    code_cells: list[int] = field(default_factory=list)
    executed: list[int] = field(default_factory=list)
    running: int | None = None
    budget_ran_out: bool = False

    @property
    def ok(self) -> bool:
        """True when no cell raised (probe failures are reported separately)."""
        return not self.errors

    @property
    def not_run(self) -> list[int]:
        """Code cells that never ran to their end and did not fail (after a stop, timeout or death)."""
        done = set(self.executed) | {e.index for e in self.errors}
        return [i for i in self.code_cells if i not in done]


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


def short_traceback(lines: Sequence[str]) -> str:
    """The last TRACEBACK_LINES lines of an IPython traceback (a list of coloured chunks), as text."""
    text = _ANSI.sub('', '\n'.join(str(line) for line in lines))
    tail = [line.rstrip() for line in text.splitlines() if line.strip(' -')][-TRACEBACK_LINES:]
    return '\n'.join(tail)[-TRACEBACK_CHARS:]


def _output_errors(cell: Any, index: int) -> list[CellError]:
    """The error outputs that a code cell recorded (the traceback without its last line when that
    only repeats the error)."""
    errors = []
    for output in cell.get('outputs', []):
        if output.get('output_type') == 'error':
            error = CellError(index, str(output.get('ename', '?')), str(output.get('evalue', '')))
            lines = short_traceback(output.get('traceback') or []).splitlines()
            if lines and lines[-1].strip() == f'{error.ename}: {error.evalue}'.strip():
                lines.pop()
            error.traceback = '\n'.join(lines)
            errors.append(error)
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
    started = time.monotonic()
    try:
        client.execute_cell(cell, index, store_history=False)
    finally:
        client.timeout = saved_timeout
        client.nb.cells.pop()
    text = ''.join(o.get('text', '') for o in cell.outputs
                   if o.get('output_type') == 'stream' and o.get('name') == 'stdout')
    errors = [o for o in cell.outputs if o.get('output_type') == 'error']
    if start not in text or end not in text:
        why = (f'CellTimeoutError: the probes ran for more than {timeout} s'
               if time.monotonic() - started >= timeout else
               f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else 'no probe output')
        return {}, {'*': why}
    payload = json.loads(text.split(start, 1)[1].split(end, 1)[0])
    return payload['values'], payload['errors']


def _timeout_error(index: int, timeout: float, budget_ran_out: bool, budget: float | None) -> CellError:
    if budget_ran_out:
        why = f"the notebook's time budget ({budget:g} s) ran out during this cell"
    else:
        why = f'the cell ran for more than {timeout:g} s'
    return CellError(index, 'CellTimeoutError', why)


def execute_notebook(path: str | os.PathLike, cwd: str | os.PathLike | None = None,
                     timeout_per_cell: int = DEFAULT_TIMEOUT_PER_CELL,
                     probes: Mapping[str, str] | None = None, *,
                     stop_on_error: bool = False,
                     budget: float | None = None,
                     on_progress: Callable[[NotebookRun], None] | None = None,
                     kernel_name: str = 'python3',
                     kernel_manager_factory: Callable[[], AsyncKernelManager] | None = None,
                     kernel_cmd_prefix: Sequence[str] | None = None,
                     env: Mapping[str, str] | None = None,
                     probe_timeout: int = DEFAULT_PROBE_TIMEOUT) -> NotebookRun:
    """Execute the notebook at `path` top to bottom in a fresh kernel, then evaluate `probes` in it.

    - cwd: the kernel's working directory (default: the notebook's folder)
    - timeout_per_cell: seconds any one cell may run; a cell over it ends the run (recorded as an
      error named CellTimeoutError; the kernel is interrupted, so the probes still run)
    - probes: name -> Python expression, evaluated in the kernel's namespace after the last cell
      (also after failed cells, so that partial work can still be graded)
    - stop_on_error: stop at the first cell that raises (default: run every cell, as
      "Restart & Run All" with errors allowed would)
    - budget: seconds all the cells may take together (the probes come on top); the cell running
      when it runs out is a CellTimeoutError that says so
    - on_progress: called with the run before and after each cell (progress reports)
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
    # error_on_timeout: after interrupting a cell over its timeout, return at once instead of waiting
    # for the kernel, which a cell that swallows KeyboardInterrupt would keep busy forever.
    client = NotebookClient(nb, km=km, kernel_name=kernel_name, timeout=timeout_per_cell,
                            allow_errors=True, interrupt_on_timeout=True,
                            error_on_timeout={'ename': 'CellTimeoutError', 'evalue': 'timed out',
                                              'traceback': []},
                            resources={'metadata': {'path': str(cwd)}})
    run = NotebookRun(path=path, notebook=nb,
                      code_cells=[i for i, cell in enumerate(nb.cells) if cell.cell_type == 'code'])
    started = time.monotonic()
    deadline = started + budget if budget is not None else None

    def progress():
        run.elapsed = time.monotonic() - started
        if on_progress is not None:
            on_progress(run)

    kernel_env = {**DEFAULT_KERNEL_ENV, **os.environ, **(env or {})}
    # cleanup_kc: shut the kernel down afterwards even though we, not nbclient, made its manager.
    with client.setup_kernel(env=kernel_env, cwd=str(cwd), cleanup_kc=True):
        kernel_alive = True
        for index in run.code_cells:
            cell = nb.cells[index]
            timeout, budget_ran_out = float(timeout_per_cell), False
            if deadline is not None and deadline - time.monotonic() < timeout:
                timeout, budget_ran_out = deadline - time.monotonic(), True
                if timeout < 1:
                    run.errors.append(_timeout_error(index, 0, True, budget))
                    run.budget_ran_out = True
                    break
            client.timeout = max(1, math.floor(timeout))
            run.running = index
            progress()
            cell_started = time.monotonic()
            failure = None
            try:
                client.execute_cell(cell, index)
            except DeadKernelError as e:
                failure = CellError(index, 'DeadKernelError', str(e) or 'the kernel died')
                kernel_alive = False
            except Exception as e:  # a client failure (the kernel's own errors are outputs)
                failure = CellError(index, getattr(e, 'ename', type(e).__name__), str(getattr(e, 'evalue', e)))
            # On a timeout nbclient interrupts the kernel (so that it stays usable for the probes) and
            # the cell may end with a KeyboardInterrupt: report it as the timeout it is.
            if kernel_alive and time.monotonic() - cell_started >= client.timeout:
                failure = _timeout_error(index, client.timeout, budget_ran_out, budget)
                run.budget_ran_out = budget_ran_out
            if failure is not None:
                run.errors.append(failure)
                break
            raised = _output_errors(cell, index)
            run.errors.extend(raised)
            run.executed.append(index)
            progress()
            if raised and stop_on_error:
                break
        run.running = None
        progress()
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


# -- the sandboxed script ----------------------------------------------------------------------

def summary_dict(run: NotebookRun | None, *, finished: bool, fatal: str | None = None,
                 seconds: float | None = None) -> dict[str, Any]:
    """What the script reports: JSON types only, errors capped (see `graders.notebooks.grading`).

    fatal: why the notebook could not be run at all (unreadable, the kernel did not start), if so.
    """
    run = run or NotebookRun(path=Path(''), notebook=None)
    return {
        'format': SUMMARY_FORMAT, 'finished': finished, 'fatal': fatal,
        'seconds': round(run.elapsed if seconds is None else seconds, 3),
        'code_cells': run.code_cells, 'executed': run.executed, 'running': run.running,
        'errors': [{'index': e.index, 'ename': e.ename[:200], 'evalue': e.evalue[:EVALUE_CHARS],
                    'traceback': e.traceback[-TRACEBACK_CHARS:]} for e in run.errors],
        'probes': run.probes, 'probe_errors': run.probe_errors, 'budget_ran_out': run.budget_ran_out,
    }


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """`write` a temporary file beside `path`, then rename it over `path` (a reader never sees half a
    file, also when the run is killed meanwhile). graders.files.atomic_path does this on the trusted
    side; this module runs in the sandbox, where `graders` is not importable, so it has its own."""
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    write(tmp)
    os.replace(tmp, path)


def write_json_atomically(path: Path, data: Any) -> None:
    """Replace `path` by `data` as JSON in one step."""
    _replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, allow_nan=False, default=str)))


def write_notebook_atomically(path: Path, nb: Any) -> None:
    """The executed notebook so far (its outputs are what the grader reads the printed figures from,
    even when the run is killed later)."""
    _replace_atomically(path, lambda tmp: nbformat.write(nb, str(tmp)))


def figure_thumbnails(nb: Any, cells: Sequence[int] | None = None, limit: int = FIGURES_MAX,
                      side: int = FIGURE_SIDE) -> list[dict[str, Any]]:
    """The first `limit` images (PNG, JPEG) the notebook's code cells displayed (of `cells` only: the
    cells this run executed; the others still hold the outputs saved in the submission), decoded here,
    in the sandbox (`image_decode`: bounded, a decompression bomb refused from its header) and scaled to
    fit `side` pixels square: {'cell', 'shape' [h, w, 3], 'pixels' (base64 of the uint8 RGB pixels)} each, or
    {'cell', 'error'} for one that does not decode. The trusted side checks them and draws the report's
    thumbnails (graders/engine/pictures.py): the images' own bytes never leave the sandbox."""
    import base64
    import io

    import image_decode
    found = []
    wanted = set(range(len(nb.cells)) if cells is None else cells)
    for index, cell in enumerate(nb.cells):
        for output in cell.get('outputs', []) if cell.get('cell_type') == 'code' and index in wanted else ():
            data = output.get('data') or {}
            mime = next((m for m in ('image/png', 'image/jpeg') if m in data), None)
            if mime and len(found) < limit:
                found.append((index, data[mime]))
    figures = []
    for index, encoded in found:
        try:
            raw = base64.b64decode(''.join(encoded) if isinstance(encoded, list) else str(encoded))
            pixels = image_decode.decode(io.BytesIO(raw), side)['thumbnail']
        except Exception as e:  # noqa: BLE001 - whatever the image does, it is one figure's note
            figures.append({'cell': index, 'error': f'{type(e).__name__}: {e}'[:EVALUE_CHARS]})
            continue
        figures.append({'cell': index, 'shape': list(pixels.shape),
                        'pixels': base64.b64encode(pixels.tobytes()).decode('ascii')})
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run one notebook (stopping at its first error), write the summary; 0 unless the summary
    could not be written."""
    parser = argparse.ArgumentParser(description='Execute one notebook and report on it as JSON.')
    parser.add_argument('notebook')
    parser.add_argument('--summary', required=True, help='where the JSON summary goes')
    parser.add_argument('--probes', default='{}', help='JSON object: name -> expression')
    parser.add_argument('--cwd', default=None, help="the kernel's working folder (default: the notebook's)")
    parser.add_argument('--timeout-per-cell', type=int, default=DEFAULT_TIMEOUT_PER_CELL)
    parser.add_argument('--budget', type=float, default=None, help='seconds for all the cells together')
    parser.add_argument('--probe-timeout', type=int, default=DEFAULT_PROBE_TIMEOUT)
    parser.add_argument('--executed', default=None, help='where to write the executed notebook')
    parser.add_argument('--figures', default=None, help="where to write the thumbnails of the figures the "
                                                        "cells displayed (JSON, figure_thumbnails)")
    args = parser.parse_args(argv)
    summary = Path(args.summary)
    started = time.monotonic()
    try:
        probes = json.loads(args.probes)
        def progress(r: NotebookRun) -> None:
            write_json_atomically(summary, summary_dict(r, finished=False))
            if args.executed and r.executed and r.executed[-1] == r.running:   # after a cell
                write_notebook_atomically(Path(args.executed), r.notebook)

        run = execute_notebook(args.notebook, cwd=args.cwd, timeout_per_cell=args.timeout_per_cell,
                               probes=probes, stop_on_error=True, budget=args.budget,
                               probe_timeout=args.probe_timeout, on_progress=progress)
    except Exception as e:  # the notebook cannot be read, or the kernel cannot start
        why = f'{type(e).__name__}: {e}'[:EVALUE_CHARS]
        write_json_atomically(summary, summary_dict(None, finished=True, fatal=why,
                                                    seconds=time.monotonic() - started))
        return 0
    write_json_atomically(summary, summary_dict(run, finished=True))
    if args.executed:
        write_notebook_atomically(Path(args.executed), run.notebook)
    if args.figures:
        # run as a script (python -I): this folder, with image_decode, is not on sys.path by itself
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        ran = sorted(set(run.executed) | {e.index for e in run.errors})
        write_json_atomically(Path(args.figures), figure_thumbnails(run.notebook, ran))
    return 0


if __name__ == '__main__':
    sys.exit(main())
