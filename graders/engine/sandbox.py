"""Run submission code in a sandbox, under resource limits, at the best isolation level this host allows.

Student code is hostile. A `Sandbox` wraps one per-submission scratch copy and turns command lines into
sandboxed processes. At the full level, 'bubblewrap':

- no network (new network namespace), new pid/ipc/uts namespaces, a new session, killed with its
  parent (`--die-with-parent`);
- a filesystem built from nothing (`sandbox_view`): system directories, the grader's Python (the venv
  and the installation it links to, at their real paths, wherever they are: a pyenv under a 0700 home
  folder included, its parents made traversable) and `graders/inside/` (at `/opt/hw1grade`) read-only;
  the scratch copy read-write at `/submission` (the only writable place besides private tmpfs `/tmp`
  and `/dev/shm`). Nothing else of the repository (reference, graders, rubric) and no labels are
  visible;
- an unprivileged uid: as root, bubblewrap runs privileged and the command drops to `uid` (65534,
  nobody) with `setpriv` before it starts, so the host sees a real unprivileged process; as a normal
  user, bubblewrap maps that user into a user namespace;
- a seccomp filter (graders/engine/seccomp.py): keyrings, ptrace, mount, new namespaces, bpf, perf events,
  module loading and the like fail with EPERM;
- rlimits (`Limits`): address space, CPU seconds, processes, file size, open files, no core dumps.

A wall-clock timeout kills the whole tree: the process group and every descendant, and the pid
namespace dies with it, so nothing forked inside survives; `kill` waits until they are gone.

The fallbacks are deliberate (docs/engine.md, "Isolation levels"): where bubblewrap is missing or
refused but the grader is root and the kernel allows namespaces, 'namespaces': graders/engine/confine.py
builds the same view in the same namespaces. Where namespaces are refused too (Docker's default
seccomp profile) or the grader is not root, 'rlimits': host paths, the uid switch as root, a network
namespace where still allowed, the filter (SysV IPC denied too), every limit, and `sweep_leftovers`
removes what the uid left in shared places. `Sandbox.isolation` names the level, `isolation_info`
details it, and below 'bubblewrap' `Sandbox.warning` says so in one line; the caller prints it once
(`warn_once`). $HW1GRADE_ISOLATION or `Sandbox(isolation=...)` caps the level, to test the fallbacks.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from graders import paths

GiB = 1 << 30
MiB = 1 << 20

# Where things appear inside the sandbox.
SUBMISSION_DIR = '/submission'
INSIDE_DIR = '/opt/hw1grade'
INSIDE_SOURCE = paths.INSIDE

CONFINE = Path(__file__).resolve().parent / 'confine.py'

# The isolation levels, best first; $HW1GRADE_ISOLATION (or Sandbox(isolation=...)) caps the level.
LEVELS = ('bubblewrap', 'namespaces', 'rlimits')
ISOLATION_ENV = 'HW1GRADE_ISOLATION'
BWRAP_NAMESPACES = ('mount', 'pid', 'network', 'ipc', 'uts')
# The namespaces the 'rlimits' level still enters where the kernel allows (confine.py's names).
PROBE_NAMES = {'net': 'network', 'ipc': 'ipc', 'uts': 'uts'}

# nobody:nogroup; the host process drops to it when it runs as root.
SANDBOX_UID = 65534
# The uids graders running side by side on one host take for their sandboxes, one each
# (`graders.classroom.batch.uid_slot`): RLIMIT_NPROC counts processes per uid, so graders sharing one
# would starve each other's process budget. SANDBOX_UID first, then the 63 below it.
SANDBOX_UIDS = tuple(range(SANDBOX_UID, SANDBOX_UID - 64, -1))
# The variables that set how many threads BLAS/OpenMP libraries start (OpenBLAS, MKL, Accelerate,
# numexpr, BLIS): pinned for every sandboxed process (`Sandbox.env`) and every batch worker.
# graders/inside/run_notebook.py keeps its own copy (it runs in the sandbox, where `graders` is
# not importable); tests/engine/test_sandbox.py checks that it names the same variables.
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS',
                    'NUMEXPR_NUM_THREADS', 'BLIS_NUM_THREADS')


def thread_env(threads: int) -> dict[str, str]:
    """Every THREAD_VARIABLES pinned to `threads`."""
    return {name: str(threads) for name in THREAD_VARIABLES}

# System directories bound read-only (or recreated as the same symlink, on merged-/usr systems).
SYSTEM_DIRS = ('/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32')
# The few /etc entries programs need: the dynamic linker's cache, the `cc` alternatives the Cython
# build goes through, user and host names. Nothing else of /etc.
ETC_ENTRIES = ('ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'passwd', 'group',
               'nsswitch.conf', 'hosts', 'localtime')


@dataclass(frozen=True)
class Limits:
    """Resource limits of every process in a sandbox (each process gets its own, children inherit them).

    memory_bytes: address space (RLIMIT_AS); numpy raises MemoryError beyond it.
    cpu_seconds: CPU time of one process over its whole life (RLIMIT_CPU, SIGXCPU then SIGKILL a few
        seconds later); a long-lived worker spends it across all its calls.
    processes: processes and threads of the sandbox user (RLIMIT_NPROC); contains fork bombs.
    file_bytes: largest file a process may write (RLIMIT_FSIZE).
    open_files: file descriptors per process (RLIMIT_NOFILE).
    tmp_bytes: size of each private tmpfs (/tmp and /dev/shm); memory-backed, so capped separately.
    """
    memory_bytes: int = 4 * GiB
    cpu_seconds: int = 900
    processes: int = 256
    file_bytes: int = 1 * GiB
    open_files: int = 256
    tmp_bytes: int = 512 * MiB

    def rlimits(self, extra_processes: int = 0) -> list[tuple[int, tuple[int, int]]]:
        """(resource, (soft, hard)) pairs to apply in the child; `extra_processes` are already running."""
        nproc = self.processes + extra_processes
        return [
            (resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes)),
            # The hard limit a little above the soft one: SIGXCPU first, SIGKILL if it is ignored.
            (resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 5)),
            (resource.RLIMIT_NPROC, (nproc, nproc)),
            (resource.RLIMIT_FSIZE, (self.file_bytes, self.file_bytes)),
            (resource.RLIMIT_NOFILE, (self.open_files, self.open_files)),
            (resource.RLIMIT_CORE, (0, 0)),
        ]


# Part 1: numpy and a Cython build. A worker for the PyTorch part needs far more address space
# (torch maps large libraries and per-thread arenas) and CPU time (training).
PART1_LIMITS = Limits()
TORCH_LIMITS = Limits(memory_bytes=8 * GiB, cpu_seconds=3600, processes=512, file_bytes=2 * GiB,
                      open_files=1024, tmp_bytes=2 * GiB)


@dataclass(frozen=True)
class Isolation:
    """The isolation a sandbox achieved, for the doctor table, results.json and the report.

    level: 'bubblewrap', 'namespaces' or 'rlimits' (see the module docstring); namespaces: those the
    sandboxed processes are in ('user', 'mount', 'pid', 'network', 'ipc', 'uts'); why_not: for a namespace
    not used, why; uid_switch: whether they run as an unprivileged uid other than the grader's;
    seccomp: whether the seccomp filter is applied (seccomp_detail says which or why not); not_needed:
    the namespaces not used because what they protect is protected otherwise (as root, the user
    namespace: the uid switch is the privilege drop), which the doctor does not count as missing."""
    level: str
    namespaces: tuple[str, ...]
    why_not: Mapping[str, str]
    uid_switch: bool
    seccomp: bool
    seccomp_detail: str
    not_needed: frozenset[str] = frozenset()

    def summary(self) -> str:
        """One line: the level and what it is made of."""
        parts = ['namespaces: ' + (', '.join(self.namespaces) or 'none'),
                 'uid switch' if self.uid_switch else 'same uid as the grader',
                 'seccomp' if self.seccomp else 'no seccomp', 'resource limits']
        return '%s (%s)' % (self.level, '; '.join(parts))


@dataclass(frozen=True)
class RunResult:
    """What a sandboxed command did. stdout/stderr are decoded and capped (head and tail kept)."""
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    killed: str | None  # why it was killed (timeout, a signal, a limit), None if it exited by itself

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.killed is None


class CappedOutput:
    """Drains a pipe on a thread and keeps its first and last `cap // 2` bytes.

    Draining continuously matters: a child blocked on a full pipe would look like a hang.
    """

    def __init__(self, pipe, cap: int = 64 * 1024):
        self._pipe = pipe
        self._half = max(cap // 2, 1)
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self.total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self):
        fd = self._pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self._lock:
                self._keep(chunk)
        self._pipe.close()

    def _keep(self, chunk: bytes):
        self.total += len(chunk)
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail.append(chunk)
            self._tail_len += len(chunk)
            while self._tail_len - len(self._tail[0]) >= self._half:
                self._tail_len -= len(self._tail.popleft())

    def join(self, timeout: float | None = None):
        self._thread.join(timeout)

    def text(self) -> str:
        """Everything kept, with a marker where the middle was dropped."""
        with self._lock:
            tail = b''.join(self._tail)[-self._half:] if self._tail else b''
            omitted = self.total - len(self._head) - len(tail)
            data = bytes(self._head)
            if omitted > 0:
                data += b'\n[... %d bytes omitted ...]\n' % omitted
            data += tail
        return data.decode('utf-8', 'replace')


def signal_of(returncode: int, isolation: str) -> int | None:
    """The signal that ended a sandboxed process, if any.

    Popen reports a signal as a negative code; bubblewrap and graders/engine/confine.py's namespaces, which
    wait for the command, exit with 128 + the signal number instead.
    """
    if returncode < 0:
        return -returncode
    if isolation in ('bubblewrap', 'namespaces') and 128 < returncode <= 128 + 64:
        return returncode - 128
    return None


def describe_signal(signum: int, limits: Limits) -> str:
    """A student-readable reason for a death by signal."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = 'signal %d' % signum
    reasons = {
        signal.SIGKILL: 'killed (SIGKILL): usually the memory limit (%.1f GiB) or the CPU time limit (%d s)'
                        % (limits.memory_bytes / GiB, limits.cpu_seconds),
        signal.SIGXCPU: 'stopped by the CPU time limit (%d s, SIGXCPU)' % limits.cpu_seconds,
        signal.SIGXFSZ: 'stopped by the file size limit (%d MiB, SIGXFSZ)' % (limits.file_bytes // MiB),
        signal.SIGSEGV: 'crashed with a segmentation fault (SIGSEGV)',
        signal.SIGBUS: 'crashed with a bus error (SIGBUS)',
        signal.SIGABRT: 'aborted (SIGABRT)',
        signal.SIGFPE: 'crashed with a floating point exception (SIGFPE)',
    }
    return reasons.get(signum, 'killed by %s' % name)


class Sandbox:
    """Sandboxed processes for one scratch copy of a submission.

    scratch_dir: host folder holding the submission's copy; the only writable place, seen as
        `/submission` inside (`self.root`). As root it is chowned to `uid`.
    limits: resource limits of every process.
    ro_binds: extra read-only mounts, {path inside: host path} (e.g. training data, never labels).
    uid: the unprivileged uid the commands run as when the host process is root.
    bwrap: the bubblewrap executable (a name on PATH or a path); a missing or unusable one means
        a fallback level, with `self.warning` set.
    isolation: the highest level to use ('bubblewrap', 'namespaces', 'rlimits'; default
        $HW1GRADE_ISOLATION, else 'bubblewrap'): a lower one pretends the levels above are unusable
        here, to test the fallbacks on a machine where everything works.

    `self.isolation` is the level achieved and `self.isolation_info` what it is made of (`Isolation`);
    `self.warning` is one line when the level is below 'bubblewrap', else None.
    """

    def __init__(self, scratch_dir, limits: Limits = PART1_LIMITS, *, ro_binds: Mapping[str, str] = (),
                 uid: int = SANDBOX_UID, bwrap: str = 'bwrap', isolation: str | None = None):
        self.scratch = Path(scratch_dir).resolve()
        if not self.scratch.is_dir():
            raise FileNotFoundError('scratch folder %s does not exist' % self.scratch)
        self.limits = limits
        self.ro_binds = dict(ro_binds)
        self.as_root = os.geteuid() == 0
        self.uid = uid if self.as_root else os.getuid()
        self.gid = uid if self.as_root else os.getgid()
        self._bwrap = shutil.which(bwrap)
        self._seccomp, seccomp_detail = _seccomp_program()
        ceiling = isolation or os.environ.get(ISOLATION_ENV) or LEVELS[0]
        if ceiling not in LEVELS:
            raise ValueError('isolation must be one of %s, not %r' % (', '.join(LEVELS), ceiling))
        forced = '%%s pretended unusable (isolation limited to %s)' % ceiling
        bwrap_problem = (forced % 'bubblewrap' if LEVELS.index(ceiling) > 0 else
                         'bubblewrap (%s) is not installed' % bwrap if not self._bwrap else
                         _bwrap_problem(self._bwrap, self.as_root, self.uid, self._seccomp))
        ns_problem = bwrap_problem and (
            forced % 'namespaces' if LEVELS.index(ceiling) > 1 else
            'namespaces without bubblewrap need root' if not self.as_root else
            _namespaces_problem(self.uid, self._seccomp))
        self._unshare: tuple[str, ...] = ()
        not_needed: frozenset[str] = frozenset()
        if not bwrap_problem:
            self.isolation, why_not = 'bubblewrap', {}
            namespaces = BWRAP_NAMESPACES + (() if self.as_root else ('user',))
            if self.as_root:
                why_not['user'] = 'not needed: bubblewrap runs as root and drops to uid %d' % self.uid
                not_needed = frozenset({'user'})
        elif not ns_problem:
            self.isolation, namespaces = 'namespaces', BWRAP_NAMESPACES
            why_not = {'user': 'not needed: root drops to uid %d' % self.uid}
            not_needed = frozenset({'user'})
        else:
            self.isolation = 'rlimits'
            tried = _unshare_probe() if self.as_root and ceiling != 'rlimits' else {}
            self._unshare = tuple(n for n, r in tried.items() if r == 'ok')
            namespaces = tuple(PROBE_NAMES[n] for n in self._unshare)
            why_not = {'user': bwrap_problem, 'mount': ns_problem, 'pid': ns_problem}
            for name, long in PROBE_NAMES.items():
                if name not in self._unshare:
                    why_not[long] = (forced % long if ceiling == 'rlimits' else 'needs root' if not self.as_root
                                     else 'denied here (%s)' % tried.get(name, 'not tried'))
        if self.isolation == 'rlimits' and 'ipc' not in self._unshare:
            self._seccomp, seccomp_detail = _seccomp_program(deny_ipc=True)
        self.isolation_info = Isolation(self.isolation, namespaces, why_not, self.as_root,
                                        self._seccomp is not None, seccomp_detail, not_needed)
        self.warning = None
        if self.isolation == 'namespaces':
            self.warning = ('warning: sandbox isolation reduced to namespaces: %s; submissions run in new '
                            'mount, pid, network, ipc and uts namespaces built by graders/engine/confine.py, as uid '
                            '%d, with seccomp and resource limits' % (bwrap_problem, self.uid))
        elif self.isolation == 'rlimits':
            self.warning = ('warning: sandbox isolation reduced to rlimits: %s; %s; submissions run %swith '
                            'resource limits%s, %s, and no filesystem isolation'
                            % (bwrap_problem, ns_problem, 'as uid %d ' % self.uid if self.as_root else '',
                               ' and seccomp' if self._seccomp else '',
                               'without network' if 'net' in self._unshare else 'WITH network access'))
        if self.isolation != 'rlimits':
            self.root, self.inside_dir, self.tmp = SUBMISSION_DIR, INSIDE_DIR, '/tmp'
        else:
            hidden = [p for p in (sys.executable, sys.prefix, INSIDE_SOURCE)
                      if self.as_root and not _world_reachable(p)]
            if hidden:
                self.warning += ('; %s is not reachable by uid %d, so sandboxed Python will not start'
                                 % (hidden[0], self.uid))
            self.root, self.inside_dir = str(self.scratch), str(INSIDE_SOURCE)
            self.tmp = str(self.scratch / '.hw1grade_tmp')
            os.makedirs(self.tmp, exist_ok=True)
            if self.as_root:
                _traversable_up_to(self.scratch)
        # Leftovers of earlier sandboxes of this uid go first: an escaped process of one must not be
        # alive while the scratch copy is given to the uid.
        if self._sweeps:
            sweep_leftovers(self.uid)
        if self.as_root:
            _chown_tree(self.scratch, self.uid)
            _mark_scratch(self.scratch)
        self.python = sys.executable
        _scratches.add(str(self.scratch))

    @property
    def _sweeps(self) -> bool:
        """Whether leftovers of the sandbox uid are this sandbox's to remove: at the 'rlimits' level, where
        no namespace ends them, when the uid is not the grader's own."""
        return self.isolation == 'rlimits' and self.as_root and self.uid != 0

    @property
    def private_view(self) -> bool:
        """Whether sandboxed code sees the built filesystem (paths like /submission, /opt/hw1grade and
        the `ro_binds` destinations) rather than the host's."""
        return self.isolation != 'rlimits'

    # -- paths -----------------------------------------------------------------------------------

    def inside(self, host_path) -> str:
        """Where a host path under the scratch folder appears to sandboxed code."""
        rel = Path(host_path).resolve().relative_to(self.scratch)
        return str(Path(self.root, rel)) if str(rel) != '.' else self.root

    def env(self, threads: int = 1, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A clean environment: nothing of the grader's, BLAS/OpenMP pinned to `threads`."""
        env = {
            'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': self.tmp, 'TMPDIR': self.tmp,
            'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8', 'PYTHONDONTWRITEBYTECODE': '1',
            'MPLBACKEND': 'Agg', 'MPLCONFIGDIR': self.tmp + '/matplotlib',
            'XDG_CACHE_HOME': self.tmp + '/.cache', **thread_env(threads),
        }
        env.update(extra or {})
        return env

    # -- processes -------------------------------------------------------------------------------

    def command(self, argv: Sequence[str], cwd=None, seccomp_fd: int | None = None) -> list[str]:
        """The full command line that runs `argv` in the sandbox with working folder `cwd` (host path);
        `seccomp_fd`, a descriptor the command inherits holding the filter program (`popen` makes it)."""
        argv = [str(a) for a in argv]
        chdir = self.inside(cwd or self.scratch)
        if self.isolation == 'bubblewrap':
            return _bwrap_argv(self._bwrap, self.as_root, self.uid, self.limits,
                               scratch=str(self.scratch), ro_binds=self.ro_binds, chdir=chdir,
                               seccomp_fd=seccomp_fd) + argv
        spec = {'mode': self.isolation, 'uid': self.uid if self.as_root else None, 'gid': self.gid,
                'seccomp_fd': seccomp_fd, 'chdir': chdir}
        if self.isolation == 'namespaces':
            spec.update(view=sandbox_view(self.limits, scratch=str(self.scratch), ro_binds=self.ro_binds),
                        hostname='sandbox')
        else:
            spec['unshare'] = list(self._unshare)
        return _confine_argv(spec) + argv

    def popen(self, argv: Sequence[str], *, cwd=None, env: Mapping[str, str] | None = None,
              pass_fds: Sequence[int] = (), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE) -> subprocess.Popen:
        """Start `argv` in the sandbox, in its own process group; kill it with `kill`.

        pass_fds stay open in the sandboxed process under the same numbers (bubblewrap, setpriv and
        graders/engine/confine.py pass inherited descriptors through).
        """
        cwd = Path(cwd or self.scratch)
        extra = _processes_of(self.uid) if not self.as_root else 0
        limits = self.limits.rlimits(extra)
        seccomp_fd = _program_pipe(self._seccomp) if self._seccomp else None
        try:
            proc = subprocess.Popen(
                self.command(argv, cwd, seccomp_fd),
                cwd=cwd if self.isolation == 'rlimits' else '/',
                env=dict(env) if env is not None else self.env(),
                pass_fds=tuple(pass_fds) + ((seccomp_fd,) if seccomp_fd is not None else ()),
                stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True,
                preexec_fn=functools.partial(_apply_rlimits, limits))
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        _live.add(proc)
        return proc

    def run(self, argv: Sequence[str], timeout: float, *, cwd=None, env: Mapping[str, str] | None = None,
            output_cap: int = 64 * 1024) -> RunResult:
        """Run `argv` to completion or until `timeout` seconds of wall-clock time, then kill the tree."""
        proc = self.popen(argv, cwd=cwd, env=env)
        out, err = CappedOutput(proc.stdout, output_cap), CappedOutput(proc.stderr, output_cap)
        deadline = time.monotonic() + timeout
        while is_running(proc) and time.monotonic() < deadline:
            time.sleep(0.02)
        timed_out = is_running(proc)
        # Also when it exited: without a pid namespace its orphans would live on.
        self.kill(proc)
        # An orphan that escaped the group may still hold the pipes; don't wait for it forever.
        out.join(5)
        err.join(5)
        signum = signal_of(proc.returncode, self.isolation)
        killed = ('timed out after %g s (wall clock); the whole process tree was killed' % timeout
                  if timed_out else describe_signal(signum, self.limits) if signum else None)
        return RunResult(proc.returncode, out.text(), err.text(), timed_out, killed)

    def kill(self, proc: subprocess.Popen):
        """Kill a sandboxed process, its process group and every descendant, then reap it.

        Call it before the process is reaped (`is_running` never reaps), so that its pid and group id
        cannot belong to someone else yet.
        """
        tree = _kill_tree(proc.pid) if proc.returncode is None else []
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        # Killed is not gone: a pid namespace is torn down after its init, and orphans wait for
        # the host's init to reap them. Nothing of this run may outlive it (bounded wait).
        deadline = time.monotonic() + 5
        while any(os.path.exists('/proc/%d' % pid) for pid in tree[1:]) and time.monotonic() < deadline:
            time.sleep(0.02)
        _live.discard(proc)
        if self._sweeps:
            _kill_orphans(self.uid)
        self._wait_for_released_processes()

    def _wait_for_released_processes(self, seconds: float = 10.0):
        """After a kill, wait (bounded) until the killed processes no longer count against the uid's
        RLIMIT_NPROC: a fork bomb's hundreds of processes are torn down asynchronously with their pid
        namespace, and a worker started at once would fail with EAGAIN."""
        if not self.as_root:   # the sandbox user is the host user: its own processes always count
            return
        deadline = time.monotonic() + seconds
        while _processes_of(self.uid) > self.limits.processes // 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    def describe_exit(self, returncode: int) -> str:
        """'exit code N' or the student-readable reason for a death by signal."""
        signum = signal_of(returncode, self.isolation)
        return describe_signal(signum, self.limits) if signum else 'exit code %d' % returncode


def is_running(proc: subprocess.Popen) -> bool:
    """Whether a child is still running, without reaping it (a reaped pid may be reused at once)."""
    if proc.returncode is not None:
        return False
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return info is None


_warned: set[str] = set()


def warn_once(sandbox: Sandbox, file=None) -> bool:
    """Print the sandbox's reduced-isolation warning, once per process. True if it printed."""
    if not sandbox.warning or sandbox.warning in _warned:
        return False
    _warned.add(sandbox.warning)
    print(sandbox.warning, file=file or sys.stderr)
    return True


# -- bubblewrap command line ---------------------------------------------------------------------

def _python_dirs() -> list[str]:
    """The grader's interpreter: the venv and the installation it was made from (same paths inside)."""
    dirs = []
    real = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
    for d in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, real):
        d = os.path.realpath(d)
        if not any(_is_within(d, s) for s in SYSTEM_DIRS) and d not in dirs:
            dirs.append(d)
    # A directory inside another bound one needs no mount of its own.
    return [d for d in dirs if not any(o != d and _is_within(d, o) for o in dirs)]


def _link_chain_ops(bound: list[str], made: set[str]) -> list[tuple]:
    """Symlinks on the way to the grader's interpreter that lie outside the bound folders (a venv made
    from `~/private/python -> ~/.pyenv/versions/3.11.7`, whose python and pyvenv.cfg name the link):
    recreated in the view, so the paths the venv names resolve there too."""
    ops: list[tuple] = []
    home = None
    try:
        with open(os.path.join(sys.prefix, 'pyvenv.cfg')) as f:
            home = next((line.split('=', 1)[1].strip() for line in f if line.split('=')[0].strip() == 'home'),
                        None)
    except OSError:
        pass
    for start in (sys.executable, home):
        path, hops = start, 0
        while path and hops < 40:
            parts, current, path = Path(path).parts, '/', None
            for i, part in enumerate(parts[1:], 1):
                current = os.path.join(current, part)
                if os.path.islink(current):
                    target = os.readlink(current)
                    if not any(_is_within(current, b) for b in bound) and current not in made:
                        made.add(current)
                        ops += _mount_points(current, made) + [('symlink', target, current)]
                    path = os.path.join(os.path.dirname(current), target, *parts[i + 1:])
                    hops += 1
                    break
    return ops


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip('/') + '/')


