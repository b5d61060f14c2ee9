"""The pytest plugin that turns the graders' tests into a verdict.

`graders/engine/grade.py` runs pytest in the trusted process on `graders/part<N>/` with one `GradingPlugin`.
The plugin
- adds the `points(question, weight=1)` marker that every check must carry,
- hands the checks their fixtures: `submission` (the part's root, a scratch copy), `sandbox`,
  `worker` (a fresh sandboxed worker per question file), `settings` (the rubric's tables),
- deselects hidden checks for the students' self-check,
- and records one `CheckResult` per check, whatever happened: passed, failed (with the message the
  check wrote for the student), or errored in setup (intake failed, sandbox could not start).

A check fails for the student with `fail("expected ..., got ...")`; a `bridge.SandboxError` (the
submission raised, timed out, died or sent a bad value) fails it with the error's own message.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graders.engine.budget import Budget
from graders.engine.outcome import CheckStatus, GraderError
from graders.engine.pictures import Picture
from graders.engine.rubric import Rubric
from graders.engine.untrusted import clean_text

# The record_property key through which a check reports the share of its points it earns although
# it failed (graders.engine.checks.Cases); it is a score, not a figure for the report.
PARTIAL_CREDIT = 'partial_credit'
# The record_property key through which a check shows a picture in the report beside its result (a
# graders.engine.pictures.Picture: pixels the sandbox decoded, encoded here; a chart of a grader's run).
# At most MAX_CHECK_PICTURES per check are kept.
PICTURE, MAX_CHECK_PICTURES = 'picture', 12
# A check's message and recorded texts may carry what submitted code sent (graders/engine/untrusted.py):
# cleaned of terminal escapes and cut to these lengths as they are recorded.
MESSAGE_CHARS, MEASURED_CHARS = 12_000, 500


def fail(message: str) -> None:
    """Fail the current check with `message` for the student (no traceback)."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


@dataclass
class CheckResult:
    name: str                 # the test function's name, unique within its question
    title: str                # first line of its docstring
    question: str             # "Q8.3"
    weight: float
    hidden: bool
    passed: bool = False
    message: str = ''         # why it failed, for the student
    status: CheckStatus = CheckStatus.FAILED   # passed, failed, budget exhausted, or the grader's failure
    seconds: float = 0.0
    measured: dict = field(default_factory=dict)   # figures the check recorded (record_property)
    fraction: float = 0.0     # share of its points a failed check still earns (checks.Cases: by case)
    pictures: list = field(default_factory=list)   # graders.engine.pictures.Picture, for the report only

    @property
    def id(self) -> str:
        """'Q8.3/test_conv_backward_naive': the same from run to run (its number is not), shown in the
        report; what status.json and overrides.csv name the check by (graders/classroom/overrides.py)."""
        return f'{self.question}/{self.name}'


@dataclass
class SessionContext:
    """What the checks need from the grading run; `grade.py` fills it in."""
    rubric: Rubric
    part: int
    submission: Path | None = None           # None when intake failed
    intake_error: str | None = None
    make_sandbox: Any = None                 # callable () -> sandbox.Sandbox
    make_worker: Any = None                  # callable (sandbox) -> bridge.Worker
    visible_only: bool = False
    budget: Budget | None = None             # the part's wall-clock budget (graders/engine/budget.py)
    grader_error: str = ''                   # set when the grader failed here: nothing is the student's
    isolation: str = ''                      # the sandbox's isolation level (Sandbox.isolation)
    seed: int = 0                            # fresh inputs differ between submissions, replay exactly
    digest: str = ''                         # the submission's sha256 (intake): keys its held-out draw
    notes: list[str] = field(default_factory=list)   # for the report (shims, build notes...)
    call_timeout: float = 60.0               # default seconds per call into the sandbox (bridge.Worker)
    build_cache: Path | None = None          # earlier Cython builds to reuse (graders/part1/build.py)
    find_cifar10: Any = None                 # callable () -> cifar-10-batches-py folder, raising
                                             # cifar10.DataError; default cifar10.ensure_cifar10


