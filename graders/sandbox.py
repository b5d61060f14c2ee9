"""Run submission code in a bubblewrap sandbox, under resource limits.

Student code is hostile. A `Sandbox` wraps one per-submission scratch copy and turns command lines into
sandboxed processes:

- no network (new network namespace), new pid/ipc/uts namespaces, a new session, killed with its
  parent (`--die-with-parent`);
- a filesystem built from nothing: system directories, the grader's Python (the venv and its base
  interpreter) and `graders/inside/` (at `/opt/hw1grade`) read-only; the scratch copy read-write at
  `/submission` (the only writable place besides private tmpfs `/tmp` and `/dev/shm`). Nothing else of
  the repository (reference, graders, rubric) and no labels are visible;
- an unprivileged uid: as root, bubblewrap runs privileged and the command drops to `uid` (65534,
  nobody) with `setpriv` before it starts, so the host sees a real unprivileged process; as a normal
  user, bubblewrap maps that user into a user namespace;
- rlimits (`Limits`): address space, CPU seconds, processes, file size, open files, no core dumps.

A wall-clock timeout kills the whole tree: the process group and every descendant, and with
bubblewrap the pid namespace dies with it, so nothing forked inside survives.

Where bubblewrap is missing or cannot create namespaces (a laptop, a locked-down container) commands
still run, in a new session under the same limits (and as `uid` when the host process is root), and
`Sandbox.warning` says in one line that isolation is reduced; the caller prints it once
(`warn_once`).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GiB = 1 << 30
MiB = 1 << 20

# Where things appear inside the sandbox.
SUBMISSION_DIR = '/submission'
INSIDE_DIR = '/opt/hw1grade'
INSIDE_SOURCE = Path(__file__).resolve().parent / 'inside'

# nobody:nogroup; the host process drops to it when it runs as root.
SANDBOX_UID = 65534

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
    seccomp: whether the seccomp filter is applied (seccomp_detail says which or why not)."""
    level: str
    namespaces: tuple[str, ...]
    why_not: Mapping[str, str]
    uid_switch: bool
    seccomp: bool
    seccomp_detail: str

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

    Popen reports a signal as a negative code; bubblewrap, which waits for the command, exits with
    128 + the signal number instead.
    """
    if returncode < 0:
        return -returncode
    if isolation == 'bubblewrap' and 128 < returncode <= 128 + 64:
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
        reduced isolation, with `self.warning` set.
    """

    def __init__(self, scratch_dir, limits: Limits = PART1_LIMITS, *, ro_binds: Mapping[str, str] = (),
                 uid: int = SANDBOX_UID, bwrap: str = 'bwrap'):
        self.scratch = Path(scratch_dir).resolve()
        if not self.scratch.is_dir():
            raise FileNotFoundError('scratch folder %s does not exist' % self.scratch)
        self.limits = limits
        self.ro_binds = dict(ro_binds)
        self.as_root = os.geteuid() == 0
        self.uid = uid if self.as_root else os.getuid()
        self._bwrap = shutil.which(bwrap)
        problem = _bwrap_problem(self._bwrap, self.as_root, self.uid) if self._bwrap else \
            'bubblewrap (%s) is not installed' % bwrap
        self.isolation = 'rlimits' if problem else 'bubblewrap'
        self.warning = None if not problem else (
            'warning: sandbox isolation reduced: %s; submissions run with resource limits in a new '
            'session only (no network or filesystem isolation)' % problem)
        if self.isolation == 'bubblewrap':
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
            _chown_tree(self.scratch, self.uid)
        self.python = sys.executable
        full = ('mount', 'pid', 'network', 'ipc', 'uts') + (() if self.as_root else ('user',))
        self.isolation_info = Isolation(
            self.isolation, full if self.isolation == 'bubblewrap' else (),
            {} if self.isolation == 'bubblewrap' else {ns: problem for ns in full},
            self.as_root, False, 'not applied')

    # -- paths -----------------------------------------------------------------------------------

    def inside(self, host_path) -> str:
        """Where a host path under the scratch folder appears to sandboxed code."""
        rel = Path(host_path).resolve().relative_to(self.scratch)
        return str(Path(self.root, rel)) if str(rel) != '.' else self.root

    def env(self, threads: int = 1, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A clean environment: nothing of the grader's, BLAS/OpenMP pinned to `threads`."""
        n = str(threads)
        env = {
            'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': self.tmp, 'TMPDIR': self.tmp,
            'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8', 'PYTHONDONTWRITEBYTECODE': '1',
            'MPLBACKEND': 'Agg', 'MPLCONFIGDIR': self.tmp + '/matplotlib',
            'XDG_CACHE_HOME': self.tmp + '/.cache',
            'OMP_NUM_THREADS': n, 'OPENBLAS_NUM_THREADS': n, 'MKL_NUM_THREADS': n,
            'VECLIB_MAXIMUM_THREADS': n, 'NUMEXPR_NUM_THREADS': n, 'BLIS_NUM_THREADS': n,
        }
        env.update(extra or {})
        return env

    # -- processes -------------------------------------------------------------------------------

    def command(self, argv: Sequence[str], cwd=None) -> list[str]:
        """The full command line that runs `argv` in the sandbox with working folder `cwd` (host path)."""
        argv = [str(a) for a in argv]
        if self.isolation != 'bubblewrap':
            return argv
        return _bwrap_argv(self._bwrap, self.as_root, self.uid, self.limits,
                           scratch=str(self.scratch), ro_binds=self.ro_binds,
                           chdir=self.inside(cwd or self.scratch)) + argv

    def popen(self, argv: Sequence[str], *, cwd=None, env: Mapping[str, str] | None = None,
              pass_fds: Sequence[int] = (), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE) -> subprocess.Popen:
        """Start `argv` in the sandbox, in its own process group; kill it with `kill`.

        pass_fds stay open in the sandboxed process under the same numbers (bubblewrap and setpriv
        pass inherited descriptors through).
        """
        cwd = Path(cwd or self.scratch)
        extra = _processes_of(self.uid) if not self.as_root else 0
        limits = self.limits.rlimits(extra)
        drop = {}
        if self.as_root and self.isolation != 'bubblewrap':
            drop = dict(user=self.uid, group=self.uid, extra_groups=[])
        return subprocess.Popen(
            self.command(argv, cwd), cwd=cwd if self.isolation != 'bubblewrap' else '/',
            env=dict(env) if env is not None else self.env(), pass_fds=tuple(pass_fds),
            stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True,
            preexec_fn=functools.partial(_apply_rlimits, limits), **drop)

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
        if proc.returncode is None:
            _kill_tree(proc.pid)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
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


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip('/') + '/')


