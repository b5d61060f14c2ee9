"""What the sandbox leaves or sends, handled by the trusted process without trusting it.

Two kinds of untrusted input reach the trusted process, and each has one way in here:

1. **Files in a scratch tree** (a submission's scratch copy, a build folder the sandbox wrote) or in a
   submitted folder: `read_file` (capped; `read_text` for text), `open_file` (a stream, for intake's
   copy of a submitted folder), `write_file`, `remove`, `entries`, `walk`, `opened_dir`. This is the
   one reader of such bytes in the trusted process: `UnsafeFile` (an `Untrusted`) says what was refused.
2. **Text** the sandbox sent (messages, notes, tracebacks, printed output, file names) on its way to a
   terminal, results.json or a report: `clean_text`, `clean_notes`.

Threat model for files. Sandboxed code runs as an unprivileged uid with the scratch tree writable, so
at any moment (also while the trusted side is working there: a worker may still run in the
background) any name in that tree may be
- a symbolic link, absolute or relative, to anything on the host: `/proc/self/mountinfo` tells the
  sandbox the scratch tree's host path, so it can aim a link at the grader's own files as well as at
  `/etc/shadow`. The trusted side runs as root: following such a link reads a host file into a report
  or overwrites one;
- a FIFO (opening it for reading waits for a writer that never comes), a socket, or (without
  bubblewrap, on a host that lets the uid make one) some other special file;
- a folder where a file was expected, or a file where a folder was expected;
- far larger than any real file (a sparse 1 TB file costs the sandbox nothing).
A check of a path followed by a use of the same path (`is_symlink()` then `open()`) loses the race
against a background process. So everything here works on descriptors: the tree's root is opened
(it is the grader's own folder), every folder below it with `O_NOFOLLOW | O_DIRECTORY` relative to
its parent's descriptor, the last name with `O_NOFOLLOW | O_NONBLOCK` (a FIFO opens at once instead
of waiting), and `fstat` of the opened descriptor must say "regular file" before a byte is read.
Reads are capped. Writes never go through what sits at a name: it is removed with `unlinkat`
(a link is removed, not followed; a folder with `rmtree(dir_fd=...)`, which does not follow links
either) and a new file is created with `O_CREAT | O_EXCL | O_NOFOLLOW`, which fails rather than
open anything that appeared meanwhile. Folders are created with `mkdirat`; ownership is changed with
`fchown` on the opened descriptor. Hard links cannot reach a host file: bubblewrap's bind mounts make
`link()` across them fail (EXDEV), and `protected_hardlinks` keeps the uid from linking files it
cannot read and write.

Not defended here: what the sandbox does to its own scratch tree (it may delete or rewrite its own
files at any time; that only changes its own grade), and a host whose own folders above the scratch
tree are writable by the sandbox uid.

Threat model for text. Submitted code can forge any reply of the worker (it runs in the worker's
interpreter and can replace its helpers): any number of notes, messages of any length, bytes that a
terminal obeys (ANSI CSI sequences that clear the screen or move the cursor, OSC sequences that
retitle the window or write the clipboard, a carriage return that overwrites a line with a fake
"5.00 / 5"), C1 controls, lone surrogates that cannot be written as UTF-8, and Unicode bidi controls
that reorder what is shown. `clean_text` removes all of those (keeping newlines and tabs) and cuts to
a length with a marker saying so; it is linear in the length of its input. Everything untrusted
passes through it before it is stored in a check's result, shown in a terminal, written to
results.json or put into a report; `clean_trace` also names files as the student knows them
(a forged traceback may carry any path of the grading machine).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from graders.engine.outcome import SubmissionError

MiB = 1 << 20

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# entries() kinds
FILE, DIR, LINK, OTHER = 'file', 'folder', 'symbolic link', 'special file'


class Untrusted(SubmissionError, ValueError):
    """Data from the sandbox or a submission that is not what it must be (a file refused here, a summary
    or reply that does not validate); `str()` says why."""


class UnsafeFile(Untrusted):
    """A name in a scratch tree that the trusted side will not use as asked: a link, a special file, a
    folder where a file was expected (or the reverse), or a file over its size cap. str() says which."""


Rel = str | Sequence[str]


def split(rel: Rel) -> tuple[str, ...]:
    """'a/b' or ('a', 'b') -> ('a', 'b'); names that could leave the tree are refused."""
    parts = tuple(rel.split('/')) if isinstance(rel, str) else tuple(rel)
    for name in parts:
        if name in ('', '.', '..') or '/' in name or '\0' in name:
            raise UnsafeFile(f'refusing the name {name!r} in {"/".join(parts)!r}')
    return parts


def _shown(parts: Sequence[str]) -> str:
    return '/'.join(parts) or '.'


@contextmanager
def opened_dir(root: str | os.PathLike, rel: Rel = (), *, create: bool = False) -> Iterator[int]:
    """A descriptor of the folder root/rel, every name below `root` opened without following a link.

    `root` is the grader's own folder (a scratch copy's root, made by the grader). With `create`,
    missing folders are made (mode 0755) and a file or link in the way is replaced by a folder;
    otherwise a missing folder raises FileNotFoundError and anything else but a folder UnsafeFile."""
    parts = split(rel)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, name in enumerate(parts):
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise
                if not create:
                    if e.errno == errno.ENOENT:
                        raise
                    raise UnsafeFile(f'{_shown(parts[:depth + 1])} is not a folder '
                                     f'({_kind(fd, name)})') from None
                if e.errno != errno.ENOENT:
                    _remove_name(fd, name)
                os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _kind(dir_fd: int, name: str) -> str:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return 'gone'
    return _kind_of_mode(mode)


def _kind_of_mode(mode: int) -> str:
    return (FILE if stat.S_ISREG(mode) else DIR if stat.S_ISDIR(mode) else LINK if stat.S_ISLNK(mode)
            else OTHER)


def read_file(root: str | os.PathLike, rel: Rel, cap: int, *, truncate: bool = False) -> bytes | None:
    """The bytes of the regular file root/rel, None if there is nothing at that name.

    UnsafeFile when a folder on the way or the file itself is a link, a special file or a folder, or
    when the file holds more than `cap` bytes (with `truncate`: its first `cap` bytes instead).
    A FIFO is never waited on."""
    parts = split(rel)
    try:
        f = open_file(root, parts)
    except FileNotFoundError:
        return None
    with f:
        data = f.read(cap + 1)
    if len(data) > cap:
        if not truncate:
            raise UnsafeFile(f'{_shown(parts)} is larger than {_size(cap)}')
        data = data[:cap]
    return data


def open_file(root: str | os.PathLike, rel: Rel) -> BinaryIO:
    """The regular file root/rel opened for reading (the caller closes it); FileNotFoundError when there
    is nothing at that name, UnsafeFile as in `read_file`. Reading is not capped: the caller counts."""
    parts = split(rel)
    with opened_dir(root, parts[:-1]) as dir_fd:
        try:
            fd = os.open(parts[-1], READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            raise
        except OSError as e:   # ELOOP: a link; ENXIO: a socket; EACCES...
            raise UnsafeFile(f'{_shown(parts)} is not a regular file ({_kind(dir_fd, parts[-1])}: '
                             f'{e.strerror})') from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafeFile(f'{_shown(parts)} is not a regular file (a {_kind_of_mode(mode)})')
    return os.fdopen(fd, 'rb')


def read_text(root: str | os.PathLike, rel: Rel, cap: int) -> str:
    """read_file(..., truncate=True) as UTF-8 text ('' when missing or unsafe), bad bytes replaced."""
    try:
        data = read_file(root, rel, cap, truncate=True)
    except UnsafeFile:
        return ''
    return (data or b'').decode('utf-8', 'replace')


def write_file(root: str | os.PathLike, rel: Rel, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` as a new regular file root/rel: whatever sits at that name (a link, a FIFO, a
    folder) is removed first, never followed; the folders on the way must be real folders."""
    parts = split(rel)
    with opened_dir(root, parts[:-1]) as dir_fd:
        for _ in range(3):   # something may reappear at the name between removal and creation
            _remove_name(dir_fd, parts[-1])
            try:
                fd = os.open(parts[-1], CREATE_FLAGS, 0o600, dir_fd=dir_fd)
                break
            except FileExistsError:
                continue
        else:
            raise UnsafeFile(f'{_shown(parts)} keeps reappearing; not written')
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
        os.fchmod(f.fileno(), mode)


