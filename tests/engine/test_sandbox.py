"""The bubblewrap sandbox: what sandboxed code cannot see, reach or survive."""
import io
import json
import os
import socket
import stat
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from graders.data.cifar10 import resolve_cache_dir
from graders.engine.sandbox import SANDBOX_UID, SUBMISSION_DIR, Limits, Sandbox, warn_once
from tests.helpers import CROSSTALK_UID, ROOT, host_processes_with, level_sandbox


@pytest.fixture(params=['bubblewrap', 'namespaces'])
def make_sandbox(request):
    """Every containment test at both levels that build the sandbox's own filesystem."""
    return lambda *args, **kwargs: level_sandbox(*args, isolation=request.param, **kwargs)


def py(sandbox, code, timeout=60, **kwargs):
    """Run Python code in the sandbox."""
    return sandbox.run([sandbox.python, '-c', textwrap.dedent(code)], timeout=timeout, **kwargs)


def probe(sandbox, code):
    """Run code that prints one JSON value; that value."""
    result = py(sandbox, code)
    assert result.ok, result
    return json.loads(result.stdout)


def tasks_of(uid: int) -> int:
    """Host processes running as `uid`."""
    count = 0
    for pid in os.listdir('/proc'):
        try:
            if os.stat('/proc/%s' % pid).st_uid == uid and pid.isdigit():
                count += 1
        except OSError:
            pass
    return count


# -- what the sandbox sees ---------------------------------------------------------------------

def test_cannot_read_outside_the_scratch_copy(sandbox, tmp_path):
    canary = tmp_path / 'repo' / 'secret_labels.json'
    canary.parent.mkdir()
    canary.write_text('[3, 8, 8, 0]')
    seen = probe(sandbox, '''
        import json, os, sys
        def readable(p):
            try:
                open(p).read(); return True
            except OSError:
                return False
        print(json.dumps({
            'canary': readable(%r), 'readme': readable(%r),
            'repo': sorted(os.listdir(%r)) if os.path.isdir(%r) else [],
            'graders': os.path.exists(%r), 'reference': os.path.exists(%r),
            'cifar_cache': os.path.exists(%r),
            'inside': sorted(os.listdir('/opt/hw1grade')), 'cwd': os.getcwd()}))
    ''' % (str(canary), str(ROOT / 'README.md'), str(ROOT), str(ROOT), str(ROOT / 'graders'),
           str(ROOT / 'reference'), str(resolve_cache_dir())))
    assert seen['canary'] is False and seen['readme'] is False and seen['cifar_cache'] is False
    assert seen['graders'] is False and seen['reference'] is False
    assert set(seen['repo']) <= {'.venv'}  # only the grader's Python, when the venv lives in the repo
    assert 'worker.py' in seen['inside'] and 'wire.py' in seen['inside']
    assert seen['cwd'] == '/submission'


def test_writes_stay_in_the_scratch_copy(sandbox, scratch, tmp_path):
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    host_tmp = Path('/tmp') / ('hw1grade-escape-%s' % uuid.uuid4().hex)
    seen = probe(sandbox, '''
        import json, sys
        def write(p):
            try:
                open(p, 'w').write('{"score": 100}'); return True
            except OSError as e:
                return type(e).__name__
        print(json.dumps({'results': write(%r), 'tmp': write(%r), 'usr': write('/usr/pwned'),
                          'venv': write(sys.prefix + '/pwned'), 'inside': write('/opt/hw1grade/pwned'),
                          'scratch': write('mine.txt')}))
    ''' % (str(out_dir / 'results.json'), str(host_tmp)))
    assert seen['results'] != True and not (out_dir / 'results.json').exists()  # noqa: E712
    assert seen['tmp'] is True and not host_tmp.exists()  # the sandbox's /tmp is private
    assert seen['usr'] != True and seen['venv'] != True and seen['inside'] != True  # noqa: E712
    assert seen['scratch'] is True
    written = scratch / 'mine.txt'
    assert written.read_text() == '{"score": 100}'
    if os.geteuid() == 0:
        assert written.stat().st_uid == SANDBOX_UID  # a real unprivileged uid on the host


def test_runs_unprivileged(sandbox):
    seen = probe(sandbox, '''
        import json, os
        status = dict(l.split(':', 1) for l in open('/proc/self/status'))
        print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'caps': status['CapEff'].strip(),
                          'bound': status['CapBnd'].strip(), 'pids': sorted(os.listdir('/proc'))}))
    ''')
    assert seen['uid'] != 0 and seen['euid'] != 0
    assert int(seen['caps'], 16) == 0
    if os.geteuid() == 0:
        assert seen['uid'] == SANDBOX_UID and int(seen['bound'], 16) == 0
    # A pid namespace of its own: only bubblewrap's init and the command itself are there.
    assert len([p for p in seen['pids'] if p.isdigit()]) <= 3


