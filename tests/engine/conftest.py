"""Fixtures of the engine tests: scratch copies, sandboxes and the hostile submission."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, bwrap_sandbox

HOSTILE = ROOT / 'fixtures' / 'hostile'


@pytest.fixture
def scratch(tmp_path):
    """An empty scratch folder for one sandbox."""
    path = tmp_path / 'scratch'
    path.mkdir()
    return path


@pytest.fixture
def open_scratch():
    """A scratch folder in /tmp itself, reachable by the sandbox uid without bubblewrap's mounts
    (pytest's own tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix='hw1grade-test-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_sandbox():
    return bwrap_sandbox


@pytest.fixture
def sandbox(scratch, make_sandbox):
    return make_sandbox(scratch)


@pytest.fixture(scope='module')
def hostile_root(tmp_path_factory):
    """A scratch copy holding fixtures/hostile/hostile.py, shared by a module's tests."""
    root = tmp_path_factory.mktemp('hostile')
    shutil.copy(HOSTILE / 'hostile.py', root / 'hostile.py')
    return root


@pytest.fixture(scope='module')
def hostile_sandbox(hostile_root):
    return bwrap_sandbox(hostile_root)


@pytest.fixture(scope='session')
def private_venv(tmp_path_factory):
    """A venv whose base interpreter lives under a 0700 folder the sandbox uid cannot enter (what pyenv
    or conda in a private home folder give): the system Python 3.11, its standard library hard-linked
    (copied across file systems) into private/py. Made once per session."""
    system = Path('/usr/bin/python%d.%d' % sys.version_info[:2])
    stdlib = Path('/usr/lib/python%d.%d' % sys.version_info[:2])
    if not system.is_file() or not (stdlib / 'os.py').is_file():
        pytest.skip('no system Python %d.%d to copy' % sys.version_info[:2])
    base = tmp_path_factory.mktemp('private-python')
    private = base / 'private'
    private.mkdir(mode=0o700)
    prefix = private / 'py'
    (prefix / 'bin').mkdir(parents=True)
    (prefix / 'lib').mkdir()
    shutil.copy2(system, prefix / 'bin' / system.name)
    if subprocess.run(['cp', '-al', str(stdlib), str(prefix / 'lib')], capture_output=True).returncode:
        shutil.copytree(stdlib, prefix / 'lib' / stdlib.name, symlinks=True,
                        ignore=shutil.ignore_patterns('test', '__pycache__', 'dist-packages'))
    venv = base / 'venv'
    subprocess.run([str(prefix / 'bin' / system.name), '-m', 'venv', '--without-pip', str(venv)], check=True)
    os.chmod(private, 0o700)
    return venv, prefix
