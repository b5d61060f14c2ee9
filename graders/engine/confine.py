"""The sandbox launcher of the fallback isolation levels, where bubblewrap is missing or unusable.

Run by graders/engine/sandbox.py, never imported by it, as the grader's own interpreter in isolated mode
(`python -I -S confine.py SPEC -- ARGV`), standard library only: it starts privileged (as root, when
the grader is root), builds what the level allows, gives up every privilege, loads the seccomp filter
and only then executes ARGV, the submission's command. SPEC is JSON:

  mode: 'namespaces' (root only): new mount, pid, network, ipc and uts namespaces and a filesystem
      built from nothing, the same view bubblewrap builds (`view`: the operations of
      sandbox.sandbox_view, sources read through the old root): a tmpfs root, system folders, the
      grader's interpreter and graders/inside read-only, the scratch copy read-write, private /tmp,
      /dev/shm, /proc and a minimal /dev. Like bubblewrap, a pid 1 of ours reaps orphans and exits with
      the command's status (128 + N for a death by signal N); when it ends, the kernel kills every
      process left in the namespace.
  mode: 'rlimits': no filesystem view; the namespaces in `unshare` ('net', 'ipc', 'uts': those the
      probe found allowed) are entered, then ARGV replaces this process.
  uid, gid: the unprivileged ids to switch to (None: stay the calling user, who is not root);
  seccomp_fd: a descriptor holding the filter program (graders/engine/seccomp.py), or None;
  chdir: the working folder of ARGV (inside the view in 'namespaces' mode).

Why a script and not a preexec_fn: building a mount namespace needs a fork after unshare(CLONE_NEWPID)
and a process that waits, and code that runs between fork and exec in the multi-threaded grader must
not allocate or take locks. Here everything runs in a fresh single-threaded interpreter.

A failure to set anything up ends with exit status 125 and one line on stderr starting `hw1grade-confine:`;
nothing of ARGV has run then.
"""

import ctypes
import errno
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import warnings  # noqa: F401 - os.execvp imports it lazily, when the interpreter's files may be out of reach

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
FLAGS = {'net': CLONE_NEWNET, 'ipc': CLONE_NEWIPC, 'uts': CLONE_NEWUTS, 'mount': CLONE_NEWNS,
         'pid': CLONE_NEWPID}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 24, 38, 22
SECCOMP_MODE_FILTER = 2
SYS_PIVOT_ROOT = {'x86_64': 155, 'aarch64': 41}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SETUP_FAILED = 125
DEV_NODES = ('null', 'zero', 'full', 'random', 'urandom', 'tty')

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise SetupError('%s: %s' % (what, os.strerror(err)))
    return result


def unshare(flags, what):
    check(libc.unshare(ctypes.c_int(flags)), 'unshare(%s)' % what)


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if isinstance(s, str) else s   # noqa: E731
    check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
          'mount %s on %s' % (source or fstype, target))


def prctl(option, arg2=0, arg3=0):
    return libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(0),
                      ctypes.c_ulong(0))


def pivot_root(new, old):
    machine = os.uname().machine
    check(libc.syscall(ctypes.c_long(SYS_PIVOT_ROOT[machine]), new.encode(), old.encode()),
          'pivot_root(%s)' % new)


# -- the filesystem view -------------------------------------------------------------------------

def _mkdirs(path, mode=0o755):
    if not os.path.isdir(path):
        _mkdirs(os.path.dirname(path), mode)
        os.mkdir(path)
        os.chmod(path, mode)


def _mount_point(dest, source):
    _mkdirs(os.path.dirname(dest))
    if os.path.isdir(source):
        _mkdirs(dest)
    elif not os.path.exists(dest):
        open(dest, 'w').close()


