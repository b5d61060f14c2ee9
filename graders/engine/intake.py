"""Intake: turn a submitted zip or folder into a clean scratch copy of one part's folder, or a verdict.

`open_submission(path)` reads a student's zip (or a folder, which is copied, never used in place), finds
the folder of Part 1 (`cs231n/layers.py` ...) or Part 2 (`train.py` + `models/`) wherever it sits in
it, and copies that folder, without junk, into a fresh scratch directory. Anything that makes a
submission unusable or unsafe raises `IntakeError`, whose message is the verdict shown to the student.

The zip is hostile until proven otherwise:
- every entry name is checked before anything is written: no `..`, no absolute paths, no drive letters
  (backslashes are read as folder separators, as Windows tools mean them), no control characters;
- symbolic links, devices, pipes and sockets (the Unix mode in the external attributes) are refused,
  and modes are never taken from the zip: files are written 0644 (0755 for `.sh`), folders 0755;
- sizes are capped (`Limits`) from the headers first, then again while unpacking by counting the bytes
  actually written, so a header that lies about a size gains nothing; the number of entries is read
  from the zip's end record before `zipfile` loads the central directory into memory;
- nested zips stay plain files, `.pt` checkpoints stay data (kept, never loaded here).
"""

from __future__ import annotations

import fnmatch
import hashlib
import lzma
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from graders.engine import untrusted
from graders.engine.outcome import SubmissionError

MB = 1 << 20
CHUNK = 1 << 20
PART_FOLDERS = {1: "1_cs231n", 2: "2_pytorch"}

# The files students write or must ship, per part; a folder holding more of them is a better root.
PART_FILES = {
    1: ("cs231n/layers.py", "cs231n/classifiers/softmax.py", "cs231n/classifiers/linear_classifier.py",
        "cs231n/classifiers/neural_net.py", "cs231n/classifier_trainer.py"),
    2: ("train.py", "models/softmax.py", "models/twolayernn.py", "models/convnet.py", "models/mymodel.py"),
}
# A folder is a candidate root only if it holds one of these part files: `train.py` alone is not Part 2.
PART_ANCHORS = {1: "cs231n/", 2: "models/"}
PART_DESCRIPTIONS = {
    1: "cs231n/layers.py and cs231n/classifiers/ (the zip that 1_cs231n/collect_submission.sh makes)",
    2: "train.py and models/ (the zip that 2_pytorch/collect_submission.sh makes)",
}
# What a file name says about its part (students rename their zips: 'gburdell3_2_pytorch.zip',
# 'hw1_pytorch.zip'), Part 2 first: a name that says both is Part 2's.
PART_NAME_PATTERNS = ((2, re.compile(r"2_pytorch|pytorch", re.I)), (1, re.compile(r"1_cs231n|cs231n", re.I)))

# Skipped with a note: (why, folder names, file name patterns); patterns are matched in lower case.
JUNK = (
    ("compiled Python caches", {"__pycache__"}, ("*.pyc", "*.pyo")),
    ("notebook checkpoints", {".ipynb_checkpoints"}, ()),
    ("macOS metadata", {"__MACOSX"}, (".ds_store", "._*")),
    ("Windows metadata", set(), ("thumbs.db", "desktop.ini")),
    ("compiled im2col_cython builds (the grader builds its own)", {"build"},
     ("*.so", "*.pyd", "*.dylib", "*.o", "*.obj", "im2col_cython.c")),
    ("version control data", {".git", ".hg", ".svn"}, ()),
    ("datasets (the grader brings its own CIFAR-10)", {"cifar-10-batches-py"}, ("*.tar.gz", "*.tgz")),
)
DATA_ONLY = ("*.pt", "*.pth")  # kept for the sandbox, never loaded in the trusted process

UNIX_SYSTEMS = (3, 19)  # zip "version made by" hosts whose external attributes carry a Unix mode
UTF8_FLAG, ENCRYPTED_FLAG = 0x800, 0x1
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 1024
DIRECTORY_BYTES_PER_ENTRY = 1024  # a generous average for a central directory record (46 bytes + name)

# Errors that reading a damaged member can raise (bz2 reports bad data as OSError).
READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
               NotImplementedError, RuntimeError)
