"""Run a Part 2 folder for real: its run_<model>.sh scripts, its notebooks, test.py and the PDF.

Everything happens in a working copy (`prepare_workdir`), never in the source folder, with CIFAR-10
linked at `data/` and the challenge images beside it. The reference deliverables (logs, plots,
`predictions.csv`, `2_pytorch.pdf`) are made by `hw1grade reference part2`; tests and the training
benchmark use the same functions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from graders import paths
from graders.data import cifar10
from graders.notebooks.runner import NotebookRun, execute_notebook
from graders.part2.train_log import TrainLog, parse_train_log

REFERENCE_PART2 = paths.REFERENCE / '2_pytorch'
MODELS = ('softmax', 'twolayernn', 'convnet', 'mymodel')
NOTEBOOKS = ('softmax-classifier.ipynb', 'filter-viz.ipynb')
# Run outputs that a working copy makes itself; never copied from the source.
OUTPUTS = ('__pycache__', 'data', '*.pt', '*.log', '*.png', '*.pdf', 'predictions.csv')


@dataclass
class TrainingRun:
    """One run_<model>.sh: its parsed log, wall time and exit status."""
    model: str
    log: TrainLog
    seconds: float
    returncode: int

    @property
    def accuracy(self) -> float | None:
        return self.log.test_accuracy


def prepare_workdir(dest: Path, cifar_root: Path, challenge_images: Path | None = None,
                    source: Path = REFERENCE_PART2) -> Path:
    """Copy `source` (symlinks resolved, no run outputs) to `dest`, link CIFAR-10 at dest/data and
    copy the challenge's test_images.npy there."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*OUTPUTS))
    cifar10.place(cifar_root, dest / 'data')
    if challenge_images is not None:
        shutil.copy(challenge_images, dest / 'data' / 'test_images.npy')
    return dest


def run_in(workdir: Path, *command: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a command in workdir with this interpreter's environment first on PATH (so `python` is it)."""
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}')
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def train(workdir: Path, model: str, timeout: float | None = None) -> TrainingRun:
    """Run `sh run_<model>.sh` (which tees <model>.log) and parse the log it left."""
    started = time.monotonic()
    proc = run_in(workdir, 'sh', f'run_{model}.sh', timeout=timeout)
    seconds = time.monotonic() - started
    log_path = workdir / f'{model}.log'
    log = parse_train_log(log_path.read_text() if log_path.exists() else '')
    # `... | tee` hides python's exit status; a log without its test line means the run failed.
    failed = proc.returncode or log.test_accuracy is None
    if failed:
        sys.stderr.write(proc.stderr[-3000:])
    return TrainingRun(model, log, seconds, 1 if failed else 0)


def render_notebooks(workdir: Path, probes: dict[str, dict[str, str]] | None = None) -> dict[str, NotebookRun]:
    """Execute the loss/accuracy and filter notebooks in workdir; they save the plots there, and each
    notebook is saved with its outputs, as a student saves it (the collector reports unrun notebooks)."""
    probes = probes or {}
    runs = {}
    for name in NOTEBOOKS:
        runs[name] = run = execute_notebook(workdir / name, workdir, probes=probes.get(name))
        if run.notebook is not None:
            nbformat.write(run.notebook, workdir / name)
    return runs


def predict_challenge(workdir: Path, model: str = 'mymodel') -> Path:
    """Write predictions.csv for the challenge images with <model>.pt, averaging each image and its mirror."""
    proc = run_in(workdir, 'python', 'test.py', '--model', f'{model}.pt', '--test-dir', 'data', '--flip-tta')
    if proc.returncode:
        raise RuntimeError(f'test.py failed:\n{proc.stderr[-3000:]}')
    return workdir / 'predictions.csv'


def make_pdf(workdir: Path) -> Path:
    """Collect the plots into 2_pytorch.pdf with the folder's own make_pdf.py."""
    proc = run_in(workdir, 'python', 'make_pdf.py')
    if proc.returncode:
        raise RuntimeError(f'make_pdf.py failed:\n{proc.stderr[-3000:]}')
    return workdir / '2_pytorch.pdf'


def reference_part2(args) -> int:
    """`hw1grade reference part2`: train the reference models and make every Part 2 deliverable."""
    from graders.data.challenge import IMAGES_FILE, default_labels
    from graders.engine.rubric import load_rubric

    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    cifar_root = cifar10.ensure_cifar10()
    # The challenge the grader scores: built with the course secret (or the demo one) in the cache.
    images = default_labels(cifar_root, settings=load_rubric().settings).parent.parent / 'students' / IMAGES_FILE
    workdir = prepare_workdir(out, cifar_root, images)
    failed = False
    for model in args.models:
        run = train(workdir, model)
        failed |= bool(run.returncode)
        accuracy = 'no test line' if run.accuracy is None else f'{run.accuracy:.4f}'
        print(f'{model:<11} test accuracy {accuracy}   {run.seconds / 60:5.1f} min', flush=True)
    for name, run in render_notebooks(workdir).items():
        failed |= not run.ok
        print(f'{name:<26} {"ok" if run.ok else run.errors[0]}   {run.elapsed:5.1f} s', flush=True)
    if 'mymodel' in args.models:
        print(f'challenge predictions: {predict_challenge(workdir, "mymodel")}')
    print(f'plots: {make_pdf(workdir)}')
    return 1 if failed else 0


def add_reference_commands(subparsers) -> None:
    """The `reference` group: `hw1grade reference part2`."""
    group = subparsers.add_parser('reference', help='produce the reference deliverables')
    commands = group.add_subparsers(metavar='COMMAND', required=True)
    part2 = commands.add_parser(
        'part2', help='train the Part 2 models and make logs, plots, predictions.csv and 2_pytorch.pdf',
        description='Copies reference/2_pytorch to OUT, links CIFAR-10 at OUT/data, runs each '
                    'run_<model>.sh, both notebooks, test.py (challenge predictions of mymodel) and make_pdf.py.')
    part2.add_argument('--out', default='out/2_pytorch', help='working folder (replaced; default out/2_pytorch)')
    part2.add_argument('--models', nargs='+', choices=MODELS, default=list(MODELS),
                       help='which models to train (default: all four)')
    part2.set_defaults(handler=reference_part2)