def _mount_points(dest: str, made: set[str]) -> list[tuple]:
    """Create the parents of `dest` world-traversable (bubblewrap would make them 0700, root-owned)."""
    ops = []
    parts = Path(dest).parts[1:-1]
    for i in range(len(parts)):
        d = '/' + '/'.join(parts[:i + 1])
        if d not in made:
            made.add(d)
            ops.append(('dir', 0o755, d))
    return ops


def sandbox_view(limits: Limits, *, scratch: str | None, ro_binds: Mapping[str, str]) -> list[tuple]:
    """The sandbox's filesystem, built from nothing, as operations bubblewrap (`_bwrap_argv`) and
    graders/engine/confine.py (the 'namespaces' level) both perform, in order; the destination is last:
    ('ro-bind' | 'ro-bind-try' | 'bind', host source, dest), ('symlink', target, dest),
    ('dir', mode, dest), ('tmpfs', size, mode, dest), ('proc', dest), ('dev', dest).

    The grader's interpreter appears at its real paths (the venv, and the prefix it links to, wherever
    that is: a pyenv in a 0700 home folder included), under parents the sandbox uid can traverse."""
    ops: list[tuple] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            ops.append(('symlink', os.readlink(d), d))
        elif os.path.isdir(d):
            ops.append(('ro-bind', d, d))
    for name in ETC_ENTRIES:
        ops.append(('ro-bind-try', '/etc/' + name, '/etc/' + name))
    ops += [('proc', '/proc'), ('dev', '/dev')]
    for tmp in ('/tmp', '/dev/shm'):
        ops.append(('tmpfs', limits.tmp_bytes, 0o1777, tmp))
    # Mount points made above are never made again as plain folders: a grader installed under /tmp
    # would otherwise turn the private /tmp into a 0755 folder the sandbox uid cannot write.
    made: set[str] = {'/proc', '/dev', '/tmp', '/dev/shm'}
    bound = _python_dirs()
    for d in bound:
        ops += _mount_points(d, made) + [('ro-bind', d, d)]
    ops += _link_chain_ops(bound, made)
    ops += _mount_points(INSIDE_DIR, made) + [('ro-bind', str(INSIDE_SOURCE), INSIDE_DIR)]
    for dest, src in ro_binds.items():
        ops += _mount_points(dest, made) + [('ro-bind', str(src), dest)]
    if scratch:
        ops.append(('bind', scratch, SUBMISSION_DIR))
    return ops


