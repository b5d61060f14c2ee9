"""`hw1grade example build`: the bundled example submissions `examples/1_cs231n.zip` and `examples/2_pytorch.zip`.

Each is made the way a student makes theirs: in a working copy of the reference part, by the part's own
`collect_submission.sh`, once the notebooks have run (Part 1) or the models have been trained and plotted
(Part 2, `hw1grade reference part2`). The zip is then rewritten with its entries sorted and every timestamp
fixed (`normalize_zip`), so the same files always give the same zip.

Both steps that take long can start from earlier results instead: `--part1-from DIR`, a folder with the four
executed Part 1 notebooks (`hw1grade notebooks run --out DIR`, `make demo`); `--part2-from DIR`, the folder
`hw1grade reference part2 --out DIR` made (about 25 minutes of training).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipfile
from pathlib import Path

from graders import paths
from graders.course.part2_runs import MODELS, REFERENCE_PART2, reference_part2, run_in
from graders.data import cifar10
from graders.engine.outcome import UserError
from graders.files import ZIP_DATE, deterministic_zip
from graders.notebooks.runner import NOTEBOOKS, format_summary, run_notebooks

REFERENCE_PART1 = paths.REFERENCE / '1_cs231n'
ZIP_NAMES = {'1': '1_cs231n.zip', '2': '2_pytorch.zip'}
FIXED_DATE = ZIP_DATE  # the earliest date a zip entry can have
# Never copied into a working copy: data, build outputs, caches and earlier deliverables.
NOT_COPIED = ('data', 'cifar-10-batches-py', 'build', '*.so', '*.pyd', 'im2col_cython.c', '__pycache__',
              '.ipynb_checkpoints', '*.pt', '*.zip')


def _not_copied_but_mymodel_weights(folder, names):
    """NOT_COPIED, except MyModel's weights: collect_submission packs them for the Q8.8 cross-check."""
    return set(shutil.ignore_patterns(*NOT_COPIED)(folder, names)) - {'mymodel_weights.pt'}


class ExampleError(UserError, RuntimeError):
    """A step of the build failed (a notebook, the training, collect_submission.sh)."""


def normalize_zip(source: Path, dest: Path) -> Path:
    """Rewrite the zip `source` as `dest`: file entries only, sorted by name, written by
    `graders.files.deterministic_zip` (dated FIXED_DATE, mode 644 or 755 where the entry was
    executable, deflated at level 9)."""
    with zipfile.ZipFile(source) as zin, deterministic_zip(dest) as zout:
        for info in sorted((i for i in zin.infolist() if not i.is_dir()), key=lambda i: i.filename):
            zout.add(info.filename, zin.read(info), executable=bool((info.external_attr >> 16) & 0o111))
    return Path(dest)


def collect(workdir: Path, zip_name: str) -> Path:
    """Run the working copy's `sh collect_submission.sh`; any warning or error fails the build."""
    proc = run_in(workdir, 'sh', 'collect_submission.sh')
    if proc.returncode:
        raise ExampleError(f'collect_submission.sh in {workdir} exited with {proc.returncode}:\n'
                           f'{proc.stdout[-2000:]}{proc.stderr[-3000:]}')
    return workdir / zip_name


def part1_workdir(dest: Path, executed_from: Path | None = None) -> Path:
    """A working copy of the reference Part 1 at `dest` whose four notebooks have been executed.

    With `executed_from`, its executed notebooks are copied in; otherwise the Cython extension is built
    (as students build it), CIFAR-10 is linked at cs231n/datasets and the notebooks run in place."""
    shutil.copytree(REFERENCE_PART1, dest, ignore=shutil.ignore_patterns(*NOT_COPIED, '*.pdf'))
    if executed_from is not None:
        for name in NOTEBOOKS:
            shutil.copy(Path(executed_from) / name, dest / name)  # a missing one is an OSError
        return dest
    proc = run_in(dest / 'cs231n', 'python', 'setup.py', '-q', 'build_ext', '--inplace')
    if proc.returncode:
        raise ExampleError(f'building im2col_cython failed:\n{proc.stderr[-3000:]}')
    cifar10.place(cifar10.ensure_cifar10(), dest / 'cs231n' / 'datasets')
    runs = run_notebooks(dest, dest, log=print)
    if not all(run.ok for run in runs):
        raise ExampleError('a reference notebook failed:\n' + format_summary(runs))
    return dest


