"""`hw1grade grade SUB` for TAs and `hw1grade check [DIR]` for students: one submission, start to end.

    intake (scratch copy) -> checks (pytest + graders/engine/plugin.py, code in the sandbox)
      -> notebooks (sandbox) -> results.json + report.html + terminal table

Whatever goes wrong, a results.json is written: a submission that cannot be read gets every check
failed with the reason. A failure of the grader itself (the preflight, a sandbox that cannot start the
interpreter here, a check's own bug) is a grader error (graders/engine/outcome.py): no check is the
student's, results.json says so and presents no score, and `hw1grade grade` exits with 3.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from graders import paths
from graders.classroom.leaderboard import leaderboard_entries
from graders.data import cifar10
from graders.engine import companions as companion_files
from graders.engine import intake
from graders.engine.budget import Budget
from graders.engine.graded import Graded
from graders.engine.options import GradeOptions
from graders.engine.outcome import NOT_GRADED, CheckStatus, GraderError, PreflightFailed, Status, UserError
from graders.engine.plugin import SessionContext, run_checks
from graders.engine.report import terminal_table, write_report
from graders.engine.results import build_results, grader_error_results, score_checks, write_results
from graders.engine.rubric import load_rubric
from graders.notebooks.grading import DEFAULT_BUDGET as NOTEBOOKS_BUDGET
from graders.notebooks.grading import run_submission_notebooks, snapshot_notebooks

SUPPORTED_PARTS = (1, 2)


def _guess_part(path: Path) -> int:
    """The part a submission that could not be opened was meant to be, from its name."""
    return intake.part_from_name(path.name) or 1


def _sandbox_factories(root: Path, context: SessionContext, uid: int | None = None):
    from graders.engine.bridge import Worker
    from graders.engine.sandbox import TORCH_LIMITS, Sandbox, warn_once

    def make_sandbox(**options):
        if context.part == 2:   # torch: larger address space, training time
            options.setdefault('limits', TORCH_LIMITS)
        if uid is not None:     # parallel graders on one host: RLIMIT_NPROC counts per uid
            options.setdefault('uid', uid)
        sandbox = Sandbox(root, **options)
        context.isolation = context.isolation or sandbox.isolation
        if sandbox.warning:
            warn_once(sandbox)
            context.notes.append(sandbox.warning)
        return sandbox

    def make_worker(sandbox):
        return Worker(root, sandbox, sys_path=('.',), timeout=context.call_timeout, budget=context.budget)
    return make_sandbox, make_worker


def grade(path: Path, options: GradeOptions | None = None, *, part: int | None = None,
          out_dir: Path | None = None, sandbox_uid: int | None = None, companions: Sequence[Path] | None = None,
          **overrides) -> Graded:
    """Grade one submission (zip or folder); write results.json and report.html into `out_dir`.

    options: how to grade (graders/engine/options.py: visible_only, notebooks, select, preflight, rubric,
    call_timeout, build_cache, find_cifar10, keep_scratch), the same for every submission of a run;
    `overrides` replace some of its fields (`grade(path, notebooks=False)`); an unknown name is a TypeError.
    The rest belongs to this submission:
    sandbox_uid: the uid submission code runs as (default the sandbox's); graders running side by side
    on one host each need their own (graders/classroom/batch.py).
    companions: files or folders of the student's upload beside the zip (Part 2's 2_pytorch.pdf is
    uploaded on its own); None: the folder beside `path`, files named for this submission only;
    (): none (graders/engine/companions.py).

    The returned Graded's `status` says whose outcome it is (graders/engine/outcome.py): `Status.GRADER_ERROR`
    when the grader failed here (its score is not the submission's: regrade), `Status.INVALID` when
    the submission could not be opened, else `Status.GRADED`. Grading stops at the part's budget
    (rubric [budget], graders/engine/budget.py); the items it left ungraded say so."""
    started = time.monotonic()
    options = replace(options or GradeOptions(), **overrides)
    rubric = options.rubric or load_rubric()
    path = Path(path)
    scratch = Path(tempfile.mkdtemp(prefix='hw1grade-'))
    context = SessionContext(rubric=rubric, part=part or _guess_part(path), visible_only=options.visible_only,
                             call_timeout=options.call_timeout, build_cache=options.build_cache,
                             find_cifar10=options.find_cifar10)
    context.budget = Budget.from_rubric(rubric.settings, context.part, started)
    verdict, notebook_runs, snapshot = '', [], None
    def check_machine():   # cached per process and part: a few seconds once
        from graders.engine.doctor import preflight as machine_preflight
        found = machine_preflight(context.part, sandbox_uid=sandbox_uid)
        context.isolation = found.isolation
        if not found.ok:
            raise PreflightFailed(found.problems)

    try:
        if options.preflight:
            check_machine()
        try:
            submission = intake.open_submission(path, part=part, scratch=scratch)
            context.part, context.submission = submission.part, submission.root
            context.notes.extend(submission.notes)
            if submission.part == 2:
                context.notes.extend(companion_files.gather(path, submission.root, companions))
            context.seed, context.digest = int(submission.digest[:8], 16), submission.digest
            context.make_sandbox, context.make_worker = _sandbox_factories(submission.root, context, sandbox_uid)
            if options.notebooks and submission.part == 1:
                # Before any of its code runs: the notebooks run and claimed are the ones submitted.
                snapshot = snapshot_notebooks(submission.root)
        except intake.IntakeError as err:
            verdict = context.intake_error = str(err)
        if context.part not in SUPPORTED_PARTS:
            raise NotImplementedError(f'Part {context.part} is not graded by this version of hw1grade')
        if context.budget.part != context.part:   # the part found inside differs from the name's guess
            context.budget = Budget.from_rubric(rubric.settings, context.part, started)
            if options.preflight:
                check_machine()
        select = ['-k', options.select] if options.select else []
        checks = run_checks(paths.checks_dir(context.part), context, select)
        if snapshot is not None and not context.grader_error:
            if context.budget.exhausted:
                context.notes.append('notebooks not run: the grading budget was exhausted')
            else:
                seconds = min(NOTEBOOKS_BUDGET, context.budget.left())
                if seconds < NOTEBOOKS_BUDGET:
                    context.notes.append(f'notebooks given {seconds:.0f} s, what was left of the grading budget '
                                         f'({NOTEBOOKS_BUDGET:g} s otherwise)')
                notebook_runs = run_submission_notebooks(context.submission, context.make_sandbox, snapshot=snapshot,
                                                         budget_s=seconds)
                # The course-environment shims the kernels used, and the demo images supplied: once each.
                context.notes.extend(dict.fromkeys(note for run in notebook_runs for note in run.get('notes', ())
                                                   if note not in context.notes))
    except GraderError as err:   # this machine cannot grade: nothing here is the submission's
        context.grader_error = str(err)
        checks = []
    except Exception as err:  # the grader itself failed: still a verdict, and a results.json
        context.grader_error = f'the grader failed: {type(err).__name__}: {err}'
        context.notes.append(''.join(traceback.format_exception_only(err)).strip())
        checks = []
    finally:
        if not options.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if context.grader_error:   # what did not pass (or never ran) is not graded, not failed
        for check in checks:
            if check.status is not CheckStatus.PASSED:
                check.status, check.message = CheckStatus.GRADER_ERROR, check.message or NOT_GRADED
    scored = score_checks(rubric, checks)
    if context.grader_error:
        status, verdict = Status.GRADER_ERROR, f'grader error (not a grade): {context.grader_error}'
    else:
        status = Status.INVALID if context.intake_error else Status.GRADED
        _note_budget(context, scored)
    graded = Graded(str(path), context.part, rubric, scored, time.monotonic() - started, verdict, context.notes,
                    notebook_runs, status=status, isolation=context.isolation)
    if out_dir is not None:
        write_outputs(graded, Path(out_dir))
    return graded


def _note_budget(context: SessionContext, scored) -> None:
    """The report's note of the items the grading budget left ungraded."""
    skipped = [s for s in scored if s.check.status is CheckStatus.BUDGET]
    if skipped:
        context.notes.append(f'grading budget exhausted ({context.budget.seconds:g} s for Part {context.part}): '
                             f'{len(skipped)} item(s) not graded: '
                             + ', '.join(f'{s.number} {s.check.title}' for s in skipped))


def results_document(graded: Graded) -> dict:
    """The results.json document of one graded submission (of a grader error: one that says so and
    presents no score as earned)."""
    output = terminal_table(graded)
    extra = {'part': graded.part, 'status': str(graded.status), 'isolation': graded.isolation,
             'notes': graded.notes}
    if graded.status is Status.GRADER_ERROR:
        return grader_error_results(graded.rubric, graded.part, graded.verdict, seconds=graded.seconds,
                                    output=output, extra_data=extra)
    document = build_results(graded.rubric, graded.scored, seconds=graded.seconds, output=output,
                             leaderboard=leaderboard_entries(graded.scored), extra_data=extra)
    return document


def write_outputs(graded: Graded, out_dir: Path) -> None:
    write_results(results_document(graded), out_dir / 'results.json')
    write_report(graded, out_dir / 'report.html')


def grade_command(args: argparse.Namespace) -> int:
    out_dir = Path(args.out) if args.out else Path('out') / 'grade' / Path(args.submission).stem
    graded = grade(Path(args.submission), GradeOptions(notebooks=not args.no_notebooks,
                                                       visible_only=args.visible_only), part=args.part,
                   out_dir=out_dir)
    print(terminal_table(graded, show_passed=args.verbose))
    print(f'results: {out_dir / "results.json"}\nreport:  {out_dir / "report.html"}')
    if graded.status is Status.GRADER_ERROR:   # exit 0 with a low score always means the submission earned it
        raise GraderError(f'grader error, the submission was not graded: {graded.verdict} (exit code '
                          f'{GraderError.exit_code}; see `hw1grade doctor`, then grade it again)')
    return 0


def student_cifar10(folder: Path) -> Path:
    """CIFAR-10 for `hw1grade check`: the student's own cs231n/datasets/cifar-10-batches-py, else the
    hw1grade cache or $HW1_CIFAR10_ARCHIVE. Never a download: the checks would wait for 163 MB."""
    own = Path(folder) / 'cs231n' / 'datasets' / cifar10.FOLDER
    if own.is_dir():
        return own.resolve()
    if os.environ.get(cifar10.ARCHIVE_ENV) or cifar10.read_stamp(cifar10.resolve_cache_dir()):
        return cifar10.ensure_cifar10()
    raise cifar10.DataError(f'no CIFAR-10 data: no {own.relative_to(folder)} folder, and no hw1grade cache; '
                            'get the data with cs231n/datasets/get_datasets.sh (run it in your 1_cs231n '
                            'folder), then run hw1grade check again')


def check_command(args: argparse.Namespace) -> int:
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        raise UserError(f'{args.folder} is not a folder: run hw1grade check in your 1_cs231n folder, or give '
                        'its path')
    graded = grade(folder, GradeOptions(visible_only=True, notebooks=False, preflight=False,
                                        find_cifar10=functools.partial(student_cifar10, folder)))
    print(terminal_table(graded, show_passed=True))
    failed = [s for s in graded.scored if not s.check.passed]
    if failed:
        print(f'To fix: the {len(failed)} check(s) marked FAIL above, each with what went wrong.')
    print('Visible checks only: the TAs also train your code on CIFAR-10 and run your notebooks.')
    return 0 if graded.scored and not failed else 1


def add_grade_commands(subparsers: argparse._SubParsersAction) -> None:
    """`hw1grade grade SUB` and `hw1grade check [DIR]`."""
    grade_parser = subparsers.add_parser(
        'grade', help='grade one submission (zip or folder): results.json, report.html, a summary',
        description='Grade one submission. Its code runs only in the sandbox; the verdicts are made here.')
    grade_parser.add_argument('submission', help='1_cs231n.zip, or a folder')
    grade_parser.add_argument('--part', type=int, choices=(1, 2), help='the part (default: detected)')
    grade_parser.add_argument('--out', metavar='DIR', help='where results.json and report.html go '
                                                           '(default out/grade/<name>)')
    grade_parser.add_argument('--verbose', action='store_true', help='list passed checks too')
    grade_parser.add_argument('--visible-only', action='store_true',
                              help="only the checks students see before grades are published (what the "
                                   "starter's check.py runs)")
    grade_parser.add_argument('--no-notebooks', action='store_true',
                              help='do not execute the submitted notebooks (they earn no points; the report '
                                   'shows them)')
    grade_parser.set_defaults(handler=grade_command)
    check = subparsers.add_parser(
        'check', help="students: run the visible checks on your working folder",
        description='Run the visible checks on your working folder (1_cs231n/) and say what to fix.')
    check.add_argument('folder', nargs='?', default='.', help='your 1_cs231n folder (default: here)')
    check.set_defaults(handler=check_command)