def remove(root: str | os.PathLike, rel: Rel) -> bool:
    """Remove root/rel (a file, a link, or a whole folder) without following links; False if absent."""
    parts = split(rel)
    try:
        with opened_dir(root, parts[:-1]) as dir_fd:
            return _remove_name(dir_fd, parts[-1])
    except FileNotFoundError:
        return False


def _remove_name(dir_fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except IsADirectoryError:
        shutil.rmtree(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except PermissionError:   # Linux says EPERM for unlink() of a folder
        if _kind(dir_fd, name) != DIR:
            raise
        shutil.rmtree(name, dir_fd=dir_fd)
    return True


def chown(root: str | os.PathLike, rel: Rel, uid: int) -> None:
    """Give the folder or file root/rel to `uid` (fchown on a descriptor opened without following)."""
    parts = split(rel)
    with opened_dir(root, parts[:-1]) as dir_fd:
        os.chown(parts[-1], uid, uid, dir_fd=dir_fd, follow_symlinks=False)


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str     # FILE, DIR, LINK or OTHER (what lstat says; a link is never followed)
    size: int


def entries(root: str | os.PathLike, rel: Rel = ()) -> list[Entry]:
    """The names in the folder root/rel, sorted, each with what it is (links not followed); [] when
    there is no such folder. UnsafeFile when root/rel (or a folder on the way) is not a folder."""
    try:
        with opened_dir(root, rel) as fd:
            return _list(fd)
    except FileNotFoundError:
        return []


def _list(fd: int) -> list[Entry]:
    found = []
    with os.scandir(fd) as it:
        for item in it:
            try:
                info = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found.append(Entry(item.name, _kind_of_mode(info.st_mode), info.st_size))
    return sorted(found, key=lambda e: e.name)


def walk(root: str | os.PathLike, rel: Rel = (), *, max_entries: int = 20_000,
         skip: Iterable[str] = (), skip_hidden: bool = False) -> Iterator[tuple[tuple[str, ...], Entry]]:
    """(path relative to root/rel, Entry) for everything below root/rel, folders before what they
    hold, breadth first; links are listed, never followed. Folders named in `skip` (and with
    `skip_hidden`, those whose name starts with a dot) are listed but not entered. Stops after
    `max_entries`."""
    skip, count = set(skip), 0
    pending = [()]
    base = split(rel)
    while pending:
        here = pending.pop(0)
        try:
            listed = entries(root, base + here)
        except UnsafeFile:   # replaced by a link since it was listed
            continue
        for entry in listed:
            count += 1
            if count > max_entries:
                return
            yield here + (entry.name,), entry
            if entry.kind == DIR and entry.name not in skip and not (skip_hidden and entry.name.startswith('.')):
                pending.append(here + (entry.name,))


def _size(n: int) -> str:
    return f'{n / MiB:g} MiB' if n >= MiB else f'{n} bytes'


# -- text --------------------------------------------------------------------------------------------

# ESC-introduced sequences: CSI (ESC [ ... final), OSC / DCS / APC / PM / SOS strings (up to BEL or
# ESC \, or to the end), and two-byte escapes; then single C0 (but \t, \n), DEL and C1 controls, and
# bidi overrides/isolates. One pass of one regex: linear time.
_CONTROLS = re.compile(
    r'\x1b\[[0-?]*[ -/]*[@-~]?'
    r'|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?'
    r'|\x9b[0-?]*[ -/]*[@-~]?'
    r'|[\x90\x9d\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?'
    r'|\x1b[ -/]*[0-~]?'
    r'|[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]')
CUT_MARK = ' [... cut by the grader: %d more characters]'


def clean_text(value, limit: int) -> str:
    """`value` as text safe to show in a terminal, results.json or a report: terminal escape sequences,
    control characters other than newline and tab, bidi controls and unencodable surrogates removed
    (a carriage return ends a line: "\\r\\n" and "\\r" become "\\n"), at most `limit` characters with a
    marker saying how much was cut."""
    text = value if type(value) is str else str(value)
    if len(text) > 4 * limit + 4096:   # bound the work on what would be cut anyway
        head, more = text[:4 * limit + 4096], len(text) - (4 * limit + 4096)
    else:
        head, more = text, 0
    head = head.replace('\r\n', '\n').replace('\r', '\n')
    head = _CONTROLS.sub('', head)
    if not head.isascii():
        head = head.encode('utf-8', 'replace').decode('utf-8')   # lone surrogates -> '?'
    if len(head) + more > limit:
        mark = CUT_MARK % (len(head) + more - limit)
        keep = max(0, limit - len(mark))
        return head[:keep] + CUT_MARK % (len(head) + more - keep)
    return head


def clean_trace(value, limit: int, roots: Iterable = ()) -> str:
    """`clean_text`, then every absolute path in it as the student knows it (graders/inside/shown_paths.py:
    `cs231n/layers.py`, `torch/nn/modules/module.py`), relative to `roots` (the submission's folder here)
    and never the grading machine's folders: for tracebacks, exception messages and output the sandbox
    sent, which the worker shortened already unless the reply was forged."""
    from graders.inside.shown_paths import short_paths
    # Shortened before the cut to `limit` (a path cut in two would keep its machine part), after a first
    # cut that bounds the work on what would be cut anyway.
    return clean_text(short_paths(clean_text(value, 4 * limit), tuple(str(r) for r in roots)), limit)


def clean_notes(notes: Iterable, *, limit: int, note_chars: int) -> list[str]:
    """Notes cleaned (clean_text), de-duplicated in order (linear time), at most `limit` of them; one
    last note says how many more there were."""
    kept: dict[str, None] = {}
    more = 0
    for note in notes:
        if len(kept) >= limit:
            more += 1    # not cleaned: only counted (duplicates included)
            continue
        kept[clean_text(note, note_chars)] = None
    out = list(kept)
    if more:
        out.append(f'{more} more notes were left out by the grader')
    return out
