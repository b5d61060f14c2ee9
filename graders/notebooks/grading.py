"""Run a submission's Part 1 notebooks headlessly in the sandbox and report on them for the TA.

Outputs never earn points. For each notebook the report says which starter it comes from (ours, the
official 2019 one real submissions use, or unknown: `graders.notebooks.figures.recognise`), whether it
runs from top to bottom (which cell fails and why, and whether that cell is the starter's or the
student's; which timed out, which never ran), what it *claims* (accuracies printed in the outputs saved
in the submitted .ipynb, read here as data, never executed) and what it *measures*: the figures the
outputs of the grader's own run print (the same parser as the claims, so no variable names are
needed), our starter's probes where the notebook is ours, and the test accuracy scored here from the
predictions of the model the notebook trained (2019 names included).

    run_submission_notebooks(root, make_sandbox) -> [{'name', 'status', 'errors', 'claimed', 'measured',
                                                      'seconds', 'flags'}, ...]

How one notebook runs:
- the whole execution happens inside the sandbox: `graders/inside/run_notebook.py` (nbclient, with
  the kernel as its child) executes a trusted copy of the submitted notebook, read before the run and
  mounted read-only, in the submission's folder; it stops at the first failing cell, evaluates the
  probes of `graders.notebooks.runner` (`probes_without_test_labels`) and writes a JSON summary into the
  scratch folder, which is read back with strict validation (`graders.notebooks.summary`): it is
  untrusted data (a kernel can rewrite it). Nothing executable comes back.
- CIFAR-10 is mounted read-only from `graders.data.withheld.withheld_cifar10()`: the real training
  batches and test images,
  but a test_batch whose labels are all 0. The notebook's test-set predictions come back as probes
  and are scored here against the real labels, so a notebook cannot measure or fake its test accuracy.
- time: each notebook has a budget derived from the reference's measured time
  (`graders.notebooks.budget.notebook_budget`),
  all of them one wall-clock budget; `parallel` of them run at once, the cheapest first; each gets its
  own budget or what is left of the total (its cells stop there, the probes get SUBMISSION_PROBE_SECONDS more)
  and `Sandbox.run` kills the whole process tree at the end of it. The runner
  rewrites its summary before and after each cell, so a notebook killed from outside still says at
  which cell.

This module reads the submitted notebooks and runs them in the sandbox; each other concern has its
module: `budget` (how long), `claims` (what the submitted notebook claims), `summary` (the runner's
summary, validated), `report` (one notebook's report dict), `graders.data.withheld` (the data set).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from graders.data import cifar10
from graders.data.withheld import real_test_labels, withheld_cifar10
from graders.engine import pictures, untrusted
from graders.engine.pictures import Picture
from graders.engine.sandbox import GiB, Limits, MiB, Sandbox
from graders.engine.untrusted import Untrusted
from graders.inside.course_env import NOTES_ENV
from graders.inside.run_notebook import DEFAULT_KERNEL_ENV, DEFAULT_TIMEOUT_PER_CELL
from graders.inside.shown_paths import short_paths
from graders.notebooks.budget import (
    DEFAULT_BUDGET,
    KERNEL_MARGIN,
    MIN_START,
    RUN_ORDER,
    SUBMISSION_PROBE_SECONDS,
    notebook_budget,
)
from graders.notebooks.claims import claimed_accuracies, format_claims
from graders.notebooks.figures import COURSE_2019, recognise
from graders.notebooks.report import FIGURE_CHARS, not_run, notebook_report
from graders.notebooks.runner import NOTEBOOKS, probes_without_test_labels
from graders.notebooks.summary import TEXT_CHARS, Summary, parse_summary
from graders.part1.reference import PART1 as PART1_REFERENCE

# The notebooks hold CIFAR-10 in float64 (1.2 GB for the training images, copies while centering
# and flattening) and im2col buffers of the convnet; the kernel's address space also holds its
# libraries and a thread stack per thread. The reference kernels peaked at 2.7 GB resident and 3.6 GB
# of address space (sampled), too close to PART1_LIMITS' 4 GiB. The CPU time limit follows the budget.
NOTEBOOK_LIMITS = Limits(memory_bytes=6 * GiB, cpu_seconds=900, processes=256, file_bytes=1 * GiB,
                         open_files=1024, tmp_bytes=512 * MiB)

# Notebooks that import the Cython extension.
NEEDS_EXTENSION = ('layers.ipynb', 'convnet.ipynb')

# Where things appear inside the sandbox (bubblewrap), and where the runner's files go in the scratch copy.
DATA_INSIDE = '/opt/data/' + cifar10.FOLDER
NOTEBOOKS_INSIDE = '/opt/notebooks'
DATA_LINK = ('cs231n', 'datasets', cifar10.FOLDER)
OUTPUT_DIR = '.hw1grade-notebooks'
DEMO_IMAGES = ('kitten.jpg', 'puppy.jpg')

# Caps on what is read from the submission and from the runner.
NOTEBOOK_BYTES = 64 * MiB
SUMMARY_BYTES = 4 * MiB
KERNEL_NOTES_BYTES = 64 * 1024
MAX_KERNEL_NOTES = 20
NOTE_CHARS = 300

# The figures the grader's run of a notebook displayed, as the runner's thumbnails: at most this many
# read, from a file of at most this size (run_notebook.FIGURES_MAX of FIGURE_SIDE pixels a side fit).
FIGURES_MAX, FIGURES_BYTES = 6, 2 * MiB

MakeSandbox = Callable[..., Sandbox]


# -- reading the submitted notebooks ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Submitted:
    """One notebook as submitted: its bytes (None when it is missing), or why it could not be read."""
    data: bytes | None = None
    unreadable: str = ''


def snapshot_notebooks(root: Path, names: Sequence[str] = NOTEBOOKS) -> dict[str, Submitted]:
    """The submitted notebooks, read as data (a `Submitted` for each name).

    Take it right after intake, before any submission code ran in the scratch copy, and pass it to
    `run_submission_notebooks`: what is executed and what counts as claimed is then what was submitted.
    """
    snapshot: dict[str, Submitted] = {}
    for name in names:
        try:
            snapshot[name] = Submitted(untrusted.read_file(root, (name,), NOTEBOOK_BYTES))
        except Untrusted as e:
            snapshot[name] = Submitted(unreadable=str(e))
    return snapshot


# -- the sandbox ----------------------------------------------------------------------------------

def _inside(sandbox: Sandbox, dest: str, host: Path) -> str:
    """Where a read-only bind appears to sandboxed code (its host path at the 'rlimits' level)."""
    return dest if sandbox.private_view else str(host)


def _prepare_scratch(root: Path, data_target: str) -> list[str]:
    """A fresh OUTPUT_DIR for the runner's files, root/cs231n/datasets/cifar-10-batches-py ->
    `data_target`, replacing whatever is in the way (never through a link the submission made:
    `graders.engine.untrusted`), and the layers demo's images where the submission lacks them (notes)."""
    untrusted.remove(root, (OUTPUT_DIR,))
    with untrusted.opened_dir(root, (OUTPUT_DIR,), create=True):
        pass
    untrusted.remove(root, DATA_LINK)
    with untrusted.opened_dir(root, DATA_LINK[:-1], create=True) as dir_fd:
        os.symlink(data_target, DATA_LINK[-1], dir_fd=dir_fd)
    return supply_demo_images(root)