def _bwrap_argv(bwrap: str, as_root: bool, uid: int, limits: Limits, *, scratch: str | None,
                ro_binds: Mapping[str, str], chdir: str, seccomp_fd: int | None = None) -> list[str]:
    """bubblewrap's options, up to and including the part that drops privileges; argv follows."""
    args = [bwrap, '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts',
            '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--hostname', 'sandbox']
    if not as_root:
        args.append('--unshare-user')
    for op in sandbox_view(limits, scratch=scratch, ro_binds=ro_binds):
        kind, dest = op[0], op[-1]
        if kind in ('ro-bind', 'ro-bind-try', 'bind', 'symlink'):
            args += ['--' + kind, str(op[1]), dest]
        elif kind == 'dir':
            args += ['--perms', '%04o' % op[1], '--dir', dest]
        elif kind == 'tmpfs':
            args += ['--perms', '%04o' % op[2], '--size', str(op[1]), '--tmpfs', dest]
        else:   # proc, dev
            args += ['--' + kind, dest]
    if seccomp_fd is not None:
        args += ['--seccomp', str(seccomp_fd)]
    args += ['--chdir', chdir, '--']
    if as_root:
        # bubblewrap runs privileged as root; the command itself must not. The uid/gid change clears
        # every capability; the bounding set goes too, so nothing can regain one.
        args += [shutil.which('setpriv') or 'setpriv', '--reuid=%d' % uid, '--regid=%d' % uid,
                 '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
    return args


def _confine_argv(spec: dict) -> list[str]:
    """graders/engine/confine.py, run by the grader's interpreter in isolated mode, with its spec."""
    return [sys.executable, '-I', '-S', str(CONFINE), json.dumps(spec), '--']


def _program_pipe(program: bytes) -> int:
    """A pipe's read end holding `program` (written whole and closed: it is far below a pipe's buffer)."""
    read, write = os.pipe()
    try:
        os.write(write, program)
    finally:
        os.close(write)
    return read


def _probe(argv: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess | str:
    try:
        return subprocess.run(argv, capture_output=True, timeout=30, text=True, pass_fds=pass_fds, cwd='/')
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    finally:
        for fd in pass_fds:
            os.close(fd)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else 'exit code %d' % proc.returncode


@functools.lru_cache(maxsize=None)
def _bwrap_problem(bwrap: str, as_root: bool, uid: int, program: bytes | None = None) -> str | None:
    """Why bubblewrap cannot run a sandbox here (one line), or None when it can. Probed once."""
    fds = (_program_pipe(program),) if program else ()
    argv = _bwrap_argv(bwrap, as_root, uid, PART1_LIMITS, scratch=None, ro_binds={}, chdir='/',
                       seccomp_fd=fds[0] if fds else None)
    proc = _probe(argv + ['true'], fds)
    if isinstance(proc, str):
        return 'bubblewrap failed to start (%s)' % proc
    if proc.returncode != 0:
        return 'bubblewrap cannot create a sandbox here (%s)' % _last_line(proc)
    return None


@functools.lru_cache(maxsize=None)
def _namespaces_problem(uid: int, program: bytes | None = None) -> str | None:
    """Why graders/engine/confine.py cannot build the namespaces level here, or None when it can. Probed once."""
    fds = (_program_pipe(program),) if program else ()
    spec = {'mode': 'namespaces', 'uid': uid, 'gid': uid, 'seccomp_fd': fds[0] if fds else None,
            'chdir': '/', 'hostname': 'sandbox', 'view': sandbox_view(PART1_LIMITS, scratch=None, ro_binds={})}
    proc = _probe(_confine_argv(spec) + ['true'], fds)
    if isinstance(proc, str):
        return 'namespaces could not be tried (%s)' % proc
    if proc.returncode != 0:
        return 'namespaces are denied here (%s)' % _last_line(proc)
    return None


@functools.lru_cache(maxsize=None)
def _unshare_probe() -> dict[str, str]:
    """{'net' | 'ipc' | 'uts': 'ok' or why not}: the namespaces the fallback may still enter. Probed once."""
    proc = _probe([sys.executable, '-I', '-S', str(CONFINE), '--probe-unshare', *PROBE_NAMES])
    if isinstance(proc, str) or proc.returncode != 0:
        return {name: 'probe failed' for name in PROBE_NAMES}
    return json.loads(proc.stdout)


@functools.lru_cache(maxsize=None)
def _seccomp_program(deny_ipc: bool = False) -> tuple[bytes | None, str]:
    """The filter program for this host, and one line about it (why there is none, where not)."""
    from graders.engine import seccomp
    try:
        return seccomp.build_filter(deny_ipc=deny_ipc), seccomp.describe(deny_ipc=deny_ipc)
    except seccomp.UnsupportedArch as err:
        return None, 'no filter: %s' % err


# -- process plumbing ----------------------------------------------------------------------------

def _apply_rlimits(limits: list[tuple[int, tuple[int, int]]]):
    """preexec_fn: runs in the forked child before exec; only setrlimit calls."""
    for res, (soft, hard) in limits:
        cur_soft, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:  # an unprivileged process cannot raise its hard limit
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))


