"""Fixtures for Part 2: a working copy of the reference folder with tiny data beside it."""
import sys

import numpy as np
import pytest

from fixtures import tiny_cifar
from graders.data import cifar10
from graders.course.part2_runs import REFERENCE_PART2, prepare_workdir, run_in

sys.path.insert(0, str(REFERENCE_PART2))  # the reference's `models` package, for in-process model tests


def run_ok(workdir, *command):
    """Run a command in workdir and return its stdout; fail the test with its output if it fails."""
    proc = run_in(workdir, *command, timeout=900)
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
    """A working copy of the reference Part 2 on the tiny data, with 25 challenge images."""
    images, _ = cifar10.load_batch(tiny_cifar_root / cifar10.TEST_BATCH)
    np.save(tmp_path / 'test_images.npy', images[:25])
    return prepare_workdir(tmp_path / '2_pytorch', tiny_cifar_root, tmp_path / 'test_images.npy')
