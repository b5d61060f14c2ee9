"""Files a student uploads beside the zip: today `2_pytorch.pdf`, which the assignment asks for as its
own upload next to `2_pytorch.zip` (REAL_SUBMISSIONS.md section 3: zips normally do not hold it).

`grade(..., companions=...)` names where to look: files or folders of the same student's upload (the
batch folder's files of that student, Gradescope's submission folder). By default (None) the folder
beside the zip or folder graded, where only files named for this submission count (`2_pytorch.pdf`,
or `alice_2_pytorch.pdf` beside `alice_2_pytorch.zip`: never another student's). The chosen PDF is
copied into the scratch copy under `COMPANION_DIR` (a dot-folder: not listed as a submitted file), where
the Part 2 PDF check decodes it in the sandbox like a PDF inside the zip.

Threat model: the companion files are the student's, not the grader's. They are read without
following links and only when they are regular files (`untrusted.read_file`), capped in size, and
never opened here beyond copying their bytes; names are reduced to safe characters before use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from graders.engine import untrusted

COMPANION_DIR = '.companions'
PDF_BYTES = 64 << 20           # a PDF of plots; a larger file is not copied (the check says it is missing)
MAX_ENTRIES = 2000             # files looked at in companion folders
MAX_DEPTH = 3


def key(name: str) -> str:
    """'Alice_2_PyTorch' -> 'alice2pytorch'."""
    return re.sub(r'[^a-z0-9]', '', name.lower())


def _rank(stem: str, own: str | None) -> int | None:
    """How well a PDF's name says it is Part 2's: 0 best; None when it is not (or is another's)."""
    k = key(stem)
    if own is not None:   # the folder beside the submission: only this submission's own name
        return 0 if k == own else 1 if k == '2pytorch' else None
    if k == '2pytorch':
        return 0
    if '2pytorch' in k:
        return 1
    if 'pytorch' in k or 'part2' in k:
        return 2
    return None if ('cs231n' in k or 'part1' in k) else 3


def _candidates(folder: Path, own: str | None, depth: int) -> list[tuple[int, int, str, Path]]:
    found = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)[:MAX_ENTRIES]
    except OSError:
        return found
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            if own is None and depth < MAX_DEPTH and not entry.name.startswith(('.', '__MACOSX')):
                found += _candidates(Path(entry.path), own, depth + 1)
        elif entry.is_file(follow_symlinks=False) and entry.name.lower().endswith('.pdf'):
            rank = _rank(entry.name[:-4], own)
            if rank is not None:
                found.append((rank, depth, entry.name, Path(entry.path)))
    return found


def find_pdf(submission: Path, companions: Sequence[Path] | None) -> Path | None:
    """The Part 2 PDF uploaded beside `submission`, or None."""
    submission = Path(submission)
    if companions is None:
        own = key(submission.stem if submission.suffix.lower() == '.zip' else submission.name)
        found = _candidates(submission.resolve().parent, own, 0)
    else:
        found = []
        for place in companions:
            place = Path(place)
            if place.is_symlink():
                continue
            if place.is_dir():
                found += _candidates(place, None, 0)
            elif place.is_file() and place.suffix.lower() == '.pdf':
                rank = _rank(place.stem, None)
                if rank is not None:
                    found.append((rank, 0, place.name, place))
    return min(found)[3] if found else None


def safe_filename(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('._') or 'upload.pdf'


def gather(submission: Path, root: Path, companions: Sequence[Path] | None) -> list[str]:
    """Copy the Part 2 PDF uploaded beside `submission` into `root/COMPANION_DIR`; notes for the report."""
    pdf = find_pdf(submission, companions)
    if pdf is None:
        return []
    try:
        data = untrusted.read_file(pdf.parent, (pdf.name,), PDF_BYTES)
    except untrusted.UnsafeFile as err:
        return [f'{pdf.name} beside the submission was not used: {err}']
    if data is None:
        return []
    with untrusted.opened_dir(root, (COMPANION_DIR,), create=True):
        pass
    untrusted.write_file(root, (COMPANION_DIR, safe_filename(pdf.name)), data)
    return []


def uploaded(root: Path) -> list[str]:
    """Relative paths (under `root`) of the companion files gather() copied."""
    try:
        return sorted(f'{COMPANION_DIR}/{e.name}' for e in untrusted.entries(root, (COMPANION_DIR,))
                      if e.kind == 'file')
    except (OSError, untrusted.UnsafeFile):
        return []