# What other files start with, to say what was uploaded instead of a zip.
MAGIC = ((b"%PDF", "a PDF"), (b"\x1f\x8b", "a gzip/.tar.gz archive"), (b"Rar!", "a RAR archive"),
         (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"{", "a notebook or JSON file"))


class IntakeError(SubmissionError):
    """The submission cannot be graded; `str()` is the verdict for the student."""


@dataclass(frozen=True)
class Limits:
    """Caps on what a submission may unpack to. Sizes are bytes of uncompressed content."""
    max_total_bytes: int = 200 * MB      # all files kept (Part 2 zips carry plots, logs, PDFs, .pt files)
    max_file_bytes: int = 100 * MB       # any one file
    max_entries: int = 5000              # entries in the zip, or entries walked in a folder
    max_ratio: int = 200                 # uncompressed / compressed size of one member ...
    ratio_floor_bytes: int = 1 * MB      # ... once it unpacks to more than this
    max_archive_bytes: int = 500 * MB    # the zip file itself


@dataclass
class Submission:
    """A part's folder, copied into a fresh scratch directory that the caller removes with `cleanup()`."""
    root: Path                 # the part's folder: scratch/1_cs231n or scratch/2_pytorch
    part: int                  # 1 or 2
    notes: list[str]           # for the report: where the part was found, what was skipped and why
    source: Path               # the zip or folder as given
    digest: str                # sha256 of the zip's bytes, or of the folder's kept files (names and contents)
    scratch: Path = field(repr=False)  # the fresh directory that holds `root`

    def cleanup(self) -> None:
        """Remove the scratch directory and everything in it."""
        shutil.rmtree(self.scratch, ignore_errors=True)


@dataclass(frozen=True)
class _Entry:
    """One file or folder of the submission, before anything is written."""
    parts: tuple[str, ...]                    # its path inside the submission, split into names
    is_dir: bool
    size: int = 0                             # declared uncompressed size
    packed: int | None = None                 # compressed size (zip members only)
    open: Callable[[], BinaryIO] | None = None

    @property
    def path(self) -> str:
        return "/".join(self.parts) + ("/" if self.is_dir else "")


class _Overflow(Exception):
    """More bytes came out of a member than the limit allowed."""


class _Unreadable(Exception):
    """Reading a member failed (damaged data); wraps the original error."""


# ---------------------------------------------------------------------------------------------- entry point

def open_submission(path: str | os.PathLike, part: int | None = None, scratch: str | os.PathLike | None = None,
                    limits: Limits = Limits()) -> Submission:
    """Unpack the zip or copy the folder at `path` and return the part's folder in a fresh scratch directory.

    `part` is the part being graded (1 or 2), or None to tell from the content. `scratch` is the folder
    in which the fresh directory is made (default: the system's temporary folder). Raises IntakeError
    for anything the student must fix; nothing is left behind in `scratch` then."""
    if part not in (None, 1, 2):
        raise ValueError(f"part must be 1, 2 or None, not {part!r}")
    source = Path(path)
    notes: list[str] = []
    if source.is_dir():
        entries = _drop_junk(_folder_entries(source, limits, notes), notes)
        _check_sizes(entries, limits)
        digest = _folder_digest(entries)
        return _finish(source, "folder", entries, digest, part, scratch, limits, notes)
    if not source.exists():
        raise IntakeError(f"There is no file or folder at {source}.")
    digest = _check_zip_file(source, limits)
    with _open_zip(source, limits) as zf:
        entries = _drop_junk(_zip_entries(zf, notes), notes)
        _check_sizes(entries, limits)
        return _finish(source, "zip", entries, digest, part, scratch, limits, notes)


def _finish(source: Path, kind: str, entries: list[_Entry], digest: str, part: int | None,
            scratch: str | os.PathLike | None, limits: Limits, notes: list[str]) -> Submission:
    """Find the part's root among the checked entries and write it into a fresh scratch directory."""
    part, root, left_out = locate_part([e.path for e in entries if not e.is_dir], part, kind, notes)
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix="hw1grade-", dir=scratch))
    try:
        dest = fresh / PART_FOLDERS[part]
        kept = _write_tree([e for e in entries if not any(e.parts[:len(o)] == o for o in left_out)],
                           root, dest, limits)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    _note_kept_data(kept, notes)
    return Submission(root=dest, part=part, notes=notes, source=source, digest=digest, scratch=fresh)


