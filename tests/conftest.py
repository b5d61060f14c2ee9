"""Fixtures shared by the tests of several folders (the repository's conftest.py has the session-wide ones)."""
import pytest

from fixtures import tiny_cifar
from graders.data import cifar10


@pytest.fixture(scope='session')
def tiny_cifar_root(tmp_path_factory):
    """A cifar-10-batches-py folder of 1100 training and 60 test images (val_samples=1000 leaves 100):
    Part 2's train.py runs (tests/part2/) and the Part 2 verdicts (tests/grading/)."""
    base = tmp_path_factory.mktemp('tiny-cifar')
    archive = tiny_cifar.write_tiny_cifar_archive(base / 'cifar-10-python.tar.gz',
                                                  n_train_per_batch=220, n_test=60)
    return cifar10.ensure_cifar10(archive, cache_dir=base / 'cache')