def _traversable_up_to(scratch: Path):
    """At the 'rlimits' level sandboxed code sees host paths: the grader's own temporary folders above
    the scratch copy (`tempfile.mkdtemp`, 0700) get o+x, enough to reach the scratch copy by its path,
    not to list them. Nothing outside the temporary folder is changed."""
    tmp = os.path.realpath(tempfile.gettempdir())
    for parent in reversed(scratch.parents):
        if _is_within(str(parent), tmp) and str(parent) != tmp:
            mode = os.lstat(parent).st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)


def _world_reachable(path) -> bool:
    """Whether every folder above `path` (symlinks resolved) lets other users through."""
    real = Path(os.path.realpath(path))
    return all(os.stat(d).st_mode & stat.S_IXOTH for d in real.parents)


def _chown_tree(root: Path, uid: int):
    """Give the scratch copy to the sandbox user, never through a link: through descriptors
    (graders/engine/untrusted.py), so that a folder swapped for a link to a host folder meanwhile (by a process
    left from an earlier sandbox at the 'rlimits' level) is not descended into; the link itself is changed."""
    from graders.engine import untrusted
    os.lchown(root, uid, uid)
    for rel, _ in untrusted.walk(root, max_entries=1_000_000):
        try:
            untrusted.chown(root, rel, uid)
        except (FileNotFoundError, untrusted.UnsafeFile):
            pass   # gone, or a folder on the way replaced by a link: what sits there now is not followed


