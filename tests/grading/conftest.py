"""Fixtures of the grading tests: whole submissions graded by graders/engine/grade.py, as TAs and students do."""
import os

import pytest

from graders.engine.sandbox import Sandbox


@pytest.fixture(scope='module')
def bubblewrap(tmp_path_factory):
    """Attacks are contained by bubblewrap; without it (outside CI, which installs it) their tests skip."""
    box = Sandbox(tmp_path_factory.mktemp('probe'))
    if box.isolation != 'bubblewrap':
        if os.environ.get('CI'):
            pytest.fail(box.warning)
        pytest.skip(box.warning)


@pytest.fixture(scope='session')
def build_cache(tmp_path_factory):
    """One Cython build for every tree of the session whose extension sources are the reference's."""
    return tmp_path_factory.mktemp('builds')


@pytest.fixture
def no_cifar10(monkeypatch, tmp_path):
    """A machine without CIFAR-10: no archive named, an empty hw1grade cache."""
    monkeypatch.delenv('HW1_CIFAR10_ARCHIVE', raising=False)
    monkeypatch.setenv('HW1_CACHE_DIR', str(tmp_path / 'empty-cache'))
