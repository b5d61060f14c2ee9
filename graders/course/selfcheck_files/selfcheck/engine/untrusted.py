"""The self-check's stand-in for graders/engine/untrusted.py: the Part 2 checks list and read the
student's files through it.

The TA's module opens every name relative to its folder's descriptor with O_NOFOLLOW (a submission
could plant links into the grading machine); here the files are the student's own, on the student's
own machine, so plain paths do, on Windows too (which has neither O_NOFOLLOW nor dir_fd). What the
checks see is the same: links are listed as links and never followed or read, hidden folders and
__pycache__ are not entered, texts are read up to their cap with bad bytes replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FILE, DIR, LINK, OTHER = 'file', 'folder', 'symbolic link', 'special file'


class UnsafeFile(ValueError):
    """A name the checks will not use as asked (a link, a special file, a name leaving the folder)."""


def split(rel) -> tuple[str, ...]:
    parts = tuple(rel.split('/')) if isinstance(rel, str) else tuple(rel)
    for name in parts:
        if name in ('', '.', '..') or '/' in name or '\\' in name or '\0' in name:
            raise UnsafeFile(f'refusing the name {name!r} in {"/".join(parts)!r}')
    return parts


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    size: int


def _kind(entry: os.DirEntry) -> str:
    if entry.is_symlink() or (hasattr(entry, 'is_junction') and entry.is_junction()):
        return LINK
    if entry.is_dir(follow_symlinks=False):
        return DIR
    return FILE if entry.is_file(follow_symlinks=False) else OTHER


def entries(root, rel=()) -> list[Entry]:
    """The names in the folder root/rel, sorted, each with what it is; [] when there is no such folder."""
    folder = Path(root, *split(rel))
    if folder.is_symlink():
        raise UnsafeFile(f'{"/".join(split(rel))} is a link')
    try:
        with os.scandir(folder) as it:
            found = [Entry(e.name, _kind(e), e.stat(follow_symlinks=False).st_size) for e in it]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda e: e.name)


def walk(root, rel=(), *, max_entries: int = 20_000, skip=(), skip_hidden: bool = False):
    """(path relative to root/rel, Entry), folders before what they hold, breadth first, as the TA's."""
    skip, count = set(skip), 0
    pending = [()]
    base = split(rel)
    while pending:
        here = pending.pop(0)
        try:
            listed = entries(root, base + here)
        except UnsafeFile:
            continue
        for entry in listed:
            count += 1
            if count > max_entries:
                return
            yield here + (entry.name,), entry
            if entry.kind == DIR and entry.name not in skip and not (skip_hidden and entry.name.startswith('.')):
                pending.append(here + (entry.name,))


def read_text(root, rel, cap: int) -> str:
    """The file root/rel as UTF-8 text, at most `cap` bytes ('' when missing, a link or not a file)."""
    try:
        path = Path(root, *split(rel))
    except UnsafeFile:
        return ''
    if path.is_symlink() or not path.is_file():
        return ''
    with open(path, 'rb') as f:
        return f.read(cap).decode('utf-8', 'replace')
