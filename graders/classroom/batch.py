"""`hw1grade batch DIR`: grade a whole class on Dask, one task per student and part, nothing lost.

    DIR --graders/classroom/submissions.py--> jobs (student, part, path)
        --skip those already done for the same content and grader version-->
        Dask: grade_task(job) on a worker = grade() with the sandbox's own uid, under a wall-clock limit
        --as each finishes, here--> OUT/<student>/<part>/{results.json, report.html, status.json}
        --at the end--> OUT/gradebook.csv, OUT/canvas.csv, OUT/index.html, OUT/leaderboard.html

The cluster: a LocalCluster of one single-threaded process per core by default, or an existing one
(`--scheduler tcp://HOST:PORT`; its workers must see DIR and OUT at the same paths, and should run one
thread each: `dask worker ADDRESS --nthreads 1`).

Every outcome is a status, never a stopped batch: `graded`; `invalid` (the submission could not be
opened: broken, hostile, wrong part); `grader-error` (the grader failed on it: the preflight, a
sandbox that cannot start here, a check's own bug; `Graded.status`, graders/engine/outcome.py); `timeout`
(the task went past its wall-clock limit); `crash` (the task raised, or its worker died
`allowed-failures` times). The last three are not grades: the gradebook flags them and gives them no
total. Outcomes are written here, by the client, the moment they arrive; status.json is written
last and marks the submission done, so a batch killed at any point loses only what was running.
A submission whose task never came back (the client or the whole cluster went away) has no
status.json and is graded by the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from graders import paths
from graders.classroom.overrides import read as read_overrides
from graders.classroom.records import class_fields
from graders.classroom.submissions import Job, content_digest, discover
from graders.engine.graded import Graded
from graders.engine.options import GradeOptions
from graders.engine.outcome import GraderError, Status, UserError
from graders.engine.report import html_report
from graders.engine.results import question_totals, write_results
from graders.engine.rubric import load_rubric
from graders.engine.sandbox import SANDBOX_UIDS, thread_env
from graders.files import write_atomic

FINAL = tuple(str(status) for status in Status)
STATUS_FILE = 'status.json'
GRADERS_DIR = paths.GRADERS
REFERENCE_DIR = paths.REFERENCE
DEFAULT_TIME_LIMIT = 3600.0


def grader_version(options: GradeOptions) -> str:
    """What the grades depend on besides the submission: graders/ sources, rubric and schema, the
    reference's sources, and the grading options that change a grade. 16 hex digits."""
    digest = hashlib.sha256(json.dumps(options.identity(), sort_keys=True, default=str).encode())
    sources = [p for p in GRADERS_DIR.rglob('*') if p.suffix in ('.py', '.toml', '.json', '.ini')]
    sources += [p for p in REFERENCE_DIR.rglob('*') if p.suffix in ('.py', '.pyx', '.sh')
                and not {'datasets', 'build', '__pycache__'} & set(p.parts)]
    for path in sorted(p for p in sources if p.is_file() and '__pycache__' not in p.parts):
        digest.update(str(path.relative_to(GRADERS_DIR.parent)).encode() + b'\0' + path.read_bytes())
    return digest.hexdigest()[:16]


# ---- on the worker ---------------------------------------------------------------------------

def _pin_threads():
    """One BLAS/torch thread per task: the cluster's parallelism is its processes."""
    os.environ.update(thread_env(1))
    if 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(1)


@contextmanager
def uid_slot(lock_dir: Path = Path(tempfile.gettempdir())):
    """A sandbox uid no other grader on this host holds (an flock per uid, released with the process).
    None when not root: the sandbox then runs as the calling user, whatever uid it is given."""
    import fcntl
    if os.geteuid() != 0:
        yield None
        return
    for uid in SANDBOX_UIDS:
        handle = open(lock_dir / f'hw1grade-uid-{uid}.lock', 'w')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield uid
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise GraderError(f'all {len(SANDBOX_UIDS)} sandbox uids of this host are in use')