def part2_workdir(dest: Path, outputs_from: Path | None = None) -> Path:
    """A working copy at `dest` of a `hw1grade reference part2` folder (made now into a sibling of `dest`
    if `outputs_from` is None), with the reference's extra.md."""
    if outputs_from is None:
        outputs_from = dest.with_name(dest.name + '-run')
        if reference_part2(argparse.Namespace(out=str(outputs_from), models=list(MODELS))):
            raise ExampleError(f'hw1grade reference part2 failed (its outputs are in {outputs_from})')
    if not Path(outputs_from).is_dir():
        raise ExampleError(f'{outputs_from} is not a folder')
    shutil.copytree(outputs_from, dest, ignore=_not_copied_but_mymodel_weights)
    if (REFERENCE_PART2 / 'extra.md').is_file():  # the write-up may be newer than the training run
        shutil.copy(REFERENCE_PART2 / 'extra.md', dest / 'extra.md')
    return dest


def build_example(part: str, out_dir: Path, scratch: Path, source: Path | None = None) -> Path:
    """Make out_dir/<part's zip> in a working copy under `scratch`; `source` is --part<N>-from."""
    if part == '1':
        workdir = part1_workdir(scratch / '1_cs231n', source)
    else:
        workdir = part2_workdir(scratch / '2_pytorch', source)
    out_dir.mkdir(parents=True, exist_ok=True)
    return normalize_zip(collect(workdir, ZIP_NAMES[part]), out_dir / ZIP_NAMES[part])


def example_build(args: argparse.Namespace) -> int:
    """`hw1grade example build`: make the example zips of the chosen parts."""
    sources = {'1': args.part1_from, '2': args.part2_from}
    out_dir = Path(args.out).resolve()
    for part in args.parts:
        source = Path(sources[part]).resolve() if sources[part] else None
        with tempfile.TemporaryDirectory(prefix=f'hw1grade-example{part}.') as scratch:
            try:
                path = build_example(part, out_dir, Path(scratch), source)
            except ExampleError as e:
                print(f'hw1grade: Part {part} example failed: {e}', flush=True)
                return 1
        with zipfile.ZipFile(path) as z:
            print(f'wrote {path} ({len(z.namelist())} files)', flush=True)
    return 0


def add_example_commands(subparsers: argparse._SubParsersAction) -> None:
    """The `example` group: `hw1grade example build`."""
    group = subparsers.add_parser('example', help='build the bundled example submissions')
    commands = group.add_subparsers(metavar='COMMAND', required=True)
    build = commands.add_parser(
        'build', help='make examples/1_cs231n.zip and examples/2_pytorch.zip from the reference',
        description='Each zip is made in a working copy of the reference part by its own collect_submission.sh, '
                    'after the Part 1 notebooks have run or the Part 2 models have been trained and plotted '
                    '(hw1grade reference part2), then rewritten with sorted entries and fixed timestamps.')
    build.add_argument('--out', default='examples', help='where to write the zips (default examples)')
    build.add_argument('--parts', nargs='+', choices=sorted(ZIP_NAMES), default=sorted(ZIP_NAMES),
                       help='which parts to build (default: 1 2)')
    build.add_argument('--part1-from', metavar='DIR',
                       help='take the executed Part 1 notebooks from DIR instead of running them')
    build.add_argument('--part2-from', metavar='DIR',
                       help='take the Part 2 outputs from DIR (made by hw1grade reference part2) '
                            'instead of training the models (about 25 minutes)')
    build.set_defaults(handler=example_build)
