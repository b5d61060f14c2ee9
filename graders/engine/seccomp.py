"""The seccomp filter of every sandboxed process: a classic BPF program, written here, byte for byte.

Threat model: student code runs as an unprivileged uid in namespaces (or, in the fallback levels, with
fewer of them). What namespaces and uids do not cover is the kernel's shared state and its attack
surface: the keyrings of the sandbox uid outlive a grade and are shared by every process of that uid
(one submission can leave a key for the next to read), ptrace and process_vm_* reach other processes of
the same uid, new namespaces (unshare, setns, clone with CLONE_NEW*) re-open what the sandbox closed and
expose more kernel code, and bpf, perf_event_open, userfaultfd, io_uring, module loading, kexec, mount,
swap, acct, reboot and open_by_handle_at are rarely needed and often exploited. Honest code (numpy,
torch, Cython builds with gcc, notebooks) calls none of them.

Each denied call fails with EPERM (not a kill): an honest library that probes one gets an ordinary
Python error, and a hostile one learns nothing it did not already know. clone3 gets ENOSYS, the
answer glibc expects from an older kernel: it then falls back to clone, whose flags (unlike clone3's,
which sit in memory a filter cannot read) are checked. A syscall of another ABI than the host's
(i386 via int 0x80 on x86_64, x32, AArch32) is denied outright: the numbers above mean something
else there.

The program is for x86_64 and aarch64 (the numbers of each are below, checked against the kernel
headers by tests/engine/test_seccomp.py). Elsewhere `build_filter()` raises `UnsupportedArch`, and the
sandbox states that it runs without a filter.

The same bytes go to bubblewrap (`--seccomp FD`, which loads them last, just before the command) and to
graders/engine/confine.py in the fallback levels (prctl(PR_SET_NO_NEW_PRIVS) + prctl(PR_SET_SECCOMP)).
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
OFFSET_NR, OFFSET_ARCH = 0, 4


def offset_arg_low(i: int) -> int:
    """Offset of the low 32 bits of syscall argument i (little-endian hosts only)."""
    return 16 + 8 * i


# BPF opcodes (linux/bpf_common.h).
BPF_LD_W_ABS = 0x00 | 0x00 | 0x20   # BPF_LD | BPF_W | BPF_ABS
BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JMP_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
BPF_JMP_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
BPF_RET_K = 0x06 | 0x00             # BPF_RET | BPF_K

SECCOMP_RET_ALLOW = 0x7fff0000
SECCOMP_RET_ERRNO = 0x00050000

AUDIT_ARCH = {'x86_64': 0xC000003E, 'aarch64': 0xB7 | 0x80000000 | 0x40000000}
X32_SYSCALL_BIT = 0x40000000

# The clone flags that create namespaces. CLONE_NEWTIME (0x80) is left out: in clone() that bit is part
# of the exit signal (CSIGNAL); it can only be set with clone3 (ENOSYS here) or unshare (denied).
CLONE_NAMESPACE_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
                         | 0x40000000)  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
# ioctls that inject input into a terminal (the sandbox has no controlling terminal; belt and braces).
DENIED_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX

# Denied outright, with EPERM. name: (x86_64, aarch64); None where the arch has no such call.
DENIED = {
    # keyrings: shared by every process of the uid, and they outlive the grade
    'add_key': (248, 217), 'request_key': (249, 218), 'keyctl': (250, 219),
    # other processes of the same uid
    'ptrace': (101, 117), 'process_vm_readv': (310, 270), 'process_vm_writev': (311, 271),
    'kcmp': (312, 272), 'pidfd_getfd': (438, 438),
    # namespaces and mounts
    'unshare': (272, 97), 'setns': (308, 268), 'mount': (165, 40), 'umount2': (166, 39),
    'pivot_root': (155, 41), 'chroot': (161, 51), 'open_tree': (428, 428), 'move_mount': (429, 429),
    'fsopen': (430, 430), 'fsconfig': (431, 431), 'fsmount': (432, 432), 'fspick': (433, 433),
    'mount_setattr': (442, 442),
    # kernel attack surface honest code never needs
    'bpf': (321, 280), 'perf_event_open': (298, 241), 'userfaultfd': (323, 282),
    'io_uring_setup': (425, 425), 'io_uring_enter': (426, 426), 'io_uring_register': (427, 427),
    'open_by_handle_at': (304, 265), 'name_to_handle_at': (303, 264),
    'init_module': (175, 105), 'finit_module': (313, 273), 'delete_module': (176, 106),
    'create_module': (174, None), 'get_kernel_syms': (177, None), 'query_module': (178, None),
    'kexec_load': (246, 104), 'kexec_file_load': (320, 294), 'reboot': (169, 142),
    'swapon': (167, 224), 'swapoff': (168, 225), 'acct': (163, 89), 'quotactl': (179, 60),
    'lookup_dcookie': (212, 18), 'syslog': (103, 116), 'vhangup': (153, 58), 'nfsservctl': (180, 42),
    'uselib': (134, None), 'iopl': (172, None), 'ioperm': (173, None), '_sysctl': (156, None),
    'fanotify_init': (300, 262), 'settimeofday': (164, 170), 'clock_settime': (227, 112),
    'clock_adjtime': (305, 266), 'adjtimex': (159, 171),
}
# Where the sandbox has no ipc namespace of its own (the 'rlimits' level), SysV IPC objects and POSIX
# message queues would outlive a grade and be shared with the next one: denied there too. (Python's
# multiprocessing and torch use POSIX semaphores and shared memory, files in /dev/shm, not these.)
IPC = {'msgget': (68, 186), 'semget': (64, 190), 'shmget': (29, 194), 'mq_open': (240, 180)}
CLONE = {'x86_64': 56, 'aarch64': 220}
CLONE3 = {'x86_64': 435, 'aarch64': 435}
IOCTL = {'x86_64': 16, 'aarch64': 29}


class UnsupportedArch(RuntimeError):
    """The host's architecture has no syscall table here: no filter can be built."""


