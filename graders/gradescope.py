"""Gradescope: `hw1grade export gradescope` builds autograder.zip; `python -m graders.gradescope` is what
its `run_autograder` runs for each submission.

autograder.zip (unpacked by Gradescope to /autograder/source; shared/specs/gradescope-results.md):
    setup.sh          once per image: system packages, a venv with this grader installed (editable, so the
                      rubric, graders/inside and the reference stay where the grader looks for them)
    run_autograder    per submission: grades /autograder/submission into /autograder/results/results.json
    hw1grade/         pyproject.toml, README.md, graders/, reference/ (sources only)
    data/             optional: cifar-10-python.tar.gz (--cifar10), the challenge labels (--labels)

Every path in run_autograder hangs off $HW1GRADE_AUTOGRADER_ROOT (default /autograder) and the Python
off $HW1GRADE_PYTHON, so the tests can lay the layout out in a temp folder; $HW1GRADE_GRADE_ARGS passes
options to the grade (e.g. --no-notebooks).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLED = ('pyproject.toml', 'README.md', 'graders', 'reference')
SKIPPED_DIRS = {'__pycache__', 'datasets', 'build', '.ipynb_checkpoints', '.pytest_cache'}
SKIPPED_SUFFIXES = ('.so', '.pyd', '.c', '.o', '.pyc')
# Fixed timestamps: the same sources give the same zip.
EPOCH = (2020, 1, 1, 0, 0, 0)

SETUP_SH = r'''#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3.11 python3.11-venv python3.11-dev build-essential bubblewrap util-linux poppler-utils
python3.11 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -e "$SOURCE/hw1grade"
if [ -f "$SOURCE/data/cifar-10-python.tar.gz" ]; then
    /autograder/venv/bin/hw1grade data fetch --from "$SOURCE/data/cifar-10-python.tar.gz" --quiet
fi
'''

RUN_AUTOGRADER = r'''#!/usr/bin/env bash
# Gradescope runs this for each submission (cwd /autograder); results.json is written by the grader,
# atomically, never by redirecting stdout.
set -uo pipefail
ROOT="${HW1GRADE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
PYTHON="${HW1GRADE_PYTHON:-$ROOT/venv/bin/python}"
if [ -f "$SOURCE/data/cifar-10-python.tar.gz" ]; then
    export HW1_CIFAR10_ARCHIVE="$SOURCE/data/cifar-10-python.tar.gz"
fi
LABELS=()
if [ -f "$SOURCE/data/challenge_labels.json" ]; then LABELS=(--labels "$SOURCE/data/challenge_labels.json"); fi
mkdir -p "$ROOT/results"
cd "$SOURCE/hw1grade"   # the bundled grader first on sys.path
# shellcheck disable=SC2086  # HW1GRADE_GRADE_ARGS is a list of options
exec "$PYTHON" -m graders.gradescope "$ROOT/submission" "$ROOT/results" "${LABELS[@]}" ${HW1GRADE_GRADE_ARGS:-}
'''


def _bundled_files(repo: Path):
    """(path, name in the zip) for the grader's sources, sorted."""
    for top in BUNDLED:
        path = repo / top
        candidates = [path] if path.is_file() else sorted(path.rglob('*'))
        for item in candidates:
            rel = item.relative_to(repo)
            if (item.is_file() and not item.is_symlink() and not SKIPPED_DIRS & set(rel.parts)
                    and not item.name.endswith(SKIPPED_SUFFIXES)):
                yield item, f'hw1grade/{rel.as_posix()}'


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False):
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(out: Path, *, cifar10: Path | None = None, labels: Path | None = None,
                     repo: Path = REPO) -> Path:
    """Write OUT/autograder.zip; returns its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / 'autograder.zip'
    with zipfile.ZipFile(target, 'w') as archive:
        _add(archive, 'setup.sh', SETUP_SH.encode(), executable=True)
        _add(archive, 'run_autograder', RUN_AUTOGRADER.encode(), executable=True)
        for path, name in _bundled_files(repo):
            _add(archive, name, path.read_bytes(), executable=path.suffix == '.sh')
        if cifar10:
            archive.write(cifar10, 'data/cifar-10-python.tar.gz')
        if labels:
            archive.write(labels, 'data/challenge_labels.json')
    return target


def uploaded(submission_dir: Path) -> Path:
    """What the student uploaded: the one zip at the top of the submission folder, else the folder."""
    zips = [p for p in sorted(Path(submission_dir).iterdir())
            if p.suffix.lower() == '.zip' and not p.name.startswith('.')] if submission_dir.is_dir() else []
    return zips[0] if len(zips) == 1 else Path(submission_dir)


def run(argv: list[str] | None = None) -> int:
    """run_autograder's grader: grade the upload, write results.json (always) and report.html."""
    from graders.grade import grade
    from graders.rubric import load_rubric
    parser = argparse.ArgumentParser(prog='python -m graders.gradescope')
    parser.add_argument('submission', type=Path)
    parser.add_argument('results', type=Path)
    parser.add_argument('--no-notebooks', action='store_true')
    parser.add_argument('--visible-only', action='store_true')
    parser.add_argument('--select')
    parser.add_argument('--labels', help='the held challenge labels (default: the rubric\'s)')
    args = parser.parse_args(argv)
    rubric = load_rubric()
    if args.labels:
        rubric.settings['challenge']['labels'] = args.labels
    graded = grade(uploaded(args.submission), out_dir=args.results, rubric=rubric, select=args.select,
                   notebooks=not args.no_notebooks, visible_only=args.visible_only)
    print(f'{graded.source}: {graded.score:g} / {graded.max_score:g} (grader in {REPO})')
    return 0


def export_command(args: argparse.Namespace) -> int:
    target = build_autograder(Path(args.out), cifar10=args.cifar10 and Path(args.cifar10),
                              labels=args.labels and Path(args.labels))
    print(target)
    return 0


def add_export_commands(subparsers: argparse._SubParsersAction) -> None:
    """`hw1grade export gradescope`."""
    export = subparsers.add_parser('export', help='package the grader for an LMS')
    commands = export.add_subparsers(metavar='TARGET', required=True)
    gradescope = commands.add_parser(
        'gradescope', help='autograder.zip for a Gradescope programming assignment',
        description='Write OUT/autograder.zip: setup.sh, run_autograder and the grader with its rubric and '
                    'reference. One autograder serves both parts (told apart by the upload).')
    gradescope.add_argument('--out', default='out/gradescope', metavar='OUT', help='default out/gradescope')
    gradescope.add_argument('--cifar10', metavar='PATH', help='bundle this cifar-10-python.tar.gz')
    gradescope.add_argument('--labels', metavar='PATH', help='bundle the challenge labels (challenge_labels.json)')
    gradescope.set_defaults(handler=export_command)


if __name__ == '__main__':
    sys.exit(run())