def supply_demo_images(root: Path) -> list[str]:
    """kitten.jpg and puppy.jpg beside the notebooks where the submission lacks them (some 2019 zips
    do; layers.ipynb's starter cell reads them): ours, drawn by fixtures/draw_demo_images.py and kept in
    the reference. Returns a note for each one supplied."""
    present = {e.name for e in untrusted.entries(root) if e.kind == untrusted.FILE}
    notes = []
    for name in DEMO_IMAGES:
        if name not in present:
            untrusted.write_file(root, (name,), (PART1_REFERENCE / name).read_bytes())
            notes.append(f'{name} is not in the submission: the grader supplied its own picture for '
                         'the layers notebook\'s convolution demo')
    return notes


def executed_notebook(root: Path, name: str) -> Any:
    """The notebook as the grader's run left it (the runner rewrites it after every cell), parsed as
    untrusted data; None when there is none or it is not a notebook."""
    try:
        raw = untrusted.read_file(root, (OUTPUT_DIR, name), NOTEBOOK_BYTES)
        return nbformat.reads(raw.decode('utf-8'), as_version=4) if raw else None
    except Exception:   # Untrusted, bad JSON or UTF-8, nbformat's many errors: nothing measured from it
        return None


def kernel_notes(root: Path, name: str) -> list[str]:
    """The course-environment shims the notebook's kernel used (graders/inside/course_env.py wrote
    them to the notes file), read as untrusted text: at most MAX_KERNEL_NOTES distinct lines."""
    text = untrusted.read_text(root, (OUTPUT_DIR, f'{Path(name).stem}.notes'), KERNEL_NOTES_BYTES)
    lines = [line.strip()[:NOTE_CHARS] for line in text.splitlines() if line.strip()]
    return list(dict.fromkeys(lines))[:MAX_KERNEL_NOTES]