# ------------------------------------------------------------------------------------------------ zip input

def _check_zip_file(source: Path, limits: Limits) -> str:
    """Check that `source` is a zip of acceptable size, and return the sha256 of its bytes."""
    size = source.stat().st_size
    if size == 0:
        raise IntakeError(f"{source.name} is an empty file, not a zip.")
    if size > limits.max_archive_bytes:
        raise IntakeError(f"The zip is {_mb(size)}, over the limit of {_mb(limits.max_archive_bytes)}: "
                          "zip only your assignment folder, without datasets or saved models.")
    with open(source, "rb") as f:
        head = f.read(8)
        if not head.startswith(b"PK"):
            what = next((name for magic, name in MAGIC if head.startswith(magic)), "some other kind of file")
            raise IntakeError(f"{source.name} is not a zip file (it looks like {what}); "
                              "upload the zip that collect_submission.sh makes.")
        f.seek(0)
        return hashlib.file_digest(f, "sha256").hexdigest()


_EOCD = struct.Struct("<4s4H2LH")            # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def declared_directory(f: BinaryIO) -> tuple[int, int] | None:
    """(entry count, central directory bytes) as the zip's end record declares them, or None if there is
    no readable end record (zipfile then reports the damage). Read before zipfile parses the directory,
    which it loads whole into memory: a small zip may declare millions of entries."""
    f.seek(0, os.SEEK_END)
    start = max(0, f.tell() - _EOCD.size - 0xFFFF)  # the record ends the file, after a comment of <= 64 KiB
    f.seek(start)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return None
    *_, entries, directory_bytes, _, _ = _EOCD.unpack_from(tail, at)
    if entries != 0xFFFF and directory_bytes != 0xFFFFFFFF:
        return entries, directory_bytes
    locator_at = start + at - _ZIP64_LOCATOR.size
    if locator_at < 0:
        return None
    f.seek(locator_at)
    locator = f.read(_ZIP64_LOCATOR.size)
    signature, _, record_at, _ = _ZIP64_LOCATOR.unpack(locator)
    if signature != b"PK\x06\x07":
        return None
    f.seek(record_at)
    record = f.read(_ZIP64_EOCD.size)
    if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        return None
    fields = _ZIP64_EOCD.unpack(record)
    return fields[7], fields[8]


def _too_many(count: int, limits: Limits) -> IntakeError:
    return IntakeError(f"The submission holds too many entries ({count:,}; the limit is "
                       f"{limits.max_entries:,}): zip only your assignment folder, without datasets, "
                       "virtual environments or caches.")


