"""Gradescope: `hw1grade export gradescope` builds autograder.zip; its `run_autograder` runs
`python -m graders.classroom.gradescope run` for each submission.

autograder.zip (unpacked by Gradescope to /autograder/source; shared/specs/gradescope-results.md):
    setup.sh          once per image, as root: system packages, Python 3.11, /autograder/venv with this
                      grader installed (editable), the reference's Cython extension, CIFAR-10 and the
                      challenge labels in /autograder/cache, then `hw1grade doctor` (gradescope_bundle/)
    run_autograder    per submission: /autograder/submission -> /autograder/results/results.json
    bundle.json       the export's choices: which part(s) the assignment grades, its time limit
    hw1grade/         pyproject.toml, README.md, graders/, reference/ (sources only)
    data/             optional: cifar-10-python.tar.gz (--cifar10), challenge_labels.json (--labels),
                      course_secret (--secret-file: graders/data/heldout.py), readable by root only

Threat model. The submission folder is the student's: zips, loose files, a PDF beside a zip, anything.
Nothing in it is executed or unpacked here: each upload goes to `graders.engine.grade.grade`, whose intake
and sandbox handle hostile content. What this module guards against is the *server*: Gradescope kills
a run that passes its time limit (then shows "The autograder failed to execute correctly"), and the
container may kill the grader for memory. So the grade runs in a child process under a deadline set
below the assignment's limit; this parent process stays small, and whatever happens to the child
(killed, crashed, out of time, no results) it writes a results.json that says the autograder failed
on the server and staff will regrade: never a zero that looks like the student's.

Layouts (bundle.json "part", `hw1grade export gradescope --part`):
    auto   default; each uploaded zip is graded as the part it holds (one assignment per part, both
           using this same autograder.zip, or one assignment taking either zip or both)
    1, 2   the assignment is that part: the upload that holds it is graded (a zip named after the
           other part, or an upload of the other part, is a verdict that says what to upload)
    both   one assignment for both parts: both are graded, a part not uploaded gets its items failed
           with "not uploaded" (29 points in all)
Loose files (a student drags files instead of a zip) are graded as the folder they form.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from graders import paths
from graders.engine.intake import PART_FOLDERS, part_from_listing, part_from_name
from graders.engine.outcome import UserError
from graders.files import deterministic_zip

if TYPE_CHECKING:
    from graders.engine.graded import Graded

REPO = paths.REPO
TEMPLATES = Path(__file__).resolve().parent / 'gradescope_bundle'
BUNDLED = ('pyproject.toml', 'README.md', 'graders', 'reference')
SKIPPED_DIRS = {'__pycache__', 'datasets', 'build', '.ipynb_checkpoints', '.pytest_cache'}
SKIPPED_SUFFIXES = ('.so', '.pyd', '.c', '.o', '.pyc')
LAYOUTS = ('auto', '1', '2', 'both')
# Gradescope's default autograder timeout is 10 minutes, at most 40 (shared/specs/gradescope-results.md).
GRADESCOPE_MAX_MINUTES = 40
DEFAULT_MINUTES = 20
# results.json is written this long before Gradescope's kill: the parent's own start, killing the
# child's process tree, and writing the file, on half a vCPU.
MARGIN_SECONDS = 60
LOOSE_FILES = ('You uploaded loose files, not a zip, and they could not be graded as they are (see below; '
               'dragging files in loses their folders). Upload {part}.zip, the zip that collect_submission.sh '
               'makes, as one file.')


@dataclass(frozen=True)
class BundleConfig:
    """bundle.json: what the export was told about the Gradescope assignment."""
    part: str = 'auto'                       # one of LAYOUTS
    time_limit_minutes: int = DEFAULT_MINUTES  # the assignment's autograder timeout, set the same on Gradescope

    @property
    def deadline_seconds(self) -> float:
        return self.time_limit_minutes * 60 - MARGIN_SECONDS

    @classmethod
    def load(cls, path: Path | None) -> BundleConfig:
        if path is None or not Path(path).is_file():
            return cls()
        raw = json.loads(Path(path).read_text())
        return cls(part=str(raw.get('part', 'auto')), time_limit_minutes=int(raw.get('time_limit_minutes',
                                                                                   DEFAULT_MINUTES)))


# ------------------------------------------------------------------------------------------------ export

def _bundled_files(repo: Path):
    """(path, name in the zip) for the grader's sources, sorted."""
    for top in BUNDLED:
        path = repo / top
        candidates = [path] if path.is_file() else sorted(path.rglob('*'))
        for item in candidates:
            rel = item.relative_to(repo)
            if (item.is_file() and not item.is_symlink() and not SKIPPED_DIRS & set(rel.parts)
                    and not item.name.endswith(SKIPPED_SUFFIXES)):
                yield item, f'hw1grade/{rel.as_posix()}'