def notebook_pictures(root: Path, name: str) -> list[Picture]:
    """The report's thumbnails of the figures the grader's run of notebook `name` displayed: the pixels
    the runner decoded in the sandbox (run_notebook.figure_thumbnails), read back as untrusted data, each
    checked and encoded here (graders/engine/pictures.py); a figure that is not what it must be is a note.
    [] when the runner left none (a run stopped by its budget writes no figures)."""
    try:
        raw = untrusted.read_file(root, (OUTPUT_DIR, f'{Path(name).stem}.figures.json'), FIGURES_BYTES)
        listed = json.loads(raw.decode('utf-8')) if raw is not None else []
    except (ValueError, RecursionError) as e:   # a link, a FIFO, too large, not JSON: a note, no pictures
        return [Picture(f'{name}: figures', note=f'no pictures: the runner\'s figures are unreadable ({e})')]
    if not isinstance(listed, list):
        return [Picture(f'{name}: figures', note='no pictures: the runner\'s figures are not a list')]
    found = []
    for figure in listed[:FIGURES_MAX]:
        if not isinstance(figure, dict):
            found.append(Picture(f'{name}: a figure', note='no picture: not a figure'))
            continue
        cell = figure.get('cell')
        title = f'{name}, cell {cell}' if type(cell) is int else f'{name}: a figure'
        if isinstance(figure.get('error'), str):
            found.append(Picture(title, note=f"no picture: it did not decode ({figure['error'][:FIGURE_CHARS]})"))
        else:
            found.append(pictures.thumbnail(title, _figure_pixels(figure)))
    return found


def _figure_pixels(figure: dict) -> np.ndarray | None:
    """The (h, w, 3) uint8 pixels of one figure of the runner ({'shape', 'pixels': base64}); None when
    they are not that (pictures.thumbnail then says so)."""
    shape, encoded = figure.get('shape'), figure.get('pixels')
    if (not isinstance(shape, list) or len(shape) != 3 or shape[2] != 3 or not isinstance(encoded, str)
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= pictures.THUMBNAIL_SIDE
                       for n in shape)):
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    if len(data) != shape[0] * shape[1] * 3:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _extension_built(root: Path) -> bool:
    try:
        listed = untrusted.entries(root, ('cs231n',))
    except untrusted.UnsafeFile:
        return False
    return any(e.kind == untrusted.FILE and e.name.startswith('im2col_cython') and e.name.endswith(('.so', '.pyd'))
               for e in listed)