def _proc_status(pid: str) -> dict[str, str]:
    try:
        with open('/proc/%s/status' % pid) as f:
            return dict(line.split(':', 1) for line in f if ':' in line)
    except OSError:
        return {}


def _processes_of(uid: int) -> int:
    """Threads the user already runs (RLIMIT_NPROC counts them all); 0 where /proc is unavailable.

    Only needed when the sandbox user is the host user: its desktop or shell processes must not use
    up the sandbox's allowance.
    """
    if not os.path.isdir('/proc'):
        return 0
    count = 0
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            status = _proc_status(pid)
            if status.get('Uid', '').split()[:1] == [str(uid)]:
                count += int(status.get('Threads', '1'))
    return count


# Sandboxed processes started by this grader process and not yet killed, and the scratch folders of its
# sandboxes: what a sweep must leave alone.
_live: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()
_scratches: set[str] = set()
# Where any uid may create files that outlive a process (without a mount namespace of its own).
SHARED_WRITABLE = ('/tmp', '/var/tmp', '/dev/shm', '/dev/mqueue')


def _kill_orphans(uid: int):
    """Kill the processes of `uid` that escaped their sandbox's tree ('rlimits' level: no pid namespace
    ends them): a double-forked daemon in its own session is reparented to pid 1 (or to this process,
    when the grader is a container's pid 1). Processes of other, live sandboxes (bubblewrap's or
    another grader's, which may share the uid) always have a living sandboxed parent and are spared."""
    mine = {p.pid for p in _live if p.returncode is None}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        status = _proc_status(entry)
        if status.get('Uid', '').split()[:1] != [str(uid)]:
            continue
        ppid = int(status.get('PPid', '0').strip() or 0)
        if ppid == 1 or (ppid == os.getpid() and int(entry) not in mine):
            _kill_tree(int(entry))
            if ppid == os.getpid():
                try:
                    os.waitpid(int(entry), os.WNOHANG)
                except ChildProcessError:
                    pass