def host_arch() -> str:
    machine = platform.machine().lower()
    return {'amd64': 'x86_64', 'arm64': 'aarch64'}.get(machine, machine)


def denied_numbers(arch: str, deny_ipc: bool = False) -> dict[str, int]:
    """{syscall name: number} of the calls denied with EPERM on `arch` (with SysV IPC and POSIX message
    queues when `deny_ipc`)."""
    column = ('x86_64', 'aarch64').index(arch)
    table = dict(DENIED, **IPC) if deny_ipc else DENIED
    return {name: nums[column] for name, nums in table.items() if nums[column] is not None}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack('<HBBI', code, jt, jf, k)


def build_filter(arch: str | None = None, deny_ipc: bool = False) -> bytes:
    """The filter program for `arch` (default the host's), as the raw `struct sock_filter` array
    bubblewrap reads from --seccomp FD and prctl(PR_SET_SECCOMP) takes (with its length).
    deny_ipc: also deny SysV IPC and POSIX message queues (for sandboxes without an ipc namespace)."""
    arch = arch or host_arch()
    if arch not in AUDIT_ARCH:
        raise UnsupportedArch('no seccomp syscall table for %s (only x86_64 and aarch64)' % arch)
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    # Built as (instruction, label) pairs; jumps go to one of three returns at the end.
    body: list[tuple[str, int, int, str | None]] = []   # (op, k, unused, target label for jumps)

    def jump_if(op: int, k: int, target: str):
        body.append(('j', op, k, target))

    def load(offset: int):
        body.append(('ld', BPF_LD_W_ABS, offset, None))

    load(OFFSET_ARCH)
    body.append(('jne', BPF_JMP_JEQ_K, AUDIT_ARCH[arch], 'deny'))   # another ABI: deny
    load(OFFSET_NR)
    if arch == 'x86_64':
        jump_if(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 'deny')                # x32 numbers
    for number in sorted(set(denied_numbers(arch, deny_ipc).values())):
        jump_if(BPF_JMP_JEQ_K, number, 'deny')
    jump_if(BPF_JMP_JEQ_K, CLONE3[arch], 'enosys')
    jump_if(BPF_JMP_JEQ_K, CLONE[arch], 'clone')
    jump_if(BPF_JMP_JEQ_K, IOCTL[arch], 'ioctl')
    body.append(('ret', BPF_RET_K, SECCOMP_RET_ALLOW, None))
    body.append(('label', 0, 0, 'clone'))
    load(offset_arg_low(0))
    jump_if(BPF_JMP_JSET_K, CLONE_NAMESPACE_FLAGS, 'deny')
    body.append(('ret', BPF_RET_K, SECCOMP_RET_ALLOW, None))
    body.append(('label', 0, 0, 'ioctl'))
    load(offset_arg_low(1))
    for request in DENIED_IOCTLS:
        jump_if(BPF_JMP_JEQ_K, request, 'deny')
    body.append(('ret', BPF_RET_K, SECCOMP_RET_ALLOW, None))
    body.append(('label', 0, 0, 'enosys'))
    body.append(('ret', BPF_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS, None))
    body.append(('label', 0, 0, 'deny'))
    body.append(('ret', BPF_RET_K, eperm, None))

    # Resolve labels: index of the instruction that follows each label.
    positions: dict[str, int] = {}
    index = 0
    for kind, _, _, name in body:
        if kind == 'label':
            positions[name] = index
        else:
            index += 1
    program = []
    index = 0
    for kind, op, k, target in body:
        if kind == 'label':
            continue
        if kind in ('j', 'jne'):
            offset = positions[target] - index - 1
            if not 0 <= offset <= 255:
                raise AssertionError('seccomp jump too long')   # pragma: no cover - the program is small
            # jeq/jge/jset: jump when true; 'jne' (arch check): jump when false.
            program.append(_insn(op, k, offset, 0) if kind == 'j' else _insn(op, k, 0, offset))
        else:
            program.append(_insn(op, k))
        index += 1
    if len(program) > 4096:
        raise AssertionError('seccomp program too long')        # pragma: no cover
    return b''.join(program)


def describe(arch: str | None = None, deny_ipc: bool = False) -> str:
    """One line for the doctor table and the report."""
    arch = arch or host_arch()
    return ('%d syscalls denied with EPERM (keyrings, ptrace, mount, namespaces, bpf, perf, modules%s, ...), '
            'namespace flags of clone, clone3 (ENOSYS), other ABIs; %s'
            % (len(denied_numbers(arch, deny_ipc)), ', SysV IPC' if deny_ipc else '', arch))
