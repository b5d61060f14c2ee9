"""scripts/system-packages.sh, the first step of `make setup` (so of `make demo` and `make test`): on a
machine without the Debian packages, a user who is not root is stopped before anything is graded and
told the exact command to run. Simulated cheaply: a PATH without the programs, nothing uninstalled."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / 'scripts' / 'system-packages.sh'


def bare_path(folder: Path) -> str:
    """A PATH folder holding only `id` and an `apt-get` that records any call (it must not be called)."""
    folder.mkdir()
    (folder / 'id').symlink_to(shutil.which('id'))
    fake = folder / 'apt-get'
    fake.write_text(f'#!/bin/sh\necho "$@" >> {folder}/apt-get-called\nexit 0\n')
    fake.chmod(0o755)
    folder.chmod(0o755)
    return str(folder)


def test_not_root_on_a_bare_machine_stops_with_the_install_command():
    # pytest's tmp_path is private to root; uid 65534 needs a folder it can enter.
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        path = Path(bare_path(Path(folder) / 'bin'))
        argv = ['/bin/sh', str(SCRIPT)]
        if os.geteuid() == 0:   # really not root: the script runs as uid 65534
            argv = [shutil.which('setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups', *argv]
        proc = subprocess.run(argv, env={'PATH': str(path)}, capture_output=True, text=True, timeout=60, cwd='/')
        called = (path / 'apt-get-called').exists()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'missing: chromium poppler-utils zip bubblewrap' in proc.stderr
    assert ('sudo apt-get update && sudo apt-get install -y --no-install-recommends '
            'chromium poppler-utils zip bubblewrap') in proc.stderr
    assert not called


def test_pretend_user_stops_even_when_run_as_root(tmp_path):
    path = bare_path(tmp_path / 'bin')
    proc = subprocess.run(['/bin/sh', str(SCRIPT), '--pretend-user'], env={'PATH': path},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'sudo apt-get install -y --no-install-recommends chromium poppler-utils zip bubblewrap' in proc.stderr
    assert not (Path(path) / 'apt-get-called').exists()


def test_without_apt_get_it_names_the_packages_and_the_way_out(tmp_path):
    path = bare_path(tmp_path / 'bin')
    (Path(path) / 'apt-get').unlink()
    proc = subprocess.run(['/bin/sh', str(SCRIPT), '--pretend-user'], env={'PATH': path},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'no apt-get here' in proc.stderr and 'HW1_SKIP_SYSTEM_PACKAGES=1' in proc.stderr


@pytest.mark.skipif(not all(shutil.which(p) for p in ('bwrap', 'pdftoppm', 'zip')), reason='packages not installed')
def test_a_machine_with_the_packages_goes_on():
    proc = subprocess.run(['/bin/sh', str(SCRIPT), '--pretend-user'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'all present' in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason='the install branch is taken as root only')
def test_as_root_it_runs_apt_get_update_then_a_noninteractive_install_of_what_is_missing(tmp_path):
    path = Path(bare_path(tmp_path / 'bin'))
    fake = path / 'apt-get'   # records its arguments and DEBIAN_FRONTEND; installs nothing
    fake.write_text(f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {path}/apt-get-called\nexit 0\n')
    proc = subprocess.run(['/bin/sh', str(SCRIPT)], env={'PATH': str(path)}, capture_output=True, text=True,
                          timeout=60)
    calls = (path / 'apt-get-called').read_text().splitlines()
    assert calls == ['noninteractive update -qq',
                     'noninteractive install -y -qq --no-install-recommends chromium poppler-utils zip bubblewrap']
    # The fake installed nothing: the script says so instead of going on to grade.
    assert proc.returncode == 1 and 'still not usable here: chromium poppler-utils zip bubblewrap' in proc.stderr