def _bind(source, dest, read_only):
    _mount_point(dest, source)
    mount(source, dest, None, MS_BIND | MS_REC)
    # A bind mount keeps the flags of its source; read-only and nosuid need a remount, which must
    # repeat the flags the source mount already has (nodev, noexec).
    kept = os.statvfs(dest).f_flag & (MS_NODEV | MS_NOEXEC)
    mount(None, dest, None, MS_BIND | MS_REMOUNT | MS_NOSUID | kept | (MS_RDONLY if read_only else 0))


def build_view(view, hostname):
    """In new mount/pid namespaces, as their pid 1: a tmpfs root holding exactly `view`."""
    mount(None, '/', None, MS_REC | MS_PRIVATE)
    base = '/tmp'   # any folder: the old root, and all sources, stay reachable as /oldroot
    mount('tmpfs', base, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=1m')
    os.mkdir(base + '/newroot', 0o755)
    os.mkdir(base + '/oldroot', 0o755)
    pivot_root(base, base + '/oldroot')
    os.chdir('/')
    mount('tmpfs', '/newroot', 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=1m')
    new, old = '/newroot', '/oldroot'
    for op in view:
        kind, dest = op[0], new + op[-1]
        if kind in ('ro-bind', 'ro-bind-try', 'bind'):
            source = old + op[1]
            if kind == 'ro-bind-try' and not os.path.exists(source):
                continue
            _bind(source, dest, read_only=kind != 'bind')
        elif kind == 'symlink':
            _mkdirs(os.path.dirname(dest))
            os.symlink(op[1], dest)
        elif kind == 'dir':
            _mkdirs(dest, op[1])
            os.chmod(dest, op[1])
        elif kind == 'tmpfs':
            _mkdirs(dest)
            mount('tmpfs', dest, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=%o,size=%d' % (op[2], op[1]))
        elif kind == 'proc':
            _mkdirs(dest)
            mount('proc', dest, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == 'dev':
            _mkdirs(dest)
            mount('tmpfs', dest, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=64k')
            for node in DEV_NODES:
                if os.path.exists(old + '/dev/' + node):
                    open(dest + '/' + node, 'w').close()
                    mount(old + '/dev/' + node, dest + '/' + node, None, MS_BIND)
            for name, target in (('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'),
                                 ('stdout', '/proc/self/fd/1'), ('stderr', '/proc/self/fd/2')):
                os.symlink(target, dest + '/' + name)
            os.mkdir(dest + '/shm', 0o755)
        else:
            raise SetupError('unknown view operation %r' % (op,))
    # The root itself: read-only, so nothing but the binds and the tmpfs folders can be written.
    mount(None, new, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(new)
    pivot_root('.', '.')
    check(libc.umount2(b'.', ctypes.c_int(MNT_DETACH)), 'detach the old root')
    os.chdir('/')
    if hostname:
        check(libc.sethostname(hostname.encode(), ctypes.c_size_t(len(hostname))), 'sethostname')


def loopback_up():
    """Bring up `lo` in a new network namespace (it starts down): code may talk to itself over
    127.0.0.1 (a notebook's kernel does), like in bubblewrap's sandbox; nothing else is reachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack('16sH22x', b'lo', 0)
        flags = struct.unpack('16sH22x', fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack('16sH22x', b'lo', flags | IFF_UP))


# -- privileges and seccomp -----------------------------------------------------------------------

def drop_privileges(uid, gid):
    """Become uid:gid with no groups and no capability, none of them regainable."""
    if uid is None:
        return
    with open('/proc/sys/kernel/cap_last_cap') as f:
        last = int(f.read())
    for cap in range(last + 1):
        if prctl(PR_CAPBSET_DROP, cap) < 0 and ctypes.get_errno() != errno.EINVAL:
            raise SetupError('drop capability %d: %s' % (cap, os.strerror(ctypes.get_errno())))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise SetupError('the uid switch did not take')


class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]


def read_program(fd):
    """The filter program from `fd` (raw struct sock_filter array), or None without one."""
    if fd is None:
        return None
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    program = b''.join(chunks)
    if not program or len(program) % 8:
        raise SetupError('the seccomp program is empty or truncated (%d bytes)' % len(program))
    return program


def load_seccomp(program):
    """No new privileges, then the filter `program` (None: no filter)."""
    check(prctl(PR_SET_NO_NEW_PRIVS, 1), 'prctl(PR_SET_NO_NEW_PRIVS)')
    if program is None:
        return
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    check(libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                     ctypes.c_ulong(0), ctypes.c_ulong(0)), 'prctl(PR_SET_SECCOMP)')


# -- processes -----------------------------------------------------------------------------------

def exit_status(status):
    """A wait status as an exit code, bubblewrap's way: 128 + N for a death by signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def exec_command(argv):
    try:
        os.execvp(argv[0], argv)
    except OSError as err:
        sys.stderr.write('hw1grade-confine: cannot run %s: %s\n' % (argv[0], err.strerror))
        os._exit(127 if err.errno == errno.ENOENT else 126)


def wait_for(pid, reap_all):
    """Wait for `pid` (reaping every other child meanwhile when pid 1) and return its exit code."""
    while True:
        try:
            got, status = os.waitpid(-1 if reap_all else pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return SETUP_FAILED
        if got == pid:
            return exit_status(status)


def run_namespaces(spec, argv):
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, 'mount, pid, net, ipc, uts')
    init = os.fork()
    if init:
        os._exit(wait_for(init, reap_all=False))
    try:   # pid 1 of the new pid namespace
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        program = read_program(spec.get('seccomp_fd'))
        build_view(spec['view'], spec.get('hostname'))
        loopback_up()
        os.chdir(spec['chdir'])
        # Forked while still root: RLIMIT_NPROC does not count root's forks, so a sandbox uid still
        # busy tearing down an earlier fork bomb cannot keep the command from starting.
        command = os.fork()
        drop_privileges(spec.get('uid'), spec.get('gid'))
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # a credential change cleared it
        load_seccomp(program)
    except (SetupError, OSError) as err:
        sys.stderr.write('hw1grade-confine: %s\n' % err)
        os._exit(SETUP_FAILED)
    if command == 0:
        exec_command(argv)
    os._exit(wait_for(command, reap_all=True))


def run_rlimits(spec, argv):
    try:
        for name in spec.get('unshare', ()):
            unshare(FLAGS[name], name)
            if name == 'net':
                loopback_up()
        if spec.get('chdir'):
            os.chdir(spec['chdir'])
        program = read_program(spec.get('seccomp_fd'))
        drop_privileges(spec.get('uid'), spec.get('gid'))
        load_seccomp(program)
    except (SetupError, OSError) as err:
        sys.stderr.write('hw1grade-confine: %s\n' % err)
        os._exit(SETUP_FAILED)
    exec_command(argv)


def probe_unshare(names):
    """Which namespaces this process may enter, each tried alone: {name: 'ok' or the error}."""
    found = {}
    for name in names:
        pid = os.fork()
        if pid == 0:
            os._exit(0 if libc.unshare(ctypes.c_int(FLAGS[name])) == 0 else min(ctypes.get_errno(), 120) or 1)
        code = exit_status(os.waitpid(pid, 0)[1])
        found[name] = 'ok' if code == 0 else os.strerror(code)
    print(json.dumps(found))


def main(args):
    if args[:1] == ['--probe-unshare']:
        probe_unshare(args[1:])
        return
    spec, sep, argv = json.loads(args[0]), args[1], args[2:]
    if sep != '--' or not argv:
        sys.stderr.write('usage: confine.py SPEC -- ARGV\n')
        os._exit(SETUP_FAILED)
    if spec['mode'] == 'namespaces':
        run_namespaces(spec, argv)
    else:
        run_rlimits(spec, argv)


if __name__ == '__main__':
    main(sys.argv[1:])
