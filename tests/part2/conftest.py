"""Fixtures for Part 2: a scratch copy of the reference folder with data beside it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import tiny_cifar
from graders import cifar10

PART2 = Path(__file__).resolve().parents[2] / 'reference' / '2_pytorch'
sys.path.insert(0, str(PART2))  # the reference's `models` package, for in-process model tests


def copy_part2(dest):
    """A copy of reference/2_pytorch (symlinks resolved), to run its scripts without touching the repo."""
    shutil.copytree(PART2, dest, ignore=shutil.ignore_patterns('__pycache__', 'data', '*.pt', '*.log', '*.png'))
    return dest


def run_in(workdir, *command, timeout=900):
    """Run a command in workdir with this venv's python first on PATH; fail with its output."""
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout


@pytest.fixture(scope='session')
def tiny_cifar_root(tmp_path_factory):
    """A cifar-10-batches-py folder of 1100 training and 60 test images (val_samples=1000 leaves 100)."""
    base = tmp_path_factory.mktemp('tiny-cifar')
    archive = tiny_cifar.write_tiny_cifar_archive(base / 'cifar-10-python.tar.gz',
                                                  n_train_per_batch=220, n_test=60)
    return cifar10.ensure_cifar10(archive, cache_dir=base / 'cache')


@pytest.fixture
def tiny_workdir(tmp_path, tiny_cifar_root):
    """A copy of the reference Part 2 with the tiny data linked at data/ and challenge images."""
    workdir = copy_part2(tmp_path / '2_pytorch')
    cifar10.place(tiny_cifar_root, workdir / 'data')
    images, _ = cifar10.load_batch(tiny_cifar_root / cifar10.TEST_BATCH)
    np.save(workdir / 'data' / 'test_images.npy', images[:25])
    return workdir