class GradingPlugin:
    def __init__(self, context: SessionContext):
        self.context = context
        self.results: dict[str, CheckResult] = {}
        self._sandbox = None
        self._budget_stops = 0   # the budget's stop count when the current check started

    # ---- collection -------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line('markers', 'points(question, weight=1): the check counts towards question')

    @pytest.hookimpl(trylast=True)   # after -k/-m deselection: only the checks that will run get a result
    def pytest_collection_modifyitems(self, session, config, items):
        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker('points')
            if marker is None:
                raise pytest.UsageError(f'{item.nodeid}: every grading check needs @pytest.mark.points')
            question = self.context.rubric.questions.get(marker.args[0])
            if question is None:
                raise pytest.UsageError(f'{item.nodeid}: question {marker.args[0]} is not in the rubric')
            name = item.originalname
            hidden = name in question.hidden
            if hidden and self.context.visible_only:
                drop.append(item)
                continue
            weight = marker.args[1] if len(marker.args) > 1 else marker.kwargs.get('weight', 1)
            doc = (item.function.__doc__ or name).strip().splitlines()[0]
            self.results[item.nodeid] = CheckResult(name, doc, question.id, float(weight), hidden)
            keep.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    # ---- outcomes ---------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        result = self.results.get(item.nodeid)
        if result is None:
            return
        result.seconds += call.duration
        for key, value in report.user_properties:
            if key == PARTIAL_CREDIT:
                result.fraction = min(1.0, max(0.0, float(value)))
            elif key == PICTURE:   # each phase's report repeats the properties: kept once
                if (isinstance(value, Picture) and len(result.pictures) < MAX_CHECK_PICTURES
                        and not any(p is value for p in result.pictures)):
                    result.pictures.append(value)
            elif isinstance(value, (int, float, str)):
                result.measured[key] = clean_text(value, MEASURED_CHARS) if isinstance(value, str) else value
        if report.when == 'call' and report.passed:
            result.passed = True
            result.status = CheckStatus.PASSED
        elif report.failed and not result.message:
            result.passed = False
            result.status, result.message = self._verdict(call)
            budget = self.context.budget
            if result.status is CheckStatus.FAILED and budget is not None and budget.stops > self._budget_stops:
                result.status = CheckStatus.BUDGET   # the budget cut it short (its message says where)
            result.message = clean_text(result.message, MESSAGE_CHARS)
            if result.status is CheckStatus.GRADER_ERROR:
                self.context.grader_error = self.context.grader_error or result.message
                if isinstance(call.excinfo.value, GraderError):
                    # This machine cannot run submissions: every further check would fail the same way.
                    item.session.shouldstop = result.message

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """Past the part's grading budget, a check is not started: it fails at once with the budget's
        verdict (and so does every check after it)."""
        budget = self.context.budget
        if budget is None:
            return
        self._budget_stops = budget.stops
        if budget.exhausted and item.nodeid in self.results:
            from graders.engine.bridge import BudgetExhausted
            raise BudgetExhausted(budget.stop())

    @staticmethod
    def _verdict(call) -> tuple[CheckStatus, str]:
        """Whose failure it is, and the message: the submission's (what to fix), the budget's, or the
        grader's (a GraderError, or an exception of the check's own code: a grader bug)."""
        from graders.engine.bridge import BudgetExhausted, SandboxError
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, GraderError):
            return CheckStatus.GRADER_ERROR, str(exc)
        if isinstance(exc, BudgetExhausted):
            return CheckStatus.BUDGET, str(exc)
        if isinstance(exc, pytest.fail.Exception):
            return CheckStatus.FAILED, str(exc)
        if isinstance(exc, SandboxError):
            return CheckStatus.FAILED, str(exc)
        if isinstance(exc, AssertionError):
            return CheckStatus.FAILED, str(exc).split('\nassert ')[0] or 'a check failed'
        # Anything else escaped from the check itself: the grader's bug, not a verdict on the submission.
        return CheckStatus.GRADER_ERROR, f'the grader could not evaluate this check ({type(exc).__name__}: {exc})'

    # ---- fixtures ---------------------------------------------------------------------------
    @pytest.fixture(scope='session')
    def settings(self) -> dict:
        """The rubric's tables other than the questions (tolerances, CIFAR-10 runs...)."""
        return self.context.rubric.settings

    @pytest.fixture
    def rng(self, request) -> np.random.Generator:
        """The check's own random inputs: fresh for each submission, the same on a regrade."""
        return np.random.default_rng([self.context.seed, zlib.crc32(request.node.nodeid.encode())])

    @pytest.fixture(scope='session')
    def context_notes(self) -> list[str]:
        """Notes for the report (append to it): how the submission was built or shimmed."""
        return self.context.notes

    @pytest.fixture(scope='session')
    def cifar10_dir(self) -> Path:
        """The cifar-10-batches-py folder for the grader's own runs; a check using it fails with the
        reason when there is none."""
        from graders.data import cifar10
        try:
            return (self.context.find_cifar10 or cifar10.ensure_cifar10)()
        except cifar10.DataError as err:
            fail(f'CIFAR-10 is not available to the grader: {err}')

    @pytest.fixture(scope='session')
    def submission_digest(self) -> str:
        """What identifies the submitted bytes (graders/data/heldout.py draws its held-out images with it)."""
        return self.context.digest or str(self.context.seed)

    @pytest.fixture(scope='session')
    def budget(self) -> Budget | None:
        """The part's grading budget (graders/engine/budget.py): caps waits the bridge does not make (a build)."""
        return self.context.budget

    @pytest.fixture(scope='session')
    def build_cache(self) -> Path | None:
        """Where earlier Cython builds of identical sources are kept (None: always build)."""
        return self.context.build_cache

    @pytest.fixture(scope='session')
    def submission(self) -> Path:
        """The root of the submitted part, a scratch copy; a check using it fails if intake failed."""
        if self.context.submission is None:
            fail(self.context.intake_error or 'the submission could not be read')
        return self.context.submission

    @pytest.fixture(scope='session')
    def sandbox(self, submission):
        if self._sandbox is None:
            self._sandbox = self.context.make_sandbox()
        return self._sandbox

    @pytest.fixture(scope='module')
    def worker(self, sandbox):
        """A fresh sandboxed worker for each question file: what one question's code does to its
        interpreter (monkeypatching numpy, leaked state) cannot reach another question's checks."""
        worker = self.context.make_worker(sandbox)
        try:
            yield worker
        finally:
            seen = set(self.context.notes)    # linear: a forged reply may carry many notes (capped in the bridge)
            self.context.notes.extend(n for n in worker.notes if n not in seen)
            worker.close()


def run_checks(tests_dir: Path, context: SessionContext, extra_args: list[str] = ()) -> list[CheckResult]:
    """Run the checks in `tests_dir` with `context`; return their results in collection order."""
    plugin = GradingPlugin(context)
    args = [str(tests_dir), '-p', 'no:terminal', '-p', 'no:cacheprovider', '-p', 'no:randomly',
            '--rootdir', str(tests_dir), '-c', str(tests_dir / 'pytest.ini'), *extra_args]
    started = time.monotonic()
    code = pytest.main(args, plugins=[plugin])
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise RuntimeError(f'the graders in {tests_dir} could not run (pytest exit code {code}, '
                           f'{time.monotonic() - started:.0f} s)')
    return list(plugin.results.values())