def outcome(job: Job, graded: Graded, status: Status | str, worker: str = '') -> dict:
    """What a task sends back: results.json, report.html, and the status record (all plain data)."""
    from graders.classroom.leaderboard import leaderboard_entries
    from graders.engine.grade import results_document
    record = {
        'student': job.student, 'label': job.label, 'part': graded.part, 'source': str(job.path),
        'display': job.display, 'canvas_id': job.canvas_id, 'sis_id': job.sis_id, 'email': job.email,
        'status': str(status), 'message': graded.verdict, 'score': graded.score, 'max_score': graded.max_score,
        'questions': question_totals(graded.rubric, graded.scored), 'flags': graded.review,
        'leaderboard': leaderboard_entries(graded.scored), 'seconds': round(graded.seconds, 1),
        'worker': worker, **class_fields(graded),   # per-check verdicts and figures: overrides, dashboard
    }
    return {'record': record, 'results': results_document(graded), 'report': html_report(graded)}


def failure_outcome(job: Job, status: str, message: str, seconds: float = 0.0, worker: str = '') -> dict:
    """A timeout or crash as an outcome: zero points, the reason in results.json and the report."""
    rubric = load_rubric()
    graded = Graded(str(job.path), job.part or 1, rubric, [], seconds, verdict=message, status=Status(status))
    return outcome(job, graded, status, worker)


def grade_task(job: Job, options: GradeOptions, time_limit: float) -> dict:
    """Grade one submission on this worker; always returns an outcome.

    grade() runs in a thread so that a wall-clock limit can be kept: past it the task reports a
    timeout and the thread's late result is dropped (the sandbox's own timeouts end it soon after)."""
    from graders.engine.grade import grade
    _pin_threads()
    worker = _worker_name()
    started = time.monotonic()
    box: dict = {}

    def work():
        try:
            with uid_slot() as uid:
                graded = grade(job.path, options, part=job.part, sandbox_uid=uid, companions=job.companions)
            box['outcome'] = outcome(job, graded, graded.status, worker)
        except BaseException as err:   # noqa: BLE001 -- whatever happened is this submission's status
            box['error'] = f'{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}'

    thread = threading.Thread(target=work, name=f'grade {job.key}', daemon=True)
    thread.start()
    thread.join(time_limit)
    seconds = time.monotonic() - started
    if thread.is_alive():
        return failure_outcome(job, Status.TIMEOUT, f'grading took longer than {time_limit:g} s and was stopped',
                               seconds, worker)
    if 'error' in box:
        return failure_outcome(job, Status.CRASH, f'the grader crashed on this submission: {box["error"]}',
                               seconds, worker)
    return box['outcome']


def _worker_name() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return ''


# ---- on the client: the store ----------------------------------------------------------------

def store(out: Path, result: dict, digest: str, version: str) -> Path:
    """Write one outcome under OUT/<student>/<part>/; status.json last, as the mark of a finished grade."""
    record = {**result['record'], 'sha256': digest, 'grader_version': version}
    folder = Path(out) / record['student'] / record['label']
    write_results(result['results'], folder / 'results.json')
    write_atomic(folder / 'report.html', result['report'])
    write_atomic(folder / STATUS_FILE, json.dumps(record, indent=2) + '\n')
    return folder


def read_status(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_done(out: Path, job: Job, digest: str, version: str) -> bool:
    """Graded before, from the same bytes by the same grader, and its results.json is readable."""
    folder = Path(out) / job.student / job.label
    record = read_status(folder)
    if not record or record.get('sha256') != digest or record.get('grader_version') != version:
        return False
    try:
        json.loads((folder / 'results.json').read_text())
    except (OSError, ValueError):
        return False
    return record.get('status') in FINAL


# ---- on the client: the run ------------------------------------------------------------------

def _connect(scheduler: str | None, workers: int | None):
    """A Dask client: to `scheduler`, or to a new LocalCluster of single-threaded processes."""
    from distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None, host='127.0.0.1',
                           env=thread_env(1))   # set before numpy is imported
    return Client(cluster), cluster


class Progress:
    """One line per finished submission: done, running, failed, ETA."""

    def __init__(self, total: int, log=print):
        self.total, self.log, self.done, self.failed = total, log, 0, 0
        self.started = time.monotonic()

    def update(self, record: dict, running: int):
        self.done += 1
        self.failed += record['status'] != Status.GRADED
        elapsed = time.monotonic() - self.started
        left = (self.total - self.done) * elapsed / self.done
        self.log(f'[{self.done}/{self.total}] running {running}, failed {self.failed}, ETA {left:.0f} s | '
                 f'{record["student"]} {record["label"]}: {record["status"]} '
                 f'{record["score"]:g}/{record["max_score"]:g}')


