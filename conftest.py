"""Fixtures shared by every test: the built reference, and real CIFAR-10."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
PART1 = ROOT / 'reference' / '1_cs231n'


def _build_cython_extension():
    """Build im2col_cython in place, the way students do, if it is not built yet."""
    try:
        import cs231n.im2col_cython  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, 'setup.py', '-q', 'build_ext', '--inplace'],
                       cwd=PART1 / 'cs231n', check=True)


def pytest_configure(config):
    # reference/1_cs231n is on sys.path (pyproject's `pythonpath`); the fast
    # layers need the extension before any test module imports them.
    _build_cython_extension()


@pytest.fixture(scope='session')
def cifar10_dir():
    """The real cifar-10-batches-py folder, extracted once into the cache.

    Skipped where no archive is available, except under CI, where the real
    data is required and its absence is a failure.
    """
    from graders.data.cifar10 import DataError, ensure_cifar10
    try:
        return ensure_cifar10()
    except DataError as err:
        if os.environ.get('CI'):
            pytest.fail('CI needs the real CIFAR-10 archive: %s' % err)
        pytest.skip('real CIFAR-10 not available: %s' % err)