def part_budget_seconds(rubric, part: int) -> float | None:
    """The rubric's wall-clock budget for grading one submission of `part` (graders/engine/budget.py), if any."""
    from graders.engine.budget import Budget
    return Budget.from_rubric(rubric.settings, part).seconds


class ExportError(UserError, ValueError):
    """The bundle cannot be made as asked (a time limit outside Gradescope's range or under the rubric's
    grading budget, an unknown layout): `hw1grade export` exits 2 with this message."""


def check_time_limit(config: BundleConfig, rubric) -> None:
    """Refuse an export whose time limit cannot hold the grade it asks for: staff learn it now, not from
    students' "Killed"."""
    if not 1 <= config.time_limit_minutes <= GRADESCOPE_MAX_MINUTES:
        raise ExportError(f'--time-limit must be 1-{GRADESCOPE_MAX_MINUTES} minutes (Gradescope\'s range), '
                          f'not {config.time_limit_minutes}')
    parts = {'auto': (1, 2), '1': (1,), '2': (2,), 'both': (1, 2)}[config.part]
    budgets = [part_budget_seconds(rubric, p) for p in parts]
    # auto grades one part per upload usually, but both when both are uploaded: plan for the sum.
    needed = sum(b for b in budgets if b)
    if needed and needed > config.deadline_seconds:
        raise ExportError(f'the rubric\'s grading budget for part(s) {"+".join(map(str, parts))} is '
                          f'{needed:.0f} s, over the {config.deadline_seconds:.0f} s that a '
                          f'{config.time_limit_minutes}-minute Gradescope limit leaves (minus {MARGIN_SECONDS} s '
                          'to write results.json): raise --time-limit (and the assignment\'s timeout on '
                          'Gradescope), or export one part per assignment')