def _open_zip(source: Path, limits: Limits) -> zipfile.ZipFile:
    """Open the zip after checking its declared directory size; damaged zips raise IntakeError."""
    with open(source, "rb") as f:
        declared = declared_directory(f)
    if declared:
        count, directory_bytes = declared
        if count > limits.max_entries or directory_bytes > limits.max_entries * DIRECTORY_BYTES_PER_ENTRY:
            raise _too_many(max(count, directory_bytes // DIRECTORY_BYTES_PER_ENTRY), limits)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError, struct.error) as e:
        raise IntakeError(f"{source.name} is a damaged zip (corrupt or truncated: {e}); "
                          "make it again with collect_submission.sh and upload it again.") from None
    if len(zf.infolist()) > limits.max_entries:
        zf.close()
        raise _too_many(len(zf.infolist()), limits)
    if not zf.infolist():
        zf.close()
        raise IntakeError(f"{source.name} is an empty zip: it holds no files.")
    return zf


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it.

    Without the UTF-8 flag zipfile decodes names as cp437, but macOS and Info-ZIP write UTF-8 there
    without setting the flag: such names are re-read as UTF-8 when they are valid UTF-8."""
    name = info.orig_filename  # before zipfile cuts it at a NUL byte
    if info.flag_bits & UTF8_FLAG or name.isascii():
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name


def safe_parts(name: str) -> tuple[str, ...]:
    """Split a member name into folder names, refusing any that could land outside the extraction folder.

    Backslashes count as separators (Windows tools write them); `.` and empty names are dropped."""
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise IntakeError(f"The zip holds an entry with a control character in its name ({name!r}); "
                          "such zips are refused.")
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        raise IntakeError(f"The zip holds an entry with an absolute path ({name!r}); such zips are refused.")
    if re.match(r"[A-Za-z]:", unified):
        raise IntakeError(f"The zip holds an entry with a drive letter ({name!r}); such zips are refused.")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if ".." in parts:
        raise IntakeError(f"The zip holds an entry whose path points outside the folder it unpacks into "
                          f"({name!r}); such zips are refused.")
    if len(unified.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES or any(
            len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts):
        raise IntakeError(f"The zip holds an entry whose name is too long ({name[:80]!r}...); "
                          "such zips are refused.")
    return parts


def _check_member_type(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse links and special files (the Unix file type kept in the upper external attributes) and
    encrypted members. Modes are never applied, so other hosts' attributes are simply ignored."""
    if info.flag_bits & ENCRYPTED_FLAG:
        raise IntakeError(f"{name!r} in the zip is encrypted (password-protected); "
                          "zip your files without a password.")
    if info.create_system not in UNIX_SYSTEMS:
        return
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise IntakeError(f"The zip holds a symbolic link ({name!r}); zip the files themselves, not links.")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a pipe",
                stat.S_IFSOCK: "a socket"}.get(kind, "an unknown file type")
        raise IntakeError(f"The zip holds a special file ({name!r} is {what}, not a regular file); "
                          "such zips are refused.")


def _zip_entries(zf: zipfile.ZipFile, notes: list[str]) -> list[_Entry]:
    """Every member of the zip, checked for safety, with duplicates resolved (the last one wins)."""
    found: dict[tuple[str, ...], _Entry] = {}
    backslashes, duplicates = False, []
    for info in zf.infolist():
        name = member_name(info)
        _check_member_type(info, name)
        parts = safe_parts(name)
        if not parts:
            continue  # "./": the top folder itself
        backslashes |= "\\" in name
        is_dir = name.endswith(("/", "\\")) or stat.S_ISDIR(info.external_attr >> 16)
        entry = _Entry(parts, is_dir, 0 if is_dir else info.file_size, info.compress_size,
                       (lambda info=info: zf.open(info)))
        if parts in found and not is_dir:
            duplicates.append(entry.path)
        found[parts] = entry
    if backslashes:
        notes.append("File names in the zip use '\\' as the folder separator (a Windows zip tool); "
                     "they were read as '/'.")
    if duplicates:
        notes.append(f"The zip holds several entries with the same name; the last one was kept: "
                     f"{_examples(duplicates)}.")
    return list(found.values())


# --------------------------------------------------------------------------------------------- folder input

def _folder_entries(folder: Path, limits: Limits, notes: list[str]) -> list[_Entry]:
    """The files and folders under `folder`, in a fixed order, without following symbolic links.

    Junk folders are not descended into (a `.git` or a dataset may be large); links are skipped with
    a note; devices, pipes and sockets are refused."""
    entries, links, count = [], [], 0
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        try:
            with os.scandir(folder.joinpath(*parts)) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError as e:
            raise IntakeError(f"Cannot read the folder {folder.joinpath(*parts)} ({e.strerror}).") from None
        for item in items:
            count += 1
            if count > limits.max_entries:
                raise _too_many(count, limits)
            rel = (*parts, item.name)
            if item.is_symlink():
                links.append(f"{'/'.join(rel)} -> {os.readlink(item.path)}")
            elif item.is_dir(follow_symlinks=False):
                entries.append(_Entry(rel, True))
                if _junk_reason(rel, True) is None:
                    pending.append(rel)
            elif item.is_file(follow_symlinks=False):
                entries.append(_Entry(rel, False, item.stat(follow_symlinks=False).st_size,
                                      open=(lambda p=Path(item.path): _open_regular(p))))
            else:
                raise IntakeError(f"The folder holds a special file ({'/'.join(rel)} is not a regular file, "
                                  "folder or link); such submissions are refused.")
    if links:
        notes.append(f"Symbolic links are not followed; skipped: {_examples(sorted(links))}.")
    return entries


def _open_regular(path: Path) -> BinaryIO:
    """Open a file of the submitted folder for reading (`untrusted.open_file`: no link followed, no FIFO
    waited on), only if it is still a regular file; OSError otherwise, as for a file that cannot be read."""
    try:
        return untrusted.open_file(path.parent, (path.name,))
    except untrusted.UnsafeFile as e:
        raise OSError(f"{path} is no longer a regular file ({e})") from None


def submission_digest(path: str | os.PathLike, limits: Limits = Limits()) -> str:
    """The `Submission.digest` that `open_submission(path)` gives, without unpacking or copying: the
    sha256 of a zip's (any file's) bytes, or of a folder's kept files (paths and contents, junk left
    out, so a stray __pycache__ does not make it another submission). The one digest of a submission:
    the grade's seed and batch's "already graded?" both use it. IntakeError when the folder cannot be
    listed or read (open_submission refuses it for the same reason)."""
    source = Path(path)
    if source.is_dir():
        return _folder_digest(_drop_junk(_folder_entries(source, limits, []), []))
    with open(source, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _folder_digest(entries: list[_Entry]) -> str:
    """sha256 over the kept files' paths and contents, in path order."""
    digest = hashlib.sha256()
    for entry in sorted((e for e in entries if not e.is_dir), key=lambda e: e.parts):
        try:
            with entry.open() as f:
                content = hashlib.file_digest(f, "sha256").digest()
        except OSError as e:
            raise IntakeError(f"Cannot read {entry.path} in the folder ({e}).") from None
        digest.update(os.fsencode(entry.path) + b"\0" + content)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------- junk and size checks

def _junk_reason(parts: tuple[str, ...], is_dir: bool) -> tuple[str, str] | None:
    """(why it is junk, the path to report) for a junk entry, else None. Inside a junk folder the
    folder itself is reported, so that one note covers all it holds."""
    folders = parts if is_dir else parts[:-1]
    for depth, name in enumerate(folders):
        for reason, names, _ in JUNK:
            if name in names:
                return reason, "/".join(parts[:depth + 1]) + "/"
    if not is_dir:
        lower = parts[-1].lower()
        for reason, _, patterns in JUNK:
            if any(fnmatch.fnmatchcase(lower, p) for p in patterns):
                return reason, "/".join(parts)
    return None


def _drop_junk(entries: list[_Entry], notes: list[str]) -> list[_Entry]:
    """The entries that are not junk; one note per kind of junk skipped."""
    kept, skipped = [], defaultdict(dict)  # reason -> reported paths, in order, without repeats
    for entry in entries:
        junk = _junk_reason(entry.parts, entry.is_dir)
        if junk is None:
            kept.append(entry)
        else:
            skipped[junk[0]][junk[1]] = None
    for reason, paths in skipped.items():
        notes.append(f"Skipped {reason}: {_examples(list(paths))}.")
    return kept


def _check_sizes(entries: list[_Entry], limits: Limits) -> None:
    """Refuse from the declared sizes: a member that unpacks suspiciously far (a zip bomb), one file
    over the per-file cap, or files that add up to more than the total cap."""
    files = [e for e in entries if not e.is_dir]
    for e in files:
        if (e.packed is not None and e.size > limits.ratio_floor_bytes
                and e.size > limits.max_ratio * max(e.packed, 1)):
            raise IntakeError(f"{e.path!r} would expand from {_mb(e.packed)} to {_mb(e.size)} "
                              f"({e.size // max(e.packed, 1):,} times its compressed size): refusing what "
                              "looks like a zip bomb.")
    for e in files:
        if e.size > limits.max_file_bytes:
            raise IntakeError(f"{e.path!r} is {_mb(e.size)}, over the {_mb(limits.max_file_bytes)} limit for "
                              "one file; leave datasets and large outputs out of the submission.")
    total = sum(e.size for e in files)
    if total > limits.max_total_bytes:
        raise IntakeError(f"The files add up to {_mb(total)}, over the {_mb(limits.max_total_bytes)} limit "
                          "for the whole submission; leave datasets and large outputs out of it.")


# ------------------------------------------------------------------------------------------- finding a part

@dataclass(frozen=True)
class _Candidate:
    part: int
    root: str                 # folder inside the submission ("" for the top), without a trailing slash
    found: frozenset[str]     # which of PART_FILES[part] it holds

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.root.split("/")) if self.root else ()

    @property
    def depth(self) -> int:
        return len(self.parts)

    def where(self, kind: str) -> str:
        return f"at the top of the {kind}" if not self.root else f"in {self.root}/"


def _candidates(files: Iterable[str]) -> list[_Candidate]:
    """Every folder that holds at least one of a part's anchor files, with the part files it holds."""
    hits: dict[tuple[int, str], set[str]] = defaultdict(set)
    for path in files:
        for part, expected in PART_FILES.items():
            for rel in expected:
                if path == rel or path.endswith("/" + rel):
                    hits[part, path[:len(path) - len(rel)].rstrip("/")].add(rel)
    return [_Candidate(part, root, frozenset(found)) for (part, root), found in sorted(hits.items())
            if any(f.startswith(PART_ANCHORS[part]) for f in found)]


def part_from_name(name: str) -> int | None:
    """The part a file or folder name says (PART_NAME_PATTERNS), None when it says neither."""
    return next((part for part, pattern in PART_NAME_PATTERNS if pattern.search(name)), None)


def part_from_listing(names: list[str]) -> int | None:
    """The part a listing looks like ('/'-separated paths, folders ending in '/', however deep it goes),
    before anything is unpacked: Part 1 when it holds a `cs231n/` folder, else Part 2 when it holds
    `models/` or `train.py`; None otherwise. A guess for sorting uploads by part (a class folder, a
    Gradescope upload); grading decides with `locate_part`."""
    if any(re.search(r"(^|/)cs231n/", n) for n in names):
        return 1
    if any(re.search(r"(^|/)(models/|train\.py$)", n) for n in names):
        return 2
    return None


def locate_part(files: list[str], part: int | None, kind: str, notes: list[str]
                ) -> tuple[int, tuple[str, ...], list[tuple[str, ...]]]:
    """Pick the part and its root folder among the submission's file paths ('/'-separated); return
    (part, root, left out): the root and the other copies inside it, all as tuples of folder names.

    The root is the folder holding the most of the part's files, the shallowest among equals; other
    copies (of either part) are noted, and those inside the root are left out of the copy, so that
    nothing stale is graded by mistake. With `part` None the part is told from the content; both parts
    present, or the other part where `part` was asked for, is a verdict."""
    candidates = _candidates(files)
    present = sorted({c.part for c in candidates})
    if not present:
        raise _nothing_found(files, part, kind)
    if part is None:
        if len(present) == 2:
            one, two = (min((c for c in candidates if c.part == p), key=_rank) for p in (1, 2))
            raise IntakeError(f"The {kind} holds both Part 1 ({one.where(kind)}) and Part 2 "
                              f"({two.where(kind)}); submit each part on its own.")
        part = present[0]
    if part not in present:
        other = min(candidates, key=_rank)
        raise IntakeError(f"This is a Part {other.part} submission ({other.where(kind)}), but Part {part} "
                          f"is graded here: upload {PART_FOLDERS[part]}.zip, with {PART_DESCRIPTIONS[part]}.")
    mine = sorted((c for c in candidates if c.part == part), key=_rank)
    best = mine[0]
    notes.append(f"Part {part} found {best.where(kind)}.")
    missing = [f for f in PART_FILES[part] if f not in best.found]
    if missing:
        notes.append(f"Expected files missing from Part {part}: {', '.join(missing)}.")
    for other in mine[1:]:
        notes.append(f"Another copy of Part {part} files {other.where(kind)} ({len(other.found)} of "
                     f"{len(PART_FILES[part])} expected files) was ignored; the one "
                     f"{best.where(kind)} is graded.")
    for other in candidates:
        if other.part != part:
            notes.append(f"Part {other.part} files {other.where(kind)} were ignored (Part {part} is graded).")
    inside = [c.parts for c in candidates
              if c.depth > best.depth and c.parts[:best.depth] == best.parts and c.parts != best.parts]
    return part, best.parts, inside


def _rank(c: _Candidate) -> tuple:
    """Most part files first, then the shallowest, then by name (so the choice is stable)."""
    return -len(c.found), c.depth, c.root


def _nothing_found(files: list[str], part: int | None, kind: str) -> IntakeError:
    """The verdict for a submission without any part: what was expected and what the top level holds."""
    wanted = " or ".join(f"Part {p}: {PART_DESCRIPTIONS[p]}" for p in ((part,) if part else (1, 2)))
    top = sorted({f.split("/")[0] + ("/" if "/" in f else "") for f in files})
    holds = f"its top level holds {_examples(top, 8)}" if top else "it holds no files besides junk"
    zips = [f for f in files if f.lower().endswith(".zip")]
    inner = (f" Zips inside the {kind} are not opened ({_examples(zips)}): upload the inner zip itself."
             if zips else "")
    return IntakeError(f"No homework files found in the {kind}: expected {wanted}; {holds}.{inner}")


# ---------------------------------------------------------------------------------------------- extraction

def _write_tree(entries: list[_Entry], root: tuple[str, ...], dest: Path, limits: Limits) -> list[str]:
    """Write the entries under `root` into the new folder `dest`; return the kept files' paths (relative
    to `dest`). Bytes are counted as they are written, against the per-file and total caps."""
    _make_dirs(dest.parent, (dest.name,))
    written, kept = 0, []
    for entry in entries:
        if entry.parts[:len(root)] != root or len(entry.parts) == len(root):
            continue
        rel = entry.parts[len(root):]
        if entry.is_dir:
            _make_dirs(dest, rel)
            continue
        folder = _make_dirs(dest, rel[:-1])
        room = limits.max_total_bytes - written
        written += _extract_file(entry, _child(folder, rel[-1]), min(limits.max_file_bytes, room), limits)
        kept.append("/".join(rel))
    return kept


def _child(folder: Path, name: str) -> Path:
    """folder/name for one plain name: the last guard before writing, whatever the names' origin."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise IntakeError(f"Refusing to write an entry named {name!r}.")
    return folder / name


def _make_dirs(base: Path, parts: tuple[str, ...]) -> Path:
    """Create base/parts... one folder at a time with mode 0755 (whatever the umask); an existing
    non-folder in the way (a file and a folder of the same name) is a verdict."""
    path = base
    for name in parts:
        path = _child(path, name)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise IntakeError(f"The submission holds {name!r} both as a file and as a folder.") from None
            continue
        os.chmod(path, 0o755)
    return path


def _extract_file(entry: _Entry, target: Path, limit: int, limits: Limits) -> int:
    """Write one member to the new file `target` (mode 0644, 0755 for .sh); return the bytes written."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise IntakeError(f"The submission holds {entry.path!r} both as a file and as a folder.") from None
    with os.fdopen(fd, "wb") as out:
        try:
            try:
                src = entry.open()
            except READ_ERRORS as e:
                raise _Unreadable(e) from None
            with src:
                count = copy_capped(src, out, limit)
        except _Unreadable as e:
            raise IntakeError(f"{entry.path!r} cannot be read: the submission is damaged "
                              f"({e.__cause__ or e.args[0]}).") from None
        except _Overflow:
            cap, what = ((limits.max_file_bytes, "limit for one file") if limit == limits.max_file_bytes
                         else (limits.max_total_bytes, "limit for the whole submission"))
            raise IntakeError(f"{entry.path!r} unpacks to more data than the {_mb(cap)} {what}; "
                              "refusing what looks like a zip bomb.") from None
    os.chmod(target, 0o755 if target.suffix == ".sh" else 0o644)
    return count


def copy_capped(src: BinaryIO, out: BinaryIO, limit: int) -> int:
    """Copy `src` into `out` and return the number of bytes; raise _Overflow as soon as more than `limit`
    bytes come out (never asking for more than one byte past it), and _Unreadable if reading fails."""
    count = 0
    while True:
        try:
            chunk = src.read(min(CHUNK, limit - count + 1))
        except READ_ERRORS as e:
            raise _Unreadable(e) from e
        if not chunk:
            return count
        count += len(chunk)
        if count > limit:
            raise _Overflow
        out.write(chunk)


def _note_kept_data(kept: list[str], notes: list[str]) -> None:
    """Note the files kept only as data: checkpoints (never loaded here) and nested zips (never opened)."""
    checkpoints = [p for p in kept if any(fnmatch.fnmatchcase(p.lower(), g) for g in DATA_ONLY)]
    if checkpoints:
        notes.append(f"Saved PyTorch models kept as data (the grader never loads them itself): "
                     f"{_examples(checkpoints)}.")
    zips = [p for p in kept if p.lower().endswith(".zip")]
    if zips:
        notes.append(f"Zips inside the submission are kept as plain files, not opened: {_examples(zips)}.")


# ------------------------------------------------------------------------------------------------- helpers

def _examples(items: list[str], shown: int = 3) -> str:
    """'a, b, c and 4 more'."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB"

