"""Helpers of the self-check tests (tests/test_selfcheck.py, tests/grading/test_part1_verdicts.py): the
students' `check.py` built as `hw1grade starter build` builds it, and run as students run it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from graders.course import selfcheck
from graders.paths import REFERENCE

REFERENCE_CS231N = REFERENCE / '1_cs231n' / 'cs231n'


def build_self_check(dest: Path) -> Path:
    """check.py and selfcheck/ (expected outputs recorded on the reference now) written under dest."""
    selfcheck.write(selfcheck.build_files(), dest)
    return dest


def with_built_extension(part1: Path) -> Path:
    """The reference's built im2col_cython copied into a tree whose .pyx is the reference's (the same
    build): the self-check then does not compile it again for every tree."""
    pyx = part1 / 'cs231n' / 'im2col_cython.pyx'
    if pyx.is_file() and pyx.read_bytes() == (REFERENCE_CS231N / 'im2col_cython.pyx').read_bytes():
        for built in REFERENCE_CS231N.glob('im2col_cython*.so'):
            shutil.copy(built, part1 / 'cs231n' / built.name)
    return part1


def with_cifar10(part1: Path, cifar10_dir: Path) -> Path:
    """The student's cs231n/datasets/cifar-10-batches-py, as get_datasets.sh leaves it (a link here)."""
    target = part1 / 'cs231n' / 'datasets' / 'cifar-10-batches-py'
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(cifar10_dir, target_is_directory=True)
    return part1


def run_self_check(check_root: Path, folder: Path, *, python: str = sys.executable, part: int = 1,
                   select: str | None = None, timeout: int = 600) -> tuple[dict, str]:
    """`python check.py --part N --folder F --json ...` -> (verdicts of the part, the printed table)."""
    out = Path(folder).parent / f'selfcheck-{Path(folder).name}.json'
    argv = [python, str(check_root / 'check.py'), '--part', str(part), '--folder', str(folder), '--json', str(out)]
    if select:
        argv += ['--select', select]
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(argv, cwd=check_root, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.is_file(), proc.stdout + proc.stderr
    return json.loads(out.read_text())[str(part)]['checks'], proc.stdout
