"""Isolation levels, the seccomp filter and cross-talk between grades (issue 11 items 4-5, issue 19 item 4).

Each level is tried for real where this host allows it (and in CI, which has bubblewrap as root, all
three): 'bubblewrap', 'namespaces' (bubblewrap pretended unusable) and 'rlimits' (namespaces pretended
denied too). The 'rlimits' tests run as a uid of their own (conftest.CROSSTALK_UID): that level sweeps
what its uid leaves behind, which must not touch the other tests' sandboxes.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from graders.engine import seccomp
from graders.engine.sandbox import LEVELS, Sandbox
from tests.helpers import CROSSTALK_UID, ROOT, level_sandbox

ATTACKS = ROOT / 'fixtures' / 'hostile' / 'kernel_attacks.py'
SECRET = 'hw1grade-crosstalk-7f3a'


def interpreter(box: Sandbox) -> str:
    """The grader's interpreter where the sandbox uid can start it; at the 'rlimits' level, where it
    may sit in a private folder (this very machine), the system's (the fixture needs only the
    standard library)."""
    if box.private_view:
        return box.python
    for candidate in (box.python, '/usr/bin/python3'):
        probe = box.run([candidate, '-c', 'pass'], timeout=30)
        if probe.ok:
            return candidate
    pytest.skip('no interpreter the sandbox uid can start at the rlimits level')


def attack(box: Sandbox, name: str) -> dict:
    result = box.run([interpreter(box), 'kernel_attacks.py', name], timeout=60)
    assert result.ok, result
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def fresh_box():
    """Sandbox(level) on a scratch folder holding the fixture, in /tmp itself: at the 'rlimits' level the
    sandbox uid must reach it without mounts (pytest's own tmp folders are private to root)."""
    made = []

    def make(level: str) -> Sandbox:
        folder = Path(tempfile.mkdtemp(prefix='hw1grade-test-'))
        made.append(folder)
        shutil.copy(ATTACKS, folder / 'kernel_attacks.py')
        return level_sandbox(folder, isolation=level, uid=CROSSTALK_UID)
    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


# -- the filter --------------------------------------------------------------------------------------

HEADERS = {'x86_64': '/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'aarch64': '/usr/include/asm-generic/unistd.h'}


@pytest.mark.parametrize('arch', ['x86_64', 'aarch64'])
def test_syscall_numbers_match_the_kernel_headers(arch):
    header = Path(HEADERS[arch])
    if not header.is_file():
        pytest.skip('no %s here' % header)
    defined = {m.group(1): int(m.group(2)) for m in
               re.finditer(r'#define __NR(?:3264)?_(\w+)\s+(\d+)', header.read_text())}
    numbers = dict(seccomp.denied_numbers(arch, deny_ipc=True), clone=seccomp.CLONE[arch],
                   clone3=seccomp.CLONE3[arch], ioctl=seccomp.IOCTL[arch])
    wrong = {name: (n, defined.get(name)) for name, n in numbers.items() if defined.get(name) != n}
    assert wrong == {}


def test_the_program_is_well_formed_and_refuses_other_arches():
    for arch in ('x86_64', 'aarch64'):
        program = seccomp.build_filter(arch)
        assert len(program) % 8 == 0 and 0 < len(program) // 8 < 256
        assert len(seccomp.build_filter(arch, deny_ipc=True)) > len(program)
    with pytest.raises(seccomp.UnsupportedArch, match='riscv64'):
        seccomp.build_filter('riscv64')


@pytest.mark.parametrize('level', LEVELS)
def test_denied_syscalls_get_eperm_and_honest_code_still_runs(fresh_box, level):
    box = fresh_box(level)
    assert box.isolation_info.seccomp
    seen = attack(box, 'syscalls')
    honest = {'thread': seen.pop('thread'), 'subprocess': seen.pop('subprocess'), 'fork': seen.pop('fork')}
    assert honest == {'thread': 'ok', 'subprocess': 'ok', 'fork': 'ok'}
    assert seen.pop('clone3') == 'ENOSYS'   # glibc then falls back to clone, whose flags are checked
    assert seen == {name: 'EPERM' for name in seen}, seen


# -- nothing carried from one grade to the next -----------------------------------------------------

def host_leftovers(uid: int) -> list[str]:
    found = []
    for path in ('/tmp/' + SECRET, '/var/tmp/' + SECRET, '/dev/shm/' + SECRET, '/tmp/%s.d' % SECRET):
        if os.path.exists(path):
            found.append(path)
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if b'86400.7f3a' in f.read():
                    found.append('process %s' % pid)
        except OSError:
            pass
    with open('/proc/sysvipc/msg') as f:
        found += ['sysv queue ' + line.split()[1] for line in f if line.split()[:1] == [str(0x7f3a7f3a)]]
    return found


@pytest.mark.parametrize('level', LEVELS)
def test_a_grade_leaves_nothing_the_next_can_find(fresh_box, level):
    """Keyring, /tmp, /dev/shm, /var/tmp, SysV IPC, a daemon: what one grade stores, the next never finds."""
    first = fresh_box(level)
    stored = attack(first, 'store')
    assert stored['keyring'] == 'EPERM'        # seccomp: the uid's keyring is out of reach
    assert stored['daemon'] == 'started'
    second = fresh_box(level)
    found = attack(second, 'read')
    assert found == {'keyring': 'EPERM', '/tmp': 'absent', '/dev/shm': 'absent', '/var/tmp': 'absent',
                     '/tmp folder': 'absent', 'sysv_msg': 'absent', 'daemon': 'absent'}
    assert host_leftovers(CROSSTALK_UID) == []


def test_the_rlimits_sweep_spares_scratch_folders(fresh_box):
    """A folder sandbox code made in /tmp goes; another grader's scratch folder (same uid, a sandbox of
    another process: not in this process's list) stays, known by the mark only root can set."""
    import graders.engine.sandbox as sandbox_module
    if os.geteuid() != 0:
        pytest.skip('the sweep runs only as root')
    other = fresh_box('rlimits')
    planted = Path('/tmp/%s.planted' % SECRET)
    planted.mkdir()
    os.chown(planted, CROSSTALK_UID, CROSSTALK_UID)
    sandbox_module._scratches.discard(str(other.scratch))
    try:
        if sandbox_module._unmarked(str(other.scratch)) or not sandbox_module._unmarked(str(planted)):
            pytest.skip('no trusted xattrs on /tmp here: the sweep leaves folders alone')
        fresh_box('rlimits')
        assert other.scratch.is_dir() and (other.scratch / 'kernel_attacks.py').is_file()
        assert not planted.exists()
    finally:
        shutil.rmtree(planted, ignore_errors=True)


# -- an interpreter in a private folder --------------------------------------------------------------

DRIVER = textwrap.dedent('''
    import json, sys, tempfile
    sys.path.insert(0, sys.argv[1])
    from graders.engine.sandbox import Sandbox
    from graders.engine.doctor import python_check
    found = {}
    for level in ('bubblewrap', 'namespaces', 'rlimits'):
        box = Sandbox(tempfile.mkdtemp(), isolation=level, uid=int(sys.argv[2]))
        code = 'import json, os, sys; print(json.dumps([os.getuid(), sys.base_prefix]))'
        run = box.run([box.python, '-I', '-c', code], timeout=60)
        check = python_check(box, ())
        found[level] = {'achieved': box.isolation, 'ok': run.ok, 'out': run.stdout.strip(),
                        'err': run.stderr.strip()[-300:], 'check': [check.ok, check.detail, check.fix]}
    print(json.dumps(found))
''')


def test_an_interpreter_under_a_private_folder_starts_in_the_sandbox(private_venv):
    """bubblewrap and the namespaces level bind the real prefix read-only under traversable parents;
    the rlimits level cannot, and says so with the fix (preflight is then not ok)."""
    if os.geteuid() != 0:
        pytest.skip('the sandbox uid differs from the grader\'s only as root')
    venv, prefix = private_venv
    proc = subprocess.run([str(venv / 'bin' / 'python'), '-I', '-c', DRIVER, str(ROOT), str(CROSSTALK_UID)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    for level in ('bubblewrap', 'namespaces'):
        if found[level]['achieved'] != level:
            if os.environ.get('CI'):
                pytest.fail('%s unavailable in CI' % level)
            continue
        assert found[level]['ok'], found[level]
        assert json.loads(found[level]['out']) == [CROSSTALK_UID, str(prefix)]
        assert found[level]['check'][0], found[level]
    rlimits = found['rlimits']
    assert rlimits['achieved'] == 'rlimits' and not rlimits['ok']
    ok, detail, fix = rlimits['check']
    assert not ok and 'Permission denied' in detail and 'bubblewrap' in fix


def test_rlimits_level_reaches_a_scratch_copy_inside_a_private_temporary_folder():
    """grade() puts the submission in tempfile.mkdtemp() (0700): at the rlimits level, with host paths,
    the sandbox uid must still reach it by its path (not list the folder above it)."""
    if os.geteuid() != 0:
        pytest.skip('the sandbox uid differs from the grader\'s only as root')
    top = Path(tempfile.mkdtemp(prefix='hw1grade-test-'))
    try:
        root = top / '1_cs231n'
        root.mkdir()
        (root / 'layers.py').write_text('x = 1\n')
        box = Sandbox(root, isolation='rlimits', uid=CROSSTALK_UID)
        result = box.run(['sh', '-c', 'cat "$0/layers.py"; ls "$1" || echo unlisted', str(root), str(top)], timeout=30)
        assert result.stdout.split('\n')[:2] == ['x = 1', 'unlisted'], result
    finally:
        shutil.rmtree(top, ignore_errors=True)