def _mount_point(dest: str, made: set[str]) -> list[str]:
    """Create the parents of `dest` world-traversable (bubblewrap would make them 0700, root-owned)."""
    args = []
    parts = Path(dest).parts[1:-1]
    for i in range(len(parts)):
        d = '/' + '/'.join(parts[:i + 1])
        if d not in made:
            made.add(d)
            args += ['--perms', '0755', '--dir', d]
    return args


def _bwrap_argv(bwrap: str, as_root: bool, uid: int, limits: Limits, *, scratch: str | None,
                ro_binds: Mapping[str, str], chdir: str) -> list[str]:
    """bubblewrap's options, up to and including the part that drops privileges; argv follows."""
    args = [bwrap, '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts',
            '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--hostname', 'sandbox']
    if not as_root:
        args.append('--unshare-user')
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ['--symlink', os.readlink(d), d]
        elif os.path.isdir(d):
            args += ['--ro-bind', d, d]
    for name in ETC_ENTRIES:
        args += ['--ro-bind-try', '/etc/' + name, '/etc/' + name]
    args += ['--proc', '/proc', '--dev', '/dev']
    for tmp in ('/tmp', '/dev/shm'):
        args += ['--perms', '1777', '--size', str(limits.tmp_bytes), '--tmpfs', tmp]
    made: set[str] = set()
    for d in _python_dirs():
        args += _mount_point(d, made) + ['--ro-bind', d, d]
    args += _mount_point(INSIDE_DIR, made) + ['--ro-bind', str(INSIDE_SOURCE), INSIDE_DIR]
    for dest, src in ro_binds.items():
        args += _mount_point(dest, made) + ['--ro-bind', str(src), dest]
    if scratch:
        args += ['--bind', scratch, SUBMISSION_DIR]
    args += ['--chdir', chdir, '--']
    if as_root:
        # bubblewrap runs privileged as root; the command itself must not. The uid/gid change clears
        # every capability; the bounding set goes too, so nothing can regain one.
        args += [shutil.which('setpriv') or 'setpriv', '--reuid=%d' % uid, '--regid=%d' % uid,
                 '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
    return args


@functools.lru_cache(maxsize=None)
def _bwrap_problem(bwrap: str, as_root: bool, uid: int) -> str | None:
    """Why bubblewrap cannot run a sandbox here (one line), or None when it can. Probed once."""
    argv = _bwrap_argv(bwrap, as_root, uid, PART1_LIMITS, scratch=None, ro_binds={}, chdir='/')
    try:
        proc = subprocess.run(argv + ['true'], capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 'bubblewrap failed to start (%s)' % err
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return 'bubblewrap cannot create a sandbox here (%s)' % (lines[-1] if lines else
                                                                   'exit code %d' % proc.returncode)
    return None


# -- process plumbing ----------------------------------------------------------------------------

def _apply_rlimits(limits: list[tuple[int, tuple[int, int]]]):
    """preexec_fn: runs in the forked child before exec; only setrlimit calls."""
    for res, (soft, hard) in limits:
        cur_soft, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:  # an unprivileged process cannot raise its hard limit
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))


def _world_reachable(path) -> bool:
    """Whether every folder above `path` (symlinks resolved) lets other users through."""
    real = Path(os.path.realpath(path))
    return all(os.stat(d).st_mode & stat.S_IXOTH for d in real.parents)


def _chown_tree(root: Path, uid: int):
    """Give the scratch copy to the sandbox user (without following symlinks)."""
    os.lchown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


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


def _kill_tree(pid: int):
    """SIGKILL a process group and all descendants of its leader.

    The descendants are collected first: members that called setsid() left the group but are still
    descendants. With bubblewrap, killing the outer process also ends its pid namespace.
    """
    descendants = _descendants(pid)
    for target in [pid] + descendants:
        try:
            os.killpg(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
