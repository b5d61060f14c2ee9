"""Find every submission in a class's folder: which student, which part, which file.

Layouts (detected in this order; see the README, *Grading a whole class*):

- Gradescope export: `submission_metadata.yml` beside `submission_<id>/` folders; each folder holds what
  the student uploaded (the part zips, or their unpacked folders). Names come from the metadata.
- Canvas bulk download: flat files `<name>[_late]_<userid>_<subid>_<filename>`, e.g.
  `smithalice_12345_678901_1_cs231n.zip` (Canvas may append `-1` to the filename on resubmission).
- a zip per student and part: `alice_1_cs231n.zip`, `alice-2_pytorch.zip`;
- a folder per student: `alice/1_cs231n.zip`, `alice/2_pytorch/`, or `alice/` holding one part's
  files directly.

The part comes from the name (`1_cs231n`/`cs231n` is Part 1, `2_pytorch`/`pytorch` Part 2), else from
the names inside a zip (its central directory only: nothing is extracted here), else from the folder's
contents; what stays unknown is left to intake. Nothing here opens a file's contents beyond that.
"""

from __future__ import annotations

import re
import secrets
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from graders.engine import intake
from graders.engine.intake import PART_NAME_PATTERNS, part_from_listing, part_from_name

PART_LABELS = {1: 'part1', 2: 'part2'}
_CANVAS = re.compile(r'^(?P<name>[^_]+)(?:_late)?_(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$', re.I)
_GRADESCOPE_METADATA = 'submission_metadata.yml'


@dataclass(frozen=True)
class Job:
    """One submission to grade: a student's zip or folder for one part.

    student: the folder name under the batch's output (letters, digits, `._-`).
    part: 1 or 2 when known from the names, else None (intake decides; the label is then 'part1').
    display, canvas_id, sis_id, email: what an LMS export says about the student (may be empty).
    companions: the student's other uploads, where a file the assignment has uploaded beside the zip
    (2_pytorch.pdf) is looked for: grade(companions=...), graders/engine/companions.py."""
    student: str
    part: int | None
    path: Path
    display: str = ''
    canvas_id: str = ''
    sis_id: str = ''
    email: str = ''
    companions: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        return PART_LABELS[self.part or 1]

    @property
    def key(self) -> str:
        return f'{self.student}/{self.label}'


def safe_name(text: str) -> str:
    """A file-name-safe student name: runs of other characters become `_`."""
    return re.sub(r'[^A-Za-z0-9._-]+', '_', text).strip('._-') or 'unnamed'


def guess_part(path: Path) -> int | None:
    """The part of a zip or folder, from its name, else from what it holds; None when unknown."""
    part = part_from_name(path.name)
    if part is not None:
        return part
    if path.is_dir():
        return part_from_listing([p.relative_to(path).as_posix() + ('/' if p.is_dir() else '')
                                   for p in path.iterdir()])
    try:
        with zipfile.ZipFile(path) as archive:   # the central directory only
            return part_from_listing(archive.namelist()[:20000])
    except Exception:   # a broken zip: intake says what is wrong with it
        return None


def _is_candidate(path: Path) -> bool:
    return not path.name.startswith(('.', '__MACOSX')) and (path.is_dir() or path.suffix.lower() == '.zip')


def _student_folder(student: str, folder: Path, **who) -> list[Job]:
    """The parts in one student's folder: named zips/folders, or the folder itself as one part."""
    own = part_from_listing([c.name + '/' for c in folder.iterdir() if c.is_dir()] +
                             [c.name for c in folder.iterdir() if c.is_file()])
    if own is not None:   # the part's files directly in the student's folder
        return [Job(student, own, folder, **who)]
    children = [c for c in sorted(folder.iterdir()) if _is_candidate(c)]
    parts = [(guess_part(c), c) for c in children]
    jobs = [Job(student, part, c, companions=(folder,), **who) for part, c in parts if part is not None]
    if not jobs and len(children) == 1:   # one unnamed zip: intake finds its part
        jobs = [Job(student, None, children[0], companions=(folder,), **who)]
    return jobs