def test_no_network(sandbox):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        seen = probe(sandbox, '''
            import json, socket
            def attempt(f):
                try:
                    f(); return 'connected'
                except OSError as e:
                    return type(e).__name__
            def connect(addr):
                s = socket.socket(); s.settimeout(3); s.connect(addr); s.close()
            print(json.dumps({'host_listener': attempt(lambda: connect(('127.0.0.1', %d))),
                              'dns': attempt(lambda: socket.getaddrinfo('example.com', 80)),
                              'outside': attempt(lambda: connect(('1.1.1.1', 53)))}))
        ''' % port)
    finally:
        listener.close()
    assert seen == {'host_listener': 'ConnectionRefusedError', 'dns': 'gaierror',
                    'outside': seen['outside']}
    assert seen['outside'] != 'connected'


# -- limits ------------------------------------------------------------------------------------

def test_memory_limit(sandbox):
    result = py(sandbox, 'import numpy as np; a = np.ones(50 * 10**9 // 8); print(a.sum())')
    assert result.returncode != 0 and not result.timed_out
    assert 'MemoryError' in result.stderr or result.killed


@pytest.mark.parametrize('code', [
    'while True: pass',
    'import numpy as np\na = np.ones((600, 600))\nwhile True: a = a @ a / 600.0',
], ids=['python', 'numpy'])
def test_wall_clock_timeout_kills_loops(sandbox, code):
    start = time.monotonic()
    result = py(sandbox, code, timeout=2)
    assert result.timed_out and 'timed out after 2 s' in result.killed
    assert time.monotonic() - start < 10


def test_timeout_kills_forked_children(sandbox, scratch):
    marker = '%d.%d' % (86400, uuid.uuid4().int % 10 ** 9)
    result = py(sandbox, '''
        import os, subprocess, sys, time
        subprocess.Popen(['sleep', '%(m)s'])
        subprocess.Popen(['sleep', '%(m)s'], start_new_session=True)
        if os.fork() == 0:          # a double-forked daemon, in its own session
            os.setsid()
            if os.fork() == 0:
                open('daemon_started', 'w').close()
                os.execvp('sleep', ['sleep', '%(m)s'])
            os._exit(0)
        while not os.path.exists('daemon_started'):
            time.sleep(0.01)
        print('started', flush=True)
        while True:
            pass
    ''' % {'m': marker}, timeout=3)
    assert result.timed_out and result.stdout.strip() == 'started'
    time.sleep(0.2)
    assert host_processes_with(marker) == []


def test_cpu_limit(scratch, make_sandbox):
    box = make_sandbox(scratch, Limits(cpu_seconds=1))
    result = py(box, 'while True: pass', timeout=30)
    assert not result.timed_out
    assert 'CPU time limit' in result.killed or 'SIGKILL' in result.killed


def test_fork_bomb_is_contained(scratch, make_sandbox):
    limit = 40
    # A uid of its own: the count of the default one moves with every other sandbox on the host.
    box = make_sandbox(scratch, Limits(processes=limit), uid=CROSSTALK_UID + 1)
    uid = box.uid
    before = tasks_of(uid)
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], tasks_of(uid))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.monotonic()
    try:
        result = py(box, '''
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        ''', timeout=3)
    finally:
        done.set()
        watcher.join()
    assert result.timed_out
    assert time.monotonic() - start < 15  # the host stayed responsive enough to kill it at once
    assert 2 <= peak[0] - before <= limit
    time.sleep(0.2)
    assert tasks_of(uid) <= before


def test_file_size_limit(scratch, make_sandbox):
    box = make_sandbox(scratch, Limits(file_bytes=1 << 20))
    result = py(box, "open('big.bin', 'wb').write(b'x' * (2 << 20))")
    assert result.returncode != 0
    assert 'File too large' in result.stderr or 'SIGXFSZ' in (result.killed or '')
    assert (scratch / 'big.bin').stat().st_size <= 1 << 20


def test_output_is_capped(sandbox):
    result = py(sandbox, "import sys; sys.stdout.write('a' * 10**6 + 'END')", output_cap=1000)
    assert result.ok and len(result.stdout) < 1100
    assert result.stdout.startswith('a') and result.stdout.endswith('END') and 'omitted' in result.stdout


# -- without bubblewrap ------------------------------------------------------------------------