def sweep_leftovers(uid: int):
    """Remove what sandbox code of `uid` left where the next grade could find it, at the 'rlimits'
    level (no namespaces): escaped processes, files and folders it owns at the top of /tmp, /var/tmp,
    /dev/shm and /dev/mqueue (never a scratch folder: those carry SCRATCH_MARK), and SysV IPC objects
    (the filter denies creating them; older ones go too). Links are removed, never followed.

    A uid at this level belongs to one grader process at a time (batch's uid slots; one grade per
    Gradescope container): files a concurrent grader's sandbox keeps in /tmp at the same uid would go."""
    _kill_orphans(uid)
    for root in SHARED_WRITABLE:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if info.st_uid != uid or path in _scratches:
                continue
            if stat.S_ISDIR(info.st_mode) and not _unmarked(path):
                continue   # a scratch folder (of any grader process), or one we cannot tell
            try:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass
    _remove_ipc_of(uid)


# A scratch folder is given to the sandbox uid; this mark (a `trusted.` extended attribute: only root
# can set or remove one) tells it from a folder sandbox code made, which a sweep removes.
SCRATCH_MARK = 'trusted.hw1grade-scratch'


def _mark_scratch(path: Path):
    try:
        os.setxattr(path, SCRATCH_MARK, b'1', follow_symlinks=False)
    except OSError:
        pass   # a file system without trusted xattrs: sweeps then leave every folder alone