def _flat_file(path: Path) -> Job:
    """`alice_1_cs231n.zip`, or a Canvas `<name>_<userid>_<subid>_<filename>`."""
    canvas = _CANVAS.match(path.name)
    if canvas:
        part = part_from_name(canvas['file']) or guess_part(path)
        return Job(safe_name(canvas['name']), part, path, display=canvas['name'], canvas_id=canvas['id'])
    stem = path.name[:-4] if path.suffix.lower() == '.zip' else path.name
    part = part_from_name(stem)
    student = stem
    for _, pattern in PART_NAME_PATTERNS:
        student = pattern.sub('', student)
    return Job(safe_name(student) if student.strip('._- ') else safe_name(stem), part or guess_part(path), path)


def _flat_owner(path: Path) -> tuple[str, str]:
    """Who a flat file belongs to: (Canvas user id, '') or ('', the name without its part)."""
    canvas = _CANVAS.match(path.name)
    if canvas:
        return canvas['id'], ''
    student = path.stem
    for _, pattern in PART_NAME_PATTERNS:
        student = pattern.sub('', student)
    return '', safe_name(student) if student.strip('._- ') else safe_name(path.stem)


def _submitter(entry) -> dict:
    """Name, sid and email of a submission's first submitter in Gradescope's metadata (keys may carry
    Ruby's leading colon: `:submitters`, `:name`)."""
    def get(mapping, key):
        return mapping.get(key, mapping.get(':' + key)) if isinstance(mapping, dict) else None
    people = get(entry, 'submitters') or [{}]
    first = people[0] if isinstance(people, list) and people and isinstance(people[0], dict) else {}
    return {k: str(get(first, k) or '') for k in ('name', 'sid', 'email')}


def _gradescope(folder: Path) -> list[Job]:
    try:
        metadata = yaml.safe_load((folder / _GRADESCOPE_METADATA).read_text(errors='replace')) or {}
    except yaml.YAMLError:
        metadata = {}
    jobs = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith('submission_')):
        who = _submitter(metadata.get(sub.name, {}) if isinstance(metadata, dict) else {})
        student = safe_name(who['email'].split('@')[0] or who['name'] or sub.name)
        jobs += _student_folder(student, sub, display=who['name'], sis_id=who['sid'], email=who['email'])
    return jobs


def discover(folder: Path) -> tuple[list[Job], list[str]]:
    """Every submission in `folder`, one Job per student and part, and a warning per one left out
    (a second submission for the same student and part: the first in name order is kept)."""
    folder = Path(folder)
    if (folder / _GRADESCOPE_METADATA).is_file():
        found = _gradescope(folder)
    else:
        found, pdfs = [], {}
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and entry.suffix.lower() == '.pdf':   # uploaded beside a zip (Canvas, flat)
                pdfs.setdefault(_flat_owner(entry), []).append(entry)
        for entry in sorted(folder.iterdir()):
            if not _is_candidate(entry):
                continue
            if entry.is_dir():
                found += _student_folder(safe_name(entry.name), entry)
            else:
                job = _flat_file(entry)
                found.append(replace(job, companions=tuple(pdfs.get(_flat_owner(entry), ()))))
    jobs, warnings, seen = [], [], {}
    for job in found:
        if job.key in seen:
            warnings.append(f'{job.path}: a second {job.label} submission for {job.student} '
                            f'(kept {seen[job.key]})')
            continue
        seen[job.key] = job.path
        jobs.append(job)
    return jobs, warnings


def content_digest(path: Path) -> str:
    """The submission's digest as grading computes it (`intake.submission_digest`), which batch records
    to skip what it graded already. A folder intake refuses (a special file, too many entries) gets a
    digest that matches nothing: refusing it again costs nothing, and a fixed one is graded."""
    try:
        return intake.submission_digest(path)
    except intake.IntakeError:
        return 'refused-' + secrets.token_hex(28)