def test_missing_bwrap_falls_back_and_warns_once(open_scratch):
    first = Sandbox(open_scratch, bwrap='/nonexistent/bwrap')
    second = Sandbox(open_scratch, bwrap='/nonexistent/bwrap')
    # As root the namespaces level builds the same view without bubblewrap (where the kernel allows).
    assert first.isolation in ('namespaces', 'rlimits')
    assert 'isolation reduced' in first.warning and 'not installed' in first.warning
    assert '\n' not in first.warning
    stream = io.StringIO()
    printed = [warn_once(first, stream), warn_once(second, stream)]
    assert printed.count(True) <= 1 and stream.getvalue().count('isolation reduced') <= 1
    result = first.run(['sh', '-c', 'id -u; pwd'], timeout=20)
    assert result.ok, result
    uid, cwd = result.stdout.split()
    assert int(uid) == (SANDBOX_UID if os.geteuid() == 0 else os.getuid())
    assert cwd == first.root == (SUBMISSION_DIR if first.private_view else str(open_scratch.resolve()))


def test_unusable_bwrap_falls_back(open_scratch, tmp_path):
    fake = tmp_path / 'bwrap'
    fake.write_text('#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    box = Sandbox(open_scratch, bwrap=str(fake))
    assert box.isolation in ('namespaces', 'rlimits')
    assert 'No permissions to create new namespace' in box.warning


def test_forced_rlimits_level_still_drops_privileges_and_filters(open_scratch):
    """The level where no namespace is allowed (Docker's default seccomp profile): forced here."""
    box = Sandbox(open_scratch, isolation='rlimits', uid=CROSSTALK_UID)
    assert box.isolation == 'rlimits' and not box.private_view
    assert box.isolation_info.namespaces == () and box.isolation_info.seccomp
    assert 'isolation reduced to rlimits' in box.warning and 'WITH network access' in box.warning
    result = box.run(['sh', '-c', 'id -u; id -G; pwd; grep -E "^(Seccomp|NoNewPrivs|CapEff|CapBnd):" '
                                  '/proc/self/status'], timeout=20)
    assert result.ok, result
    lines = result.stdout.split('\n')
    status = dict(line.split(':\t') for line in lines[3:] if ':\t' in line)
    assert status['Seccomp'] == '2' and status['NoNewPrivs'] == '1'   # 2: a filter is loaded
    assert int(status['CapEff'], 16) == 0
    if os.geteuid() == 0:
        assert lines[0] == str(CROSSTALK_UID) and lines[1] == str(CROSSTALK_UID)
        assert int(status['CapBnd'], 16) == 0
    assert lines[2] == str(open_scratch.resolve())


def test_rlimits_level_cuts_the_network_where_the_kernel_allows(open_scratch, monkeypatch):
    """Namespaces pretended denied (not forced): the fallback still enters a network namespace when
    the kernel lets root have one, so nothing can be reached."""
    import graders.engine.sandbox as sandbox_module
    if os.geteuid() != 0:
        pytest.skip('only root can enter a network namespace without a user namespace')
    monkeypatch.setattr(sandbox_module, '_namespaces_problem', lambda *a: 'namespaces pretended denied')
    box = Sandbox(open_scratch, bwrap='/nonexistent/bwrap', uid=CROSSTALK_UID)
    assert box.isolation == 'rlimits'
    if 'network' not in box.isolation_info.namespaces:
        pytest.skip('this kernel denies network namespaces: %s' % box.isolation_info.why_not['network'])
    assert 'without network' in box.warning
    result = box.run(['sh', '-c', 'cat /proc/net/dev | tail -n +3 | cut -d: -f1'], timeout=20)
    assert result.ok and result.stdout.split() == ['lo'], result


@pytest.mark.parametrize('level', ['namespaces', 'rlimits'])
def test_reduced_isolation_still_kills_the_tree_on_timeout(open_scratch, level):
    box = Sandbox(open_scratch, isolation=level, uid=CROSSTALK_UID)
    if box.isolation != level:
        pytest.skip(box.warning)
    marker = '%d.%d' % (86400, uuid.uuid4().int % 10 ** 9)
    start = time.monotonic()
    result = box.run(['sh', '-c', 'sleep %s & sleep %s & echo started; while :; do :; done'
                      % (marker, marker)], timeout=2)
    assert result.timed_out and result.stdout.strip() == 'started'
    assert time.monotonic() - start < 10
    time.sleep(0.2)
    assert host_processes_with(marker) == []


def test_one_list_of_thread_variables_inside_and_out(tmp_path):
    """The sandbox's environment pins every BLAS/OpenMP variable, and the notebook kernel's defaults
    (graders/inside keeps its own copy: `graders` is not importable in the sandbox) name the same ones."""
    from graders.engine import sandbox as sandbox_module
    from graders.inside import run_notebook
    assert run_notebook.THREAD_VARIABLES == sandbox_module.THREAD_VARIABLES
    env = Sandbox(tmp_path).env(threads=3)
    assert {name: env[name] for name in sandbox_module.THREAD_VARIABLES} == \
        dict.fromkeys(sandbox_module.THREAD_VARIABLES, '3')
    assert sandbox_module.SANDBOX_UIDS[0] == SANDBOX_UID and len(set(sandbox_module.SANDBOX_UIDS)) == 64