def build_autograder(out: Path, *, cifar10: Path | None = None, labels: Path | None = None,
                     secret_file: Path | None = None, config: BundleConfig = BundleConfig(),
                     repo: Path = REPO) -> Path:
    """Write OUT/autograder.zip; returns its path."""
    from graders.engine.rubric import load_rubric
    if config.part not in LAYOUTS:
        raise ExportError(f'part must be one of {", ".join(LAYOUTS)}, not {config.part!r}')
    check_time_limit(config, load_rubric(repo / paths.RUBRIC_FILE.relative_to(paths.REPO)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / 'autograder.zip'
    with deterministic_zip(target) as archive:
        for script in ('setup.sh', 'run_autograder'):
            archive.add(script, (TEMPLATES / script).read_bytes(), executable=True)
        archive.add('bundle.json', (json.dumps(asdict(config), indent=2) + '\n').encode())
        for path, name in _bundled_files(repo):
            archive.add(name, path.read_bytes(), executable=path.suffix == '.sh')
        if cifar10:   # compressed already
            archive.add_file('data/cifar-10-python.tar.gz', cifar10, compress=False)
        if labels:
            archive.add_file('data/challenge_labels.json', labels)
        if secret_file:
            archive.add('data/course_secret', Path(secret_file).read_bytes())
    return target


# ------------------------------------------------------------------------------------------------ uploads

@dataclass(frozen=True)
class Upload:
    """One thing to grade: `path` (a zip, or the submission folder for loose files) as `part` (None:
    told by intake from the content). path None: the part was not uploaded."""
    part: int | None
    path: Path | None


def plan_uploads(submission: Path, layout: str) -> list[Upload]:
    """What to grade in Gradescope's submission folder, for the assignment's layout."""
    submission = Path(submission)
    zips = sorted(p for p in submission.iterdir() if p.suffix.lower() == '.zip' and not p.name.startswith('.')
                  and p.is_file()) if submission.is_dir() else []
    uploads = zips or [submission]   # no zip: the loose files, as the folder they form
    if layout == 'auto':
        return [Upload(None, u) for u in uploads]
    plan = []
    for part in ((1, 2) if layout == 'both' else (int(layout),)):
        named = [u for u in uploads if part_from_name(u.name) == part]
        unnamed = [u for u in uploads if part_from_name(u.name) is None]
        # One part of two: never an upload named for the other. The only part: whatever was uploaded
        # (the other part's zip then gets the verdict that says which zip this assignment wants).
        chosen = (named or unnamed or (uploads if layout != 'both' else []))[:1]
        plan.append(Upload(part, chosen[0] if chosen else None))
    return plan


def _guess_part(upload: Upload) -> int:
    """The part an upload is most likely meant to be, for a document made without grading it."""
    if upload.part:
        return upload.part
    if upload.path and upload.path.is_dir():
        listing = [p.relative_to(upload.path).as_posix() + ('/' if p.is_dir() else '')
                   for p in (*upload.path.iterdir(), *upload.path.glob('*/*'))]
        return part_from_listing(listing) or 1
    return (upload.path and part_from_name(upload.path.name)) or 1


# ---------------------------------------------------------------------------------------- documents

def failure_document(rubric, parts: list[int], reason: str, seconds: float = 0.0) -> dict:
    """results.json when the grading process itself failed (killed, out of time, no results): every item
    of the parts hidden and not graded, and the message that staff will regrade (graders/engine/results.py)."""
    from graders.engine.outcome import Status
    from graders.engine.results import grader_error_results
    return merge_documents([(Upload(part, None), grader_error_results(
        rubric, part, reason, seconds=seconds, output='',
        extra_data={'part': part, 'status': str(Status.GRADER_ERROR), 'grader_error': reason}))
        for part in parts])


def for_gradescope(document: dict) -> dict:
    """What Gradescope adds to the grader's document: stdout stays with staff, and the leaderboard shows
    only the public split's accuracy (the full set's is the final standing, kept for staff in
    extra_data). graders/engine/results.py's write_results bounds the whole file under 1 MB."""
    document = {**document, 'stdout_visibility': 'hidden'}
    from graders.classroom.leaderboard import PUBLIC
    entries = document.pop('leaderboard', [])
    public = [e for e in entries if e['name'] == PUBLIC]
    if public:
        document['leaderboard'] = public
    if entries != public:
        document['extra_data'] = {**document.get('extra_data', {}), 'leaderboard_private': entries}
    return document


def merge_documents(documents: list[tuple[Upload, dict]]) -> dict:
    """One results.json for the parts graded in one submission (test numbers 8.1-8.4 and 8.5-8.8 do not
    clash)."""
    if len(documents) == 1:
        return documents[0][1]
    outputs, extra = [], []
    merged = {'score': 0.0, 'execution_time': 0.0, 'visibility': 'visible', 'stdout_visibility': 'hidden',
              'tests': []}
    for upload, doc in documents:
        merged['score'] = round(merged['score'] + doc.get('score', 0.0), 2)
        merged['execution_time'] = round(merged['execution_time'] + doc.get('execution_time', 0.0), 1)
        merged['tests'] += doc.get('tests', [])
        if doc.get('leaderboard'):
            merged['leaderboard'] = merged.get('leaderboard', []) + doc['leaderboard']
        name = upload.path.name if upload.path else f'Part {upload.part}: not uploaded'
        outputs.append(f'== {name} ==\n{doc.get("output", "")}')
        extra.append(doc.get('extra_data', {}))
    merged['output'] = '\n\n'.join(outputs)
    merged['extra_data'] = {'parts': extra}
    return merged


# --------------------------------------------------------------------------------- grading (the child)

def _missing_part(rubric, part: int, layout: str) -> 'Graded':
    """Every item of `part` failed with what to upload: the assignment wants it and it is not there."""
    from graders.engine.graded import Graded
    from graders.engine.outcome import Status
    from graders.engine.plugin import SessionContext, run_checks
    from graders.engine.results import score_checks
    other = PART_FOLDERS[3 - part]
    why = (f'No {PART_FOLDERS[part]}.zip was uploaded' + (f' (this assignment grades both parts: upload '
           f'{PART_FOLDERS[part]}.zip next to {other}.zip)' if layout == 'both' else
           f' (this assignment is Part {part}: upload {PART_FOLDERS[part]}.zip)'))
    context = SessionContext(rubric=rubric, part=part, intake_error=why)
    checks = run_checks(paths.checks_dir(part), context)
    return Graded(f'{PART_FOLDERS[part]}.zip', part, rubric, score_checks(rubric, checks), 0.0, why, [why],
                  status=Status.INVALID)


def grade_uploads(submission: Path, layout: str, *, labels: str | None = None, notebooks: bool = True,
                  visible_only: bool = False, select: str | None = None) -> dict:
    """Grade what the submission folder holds, for the layout; the results.json document."""
    from graders.engine.grade import grade, results_document
    from graders.engine.options import GradeOptions
    from graders.engine.outcome import Status
    from graders.engine.rubric import load_rubric
    rubric = load_rubric()
    if labels:
        rubric.settings['challenge']['labels'] = labels
    options = GradeOptions(rubric=rubric, select=select, notebooks=notebooks, visible_only=visible_only)
    documents = []
    for upload in plan_uploads(submission, layout):
        started = time.monotonic()
        if upload.path is None:
            graded = _missing_part(rubric, upload.part, layout)
        else:
            # The whole submission folder is this student's: a 2_pytorch.pdf uploaded next to the zip
            # (whatever either is named) is Part 2's PDF (graders/engine/companions.py).
            graded = grade(upload.path, options, part=upload.part, companions=[Path(submission)])
        document = results_document(graded)   # a grader error's says so and presents no score
        if graded.status is Status.INVALID and upload.path is not None and upload.path.is_dir():
            document['output'] = LOOSE_FILES.format(part=PART_FOLDERS[graded.part]) + '\n\n' + document['output']
        print(f'part {graded.part} ({upload.path.name if upload.path else "not uploaded"}): {graded.status}, '
              f'{graded.score:g} / {rubric.total(graded.part):g} in {time.monotonic() - started:.0f} s'
              + (f': {graded.verdict}' if graded.verdict else ''), flush=True)
        documents.append((upload, document))
    return merge_documents(documents)


def grade_command(args: argparse.Namespace) -> int:
    """The child: grade, write the document to args.document (a private file the parent reads)."""
    document = grade_uploads(args.submission, args.layout, labels=args.labels, notebooks=not args.no_notebooks,
                             visible_only=args.visible_only, select=args.select)
    Path(args.document).write_text(json.dumps(document, allow_nan=False))
    return 0


# ------------------------------------------------------------------------------ run_autograder (the parent)

def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the child's session (it was started in its own): the grader and what it spawned; the
    sandboxes die with their parent (bubblewrap --die-with-parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _read_document(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = (isinstance(document, dict) and isinstance(document.get('tests'), list)
          and isinstance(document.get('score'), (int, float)))
    return document if ok else None


def run_command(args: argparse.Namespace) -> int:
    """run_autograder: grade in a child under the deadline; results.json is written whatever happens."""
    from graders.engine.results import write_results
    from graders.engine.rubric import load_rubric
    started = time.monotonic()
    config = BundleConfig.load(args.bundle)
    deadline = args.deadline if args.deadline is not None else config.deadline_seconds
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    fd, private = tempfile.mkstemp(prefix='.grading-', suffix='.json', dir=results)
    os.close(fd)
    argv = [sys.executable, '-m', 'graders.classroom.gradescope', 'grade', str(args.submission), private,
            '--layout', config.part, *(['--labels', args.labels] if args.labels else []),
            *(['--no-notebooks'] if args.no_notebooks else []), *(['--visible-only'] if args.visible_only else []),
            *(['--select', args.select] if args.select else [])]
    print(f'grading {args.submission} ({config.part} layout, {deadline:.0f} s before results are due; '
          f'grader in {REPO})', flush=True)
    proc = subprocess.Popen(argv, cwd=REPO, start_new_session=True)
    reason = None
    try:
        code = proc.wait(timeout=max(1.0, deadline - (time.monotonic() - started)))
        if code != 0:
            reason = (f'the grading process was killed by signal {-code}' if code < 0
                      else f'the grading process exited with status {code}')
            if code in (-signal.SIGKILL, 137):
                reason += ' (most likely out of memory: raise the container memory)'
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        reason = (f'grading took longer than the {deadline:.0f} s this assignment allows '
                  f'({config.time_limit_minutes}-minute limit)')
    document = None if reason else _read_document(Path(private))
    if document is None:
        reason = reason or 'the grading process wrote no results'
        parts = sorted({_guess_part(u) for u in plan_uploads(Path(args.submission), config.part)})
        document = failure_document(load_rubric(), parts, reason, time.monotonic() - started)
        print(f'GRADER FAILED: {reason}', flush=True)
    Path(private).unlink(missing_ok=True)
    write_results(for_gradescope(document), results / 'results.json')
    print(f'results.json: {document["score"]:g} points, {len(document["tests"])} tests, '
          f'{time.monotonic() - started:.0f} s', flush=True)
    return 0


# ------------------------------------------------------------------------------- setup.sh's data step

def prepare_command(args: argparse.Namespace) -> int:
    """setup.sh: CIFAR-10 in the cache (HW1_CACHE_DIR), the notebooks' label-free copy built, the
    challenge labels loaded and checked. Each Gradescope submission starts from the image: what is not
    made here is made again for every submission, or fails without network."""
    from graders.data import challenge, cifar10
    from graders.data.withheld import withheld_cifar10
    from graders.engine.rubric import load_rubric
    folder = cifar10.ensure_cifar10(archive=args.cifar10, log=print)
    withheld_cifar10(folder)
    # The same set grading builds (course secret from the environment, the rubric's [heldout] settings).
    labels_path = (Path(args.labels) if args.labels
                   else challenge.default_labels(folder, settings=load_rubric().settings))
    labels = challenge.load_labels(labels_path)
    print(f'CIFAR-10 in {folder}; challenge labels {labels_path}: {labels.n_images} images, '
          f'{len(labels.public_ids)} public')
    return 0


# --------------------------------------------------------------------------------------- command lines

def export_command(args: argparse.Namespace) -> int:
    config = BundleConfig(part=args.part, time_limit_minutes=args.time_limit)
    target = build_autograder(Path(args.out), cifar10=args.cifar10 and Path(args.cifar10),
                              labels=args.labels and Path(args.labels),
                              secret_file=args.secret_file and Path(args.secret_file), config=config)
    print(target)
    print(f'On Gradescope: autograder timeout {config.time_limit_minutes} minutes; layout "{config.part}" '
          '(README, section Gradescope).')
    return 0


def add_export_commands(subparsers: argparse._SubParsersAction) -> None:
    """`hw1grade export gradescope`."""
    export = subparsers.add_parser('export', help='package the grader for an LMS')
    commands = export.add_subparsers(metavar='TARGET', required=True)
    gradescope = commands.add_parser(
        'gradescope', help='autograder.zip for a Gradescope programming assignment',
        description='Write OUT/autograder.zip: setup.sh, run_autograder and the grader with its rubric and '
                    'reference (README, section Gradescope).')
    gradescope.add_argument('--out', default='out/gradescope', metavar='OUT', help='default out/gradescope')
    gradescope.add_argument('--cifar10', metavar='PATH', help='bundle this cifar-10-python.tar.gz '
                                                              '(default: setup.sh downloads it)')
    gradescope.add_argument('--labels', metavar='PATH', help='bundle the challenge labels (challenge_labels.json)')
    gradescope.add_argument('--secret-file', metavar='PATH',
                            help='bundle the course secret (graders/data/heldout.py); the labels must be built with it')
    gradescope.add_argument('--part', choices=LAYOUTS, default='auto',
                            help='what the assignment grades: auto (default: each upload as the part it '
                                 'holds), 1, 2, or both (one assignment, both zips)')
    gradescope.add_argument('--time-limit', type=int, default=DEFAULT_MINUTES, metavar='MINUTES',
                            help=f'the assignment\'s autograder timeout on Gradescope (default {DEFAULT_MINUTES}); '
                                 f'results.json is written {MARGIN_SECONDS} s before it')
    gradescope.set_defaults(handler=export_command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m graders.classroom.gradescope')
    commands = parser.add_subparsers(dest='command', required=True)
    grading = argparse.ArgumentParser(add_help=False)
    grading.add_argument('--labels', help='the held challenge labels (default: the rubric\'s)')
    grading.add_argument('--no-notebooks', action='store_true')
    grading.add_argument('--visible-only', action='store_true')
    grading.add_argument('--select', help='a pytest -k expression (tests)')
    run = commands.add_parser('run', parents=[grading], help='run_autograder: grade, write results.json')
    run.add_argument('submission', type=Path)
    run.add_argument('results', type=Path)
    run.add_argument('--bundle', type=Path, help='bundle.json (default: the auto layout, 20 minutes)')
    run.add_argument('--deadline', type=float, help='seconds (default: from bundle.json)')
    run.set_defaults(handler=run_command)
    child = commands.add_parser('grade', parents=[grading], help='(internal) the grading child')
    child.add_argument('submission', type=Path)
    child.add_argument('document', type=Path)
    child.add_argument('--layout', choices=LAYOUTS, default='auto')
    child.set_defaults(handler=grade_command)
    prepare = commands.add_parser('prepare', help='setup.sh: CIFAR-10 and the challenge labels')
    prepare.add_argument('--cifar10', help='a cifar-10-python.tar.gz (default: $HW1_CIFAR10_ARCHIVE, the '
                                           'cache, the official download)')
    prepare.add_argument('--labels', help='challenge_labels.json (default: the set built from the test batch)')
    prepare.set_defaults(handler=prepare_command)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['run']:   # run_autograder's test hook: options in one variable, split like a shell's
        argv += shlex.split(os.environ.get('HW1GRADE_GRADE_ARGS', ''))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == '__main__':
    sys.exit(main())