def _run_one(sandbox: Sandbox, root: Path, name: str, nb_inside: str, *, deadline: float,
             timeout_per_cell: int, ours: bool = True) -> tuple[Summary | None, str, str]:
    """Run one notebook in the sandbox until `deadline`: (validated summary or None, how the runner
    ended if not by itself or by the deadline, why there is no summary). ours: the notebook comes
    from our starter or an unknown one (our probes read our variable names; a 2019 notebook's
    variables have other names, so only its test predictions are asked for)."""
    left = deadline - time.monotonic()
    probes = probes_without_test_labels(name, ours)
    out_name = Path(name).stem
    summary_inside = f'{sandbox.inside(root)}/{OUTPUT_DIR}/{out_name}.json'
    argv = [sandbox.python, '-I', '-B', sandbox.inside_dir + '/run_notebook.py', nb_inside,
            '--summary', summary_inside, '--executed', f'{sandbox.inside(root)}/{OUTPUT_DIR}/{name}',
            '--figures', f'{sandbox.inside(root)}/{OUTPUT_DIR}/{out_name}.figures.json',
            '--cwd', sandbox.inside(root), '--probes', json.dumps(probes),
            '--timeout-per-cell', str(timeout_per_cell), '--probe-timeout', str(SUBMISSION_PROBE_SECONDS),
            '--budget', f'{max(1.0, left - SUBMISSION_PROBE_SECONDS - KERNEL_MARGIN):.0f}']
    # The kernel (not the runner, which runs with -I) starts with the course's environment
    # (graders/inside/kernel_site/sitecustomize.py), noting each shim it uses in the notes file.
    env = sandbox.env(threads=1, extra={'MPLBACKEND': DEFAULT_KERNEL_ENV['MPLBACKEND'],
                                        'PYTHONPATH': sandbox.inside_dir + '/kernel_site',
                                        NOTES_ENV: f'{sandbox.inside(root)}/{OUTPUT_DIR}/{out_name}.notes'})
    result = sandbox.run(argv, timeout=left, cwd=root, env=env)
    ended = '' if result.ok or result.timed_out else result.killed or sandbox.describe_exit(result.returncode)
    try:
        raw = untrusted.read_file(root, (OUTPUT_DIR, f'{out_name}.json'), SUMMARY_BYTES)
        if raw is None:
            raise Untrusted('the notebook runner wrote no summary')
        return parse_summary(raw, list(probes)), ended, ''
    except Untrusted as e:
        # the runner's own traceback, its files as a student names them (graders/inside/shown_paths.py)
        tail = short_paths(result.stderr.strip()[-4 * TEXT_CHARS:], (root,))[-TEXT_CHARS:]
        exit_text = ended or result.killed or sandbox.describe_exit(result.returncode)
        return None, ended, f'{e} ({exit_text})' + (f':\n{tail}' if tail else '')


def _parse_notebooks(snapshot: Mapping[str, Submitted], names: Sequence[str]
                     ) -> tuple[dict[str, dict], dict[str, tuple[Any, dict[str, float], bytes]]]:
    """(reports of the notebooks that cannot run, {name: (notebook, claims, bytes)} of the others)."""
    reports, notebooks = {}, {}
    for name in names:
        submitted = snapshot.get(name, Submitted())
        raw = submitted.data
        if submitted.unreadable:
            reports[name] = not_run(name, 'unreadable', [submitted.unreadable])
        elif raw is None:
            reports[name] = not_run(name, 'missing', [f'{name} is not in the submission'])
        else:
            try:
                nb = nbformat.reads(raw.decode('utf-8'), as_version=4)
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                reports[name] = not_run(name, 'not valid JSON', [f'{name} is not a notebook ({type(e).__name__})'])
                continue
            except Exception as e:  # nbformat's conversions raise many things on odd notebooks
                reports[name] = not_run(name, 'not a notebook', [f'{name}: {type(e).__name__}: {e}'[:TEXT_CHARS]])
                continue
            notebooks[name] = (nb, claimed_accuracies(nb), raw)
    return reports, notebooks