def _unmarked(path: str) -> bool:
    """Whether `path` certainly carries no scratch mark (False where the file system cannot tell)."""
    try:
        os.getxattr(path, SCRATCH_MARK, follow_symlinks=False)
    except OSError as err:
        return err.errno == errno.ENODATA
    return False


def _remove_ipc_of(uid: int):
    """IPC_RMID every SysV message queue, semaphore set and shared memory segment `uid` owns."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    for kind, remove in (('msg', lambda i: libc.msgctl(i, ipc_rmid, None)),
                         ('sem', lambda i: libc.semctl(i, 0, ipc_rmid)),
                         ('shm', lambda i: libc.shmctl(i, ipc_rmid, None))):
        try:
            with open('/proc/sysvipc/' + kind) as f:
                header = f.readline().split()
                rows = [dict(zip(header, line.split())) for line in f]
        except OSError:
            continue
        for row in rows:
            if row.get('uid') == str(uid) and row.get('msqid', row.get('semid', row.get('shmid', ''))).isdigit():
                remove(int(row.get('msqid', row.get('semid', row.get('shmid')))))


def _descendants(pid: int) -> list[int]:
    """Every living descendant of `pid`, from /proc (empty where /proc is unavailable)."""
    if not os.path.isdir('/proc'):
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, 'rb') as f:
                    stat = f.read()
            except OSError:
                continue
            # The command name may contain spaces and parentheses: the ppid follows the last ')'.
            ppid = int(stat[stat.rindex(b')') + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(pid: int) -> list[int]:
    """SIGKILL a process group and all descendants of its leader; the pids signalled, leader first.

    The descendants are collected first: members that called setsid() left the group but are still
    descendants. With bubblewrap, killing the outer process also ends its pid namespace.
    """
    descendants = _descendants(pid)
    targets = [pid] + descendants
    for target in targets:
        try:
            os.killpg(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return targets
