"""Fixtures for Part 2: a working copy of the reference folder with tiny data beside it."""
import sys

import numpy as np
import pytest

from graders.course.part2_runs import REFERENCE_PART2, prepare_workdir
from graders.data import cifar10

sys.path.insert(0, str(REFERENCE_PART2))  # the reference's `models` package, for in-process model tests


@pytest.fixture
def tiny_workdir(tmp_path, tiny_cifar_root):
    """A working copy of the reference Part 2 on the tiny data, with 25 challenge images."""
    images, _ = cifar10.load_batch(tiny_cifar_root / cifar10.TEST_BATCH)
    np.save(tmp_path / 'test_images.npy', images[:25])
    return prepare_workdir(tmp_path / '2_pytorch', tiny_cifar_root, tmp_path / 'test_images.npy')