def _run_in_sandbox(root: Path, notebooks: Mapping[str, tuple[Any, dict[str, float], bytes]],
                    make_sandbox: MakeSandbox, *, deadline: float, budget_s: float, parallel: int,
                    timeout_per_cell: int, cifar_dir: Path | None) -> dict[str, dict]:
    """Run `notebooks` in one sandbox, `parallel` at a time, cheapest first; their reports."""
    try:
        withheld = withheld_cifar10(cifar_dir)
        labels = real_test_labels(cifar_dir)
    except cifar10.DataError as e:
        return {name: not_run(name, 'not run', [f'CIFAR-10 is not available to the grader: {e}'],
                               format_claims(claims)) for name, (_, claims, _) in notebooks.items()}
    with tempfile.TemporaryDirectory(prefix='hw1grade-notebooks-') as copies:
        # What runs is the notebook as read here, mounted read-only: code that ran in the scratch
        # copy before (the checks, another notebook) cannot change it.
        copies_dir = Path(copies)
        copies_dir.chmod(0o755)
        for name, (_, _, raw) in notebooks.items():
            (copies_dir / name).write_bytes(raw)
            (copies_dir / name).chmod(0o644)
        limits = dataclasses.replace(NOTEBOOK_LIMITS, cpu_seconds=int(budget_s) + 60)
        sandbox = make_sandbox(limits=limits, ro_binds={DATA_INSIDE: str(withheld), NOTEBOOKS_INSIDE: copies})
        supplied = _prepare_scratch(root, _inside(sandbox, DATA_INSIDE, withheld))
        if sandbox.as_root:
            untrusted.chown(root, (OUTPUT_DIR,), sandbox.uid)
        note = ''
        if any(name in NEEDS_EXTENSION for name in notebooks) and not _extension_built(root):
            from graders.part1.build import build_extension
            build = build_extension(root, sandbox, timeout=max(1.0, min(300.0, deadline - time.monotonic())))
            if not build.ok:
                note = f'the Cython extension did not build: {build.message}'[:TEXT_CHARS]

        def run(name: str) -> dict:
            nb, claims, _ = notebooks[name]
            try:
                if deadline - time.monotonic() < MIN_START:
                    return not_run(name, 'not run', [f'the time budget for the notebooks ({budget_s:g} s) '
                                                      'was used up before this one started'], format_claims(claims))
                nb_inside = f'{_inside(sandbox, NOTEBOOKS_INSIDE, copies_dir)}/{name}'
                own_deadline = min(deadline, time.monotonic() + notebook_budget(name))
                starter = recognise(name, nb)
                summary, ended, why = _run_one(sandbox, root, name, nb_inside, deadline=own_deadline,
                                               timeout_per_cell=timeout_per_cell, ours=starter != COURSE_2019)
                if summary is None:
                    return not_run(name, 'runner failed', [why], format_claims(claims))
                report = notebook_report(name, nb, claims, summary, labels,
                                         note if name in NEEDS_EXTENSION else '', ended,
                                         starter=starter, executed=executed_notebook(root, name))
                report['notes'] = (supplied if name == 'layers.ipynb' else []) + kernel_notes(root, name)
                report['pictures'] = notebook_pictures(root, name)
                return report
            except Exception as e:  # the grader's own failure: still one report per notebook
                return not_run(name, 'not run', [f'the grader failed: {type(e).__name__}: {e}'],
                                format_claims(claims))

        order = sorted(notebooks, key=lambda n: RUN_ORDER.index(n) if n in RUN_ORDER else len(RUN_ORDER))
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            return dict(zip(order, pool.map(run, order)))


def run_submission_notebooks(root: Path, make_sandbox: MakeSandbox | None = None, *,
                             budget_s: float = DEFAULT_BUDGET, names: Sequence[str] = NOTEBOOKS,
                             parallel: int = 2, timeout_per_cell: int = DEFAULT_TIMEOUT_PER_CELL,
                             snapshot: Mapping[str, Submitted] | None = None,
                             cifar_dir: Path | None = None) -> list[dict]:
    """Execute the submission's notebooks `names` (in `root`) in the sandbox; one report dict each, in
    the order of `names`: name, status ('ok', 'error in cell N', 'timed out at cell N', 'kernel died
    at cell N', 'missing', 'not valid JSON', 'not run', ...), errors (strings), claimed, measured,
    seconds, flags (claimed vs measured gaps, also appended to measured).

    make_sandbox: called as make_sandbox(limits=..., ro_binds=...) -> a Sandbox of `root` (default
        Sandbox(root, ...)); one sandbox serves all the notebooks.
    budget_s: wall-clock seconds for everything; parallel: notebooks run at once.
    snapshot: `snapshot_notebooks(root)` taken before other code ran in the scratch copy (default: now).
    cifar_dir: the real cifar-10-batches-py (default: the cache's).
    Every failure becomes a status; nothing raises for a bad submission.
    """
    deadline = time.monotonic() + budget_s
    root = Path(root).resolve()
    snapshot = snapshot if snapshot is not None else snapshot_notebooks(root, names)
    reports, notebooks = _parse_notebooks(snapshot, names)
    if notebooks:
        try:
            reports.update(_run_in_sandbox(
                root, notebooks, make_sandbox or (lambda **kwargs: Sandbox(root, **kwargs)),
                deadline=deadline, budget_s=budget_s, parallel=parallel, timeout_per_cell=timeout_per_cell,
                cifar_dir=cifar_dir))
        except Exception as e:  # the grader's own failure (data, scratch folder): still a report each
            for name, (_, claims, _) in notebooks.items():
                reports[name] = not_run(name, 'not run', [f'the grader failed: {type(e).__name__}: {e}'],
                                         format_claims(claims))
    return [reports[name] for name in names]


__all__ = ['run_submission_notebooks', 'snapshot_notebooks', 'notebook_report', 'Untrusted', 'NOTEBOOK_LIMITS',
           'DEFAULT_BUDGET']