def run_batch(folder: Path, out: Path, *, scheduler: str | None = None, workers: int | None = None,
              force: bool = False, options: GradeOptions | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
              log=print) -> dict:
    """Grade every submission in `folder` into `out`; returns counts {'graded': n, ..., 'skipped': n,
    'lost': n} (lost: tasks that never came back; the next run grades them)."""
    from distributed import as_completed

    from graders.classroom.gradebook import write_class_outputs
    out = Path(out)
    options = options or GradeOptions()
    if options.build_cache is None:
        options = replace(options, build_cache=out / '.build-cache')
    version = grader_version(options)
    read_overrides(out, load_rubric())   # a malformed OUT/overrides.csv stops the batch before it grades
    jobs, warnings = discover(folder)
    for warning in warnings:
        log(f'warning: {warning}')
    todo, counts = [], {'skipped': 0, 'lost': 0}
    for job in jobs:
        digest = content_digest(job.path)
        if not force and is_done(out, job, digest, version):
            counts['skipped'] += 1
        else:
            todo.append((job, digest))
    log(f'{len(jobs)} submissions in {folder}: {counts["skipped"]} already graded, {len(todo)} to grade')
    if todo:
        client, cluster = _connect(scheduler, workers)
        try:
            futures = {client.submit(grade_task, job, options, time_limit, pure=False,
                                     key=f'grade-{job.student}-{job.label}-{digest[:12]}'): (job, digest)
                       for job, digest in todo}
            progress = Progress(len(todo), log)
            for future in as_completed(futures):
                job, digest = futures[future]
                try:
                    result = future.result()
                except Exception as err:   # noqa: BLE001
                    if type(err).__name__ != 'KilledWorker':
                        counts['lost'] += 1
                        log(f'{job.key}: not graded ({type(err).__name__}: {err}); the next run retries it')
                        continue
                    result = failure_outcome(job, Status.CRASH, f'the worker grading this submission died '
                                                           f'repeatedly ({err})')
                store(out, result, digest, version)
                counts[result['record']['status']] = counts.get(result['record']['status'], 0) + 1
                progress.update(result['record'], sum(len(keys) for keys in client.processing().values()))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    write_class_outputs(out, load_rubric(), log)
    log('summary: ' + ', '.join(f'{k} {counts[k]}' for k in (*FINAL, 'skipped', 'lost') if counts.get(k))
        + f' -> {out / "index.html"}')
    return counts


def batch_command(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(f'{args.folder} is not a folder of submissions')
    out = Path(args.out) if args.out else Path('out') / 'batch' / folder.resolve().name
    options = GradeOptions(notebooks=not args.no_notebooks, visible_only=args.visible_only, select=args.select)
    counts = run_batch(folder, out, scheduler=args.scheduler, workers=args.workers, force=args.force,
                       options=options, time_limit=args.time_limit)
    return 1 if counts['lost'] else 0


def add_batch_commands(subparsers: argparse._SubParsersAction) -> None:
    """`hw1grade batch DIR`."""
    parser = subparsers.add_parser(
        'batch', help='grade every submission in a folder on Dask: a gradebook and an index',
        description='Grade every submission in DIR (zips or folders per student, Canvas or Gradescope '
                    'exports) on a Dask cluster. Each result is written as soon as it is done; a re-run '
                    'skips what was graded from the same content by the same grader.')
    parser.add_argument('folder', metavar='DIR', help='the folder of submissions')
    parser.add_argument('--out', metavar='OUT', help='where results go (default out/batch/<DIR name>)')
    parser.add_argument('--scheduler', metavar='tcp://HOST:PORT',
                        help='an existing Dask scheduler (default: a local cluster)')
    parser.add_argument('--workers', type=int, metavar='N', help='local cluster size (default: one per core)')
    parser.add_argument('--force', action='store_true', help='regrade submissions already graded')
    parser.add_argument('--no-notebooks', action='store_true', help='do not execute the submitted notebooks')
    parser.add_argument('--visible-only', action='store_true', help='only the checks students can see')
    parser.add_argument('--select', metavar='EXPR', help='only the checks matching this pytest -k expression')
    parser.add_argument('--time-limit', type=float, default=DEFAULT_TIME_LIMIT, metavar='SECONDS',
                        help=f'wall-clock limit of one submission (default {DEFAULT_TIME_LIMIT:g})')
    parser.set_defaults(handler=batch_command)
