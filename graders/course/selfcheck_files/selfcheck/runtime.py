"""The self-check's side of the grading checks: what the TA's grader provides, provided on the student's
machine with nothing but the starter's requirements.txt.

The checks themselves (`selfcheck/part1/test_q8_*.py`) are the TA's own check modules, copied by
`hw1grade starter build` (graders/course/selfcheck.py) with their hidden checks removed and their
imports pointed here. A check calls two things:

- the *student*: the TA's grader calls the submission through the sandbox (graders/engine/bridge.py
  `Worker`); here `LocalWorker` imports the student's folder in this process (it is the student's own
  code on the student's own machine) with the same call, copy and error semantics: arguments are
  copied (a function that changes its input cannot change the check's), numpy scalars come back as
  0-d arrays and `np.matrix` as plain arrays, an exception becomes `SubmissionRaised` with the same
  message the TA's report shows.
- the *expected*: `part1(module)` is the reference module in the TA's grader (fresh random inputs per
  submission); here it is `Replay`, the reference's results on this starter's public fixed inputs,
  stored in `expected.npz` when the starter was built, looked up by a digest of the call's arguments.
  No reference code is here, only its outputs on these inputs. `Record` (build time only, run on the
  reference folder) is how `expected.npz` is made: the same checks, run on the reference, record the
  outermost reference call of each kind.

Threat model: there is none to defend against (the student runs their own code); what matters is that
the verdict is the TA's verdict, and that nothing here gives the solution away.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

PARTIAL_CREDIT = 'partial_credit'
PICTURE = 'picture'
PUBLIC_SEED = 7643          # the self-check's fixed inputs: the same on every student's machine
EXPECTED_FILE = 'expected.npz'
RUBRIC_FILE = 'rubric.json'
HERE = Path(__file__).resolve().parent


# ---- what the checks import from the TA's engine ---------------------------------------------------

def fail(message: str) -> None:
    """Fail the current check with `message` for the student (no traceback)."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


class SandboxError(Exception):
    """An error of the student's code (the TA's grader: of the sandboxed call); its text is the message."""


class SubmissionRaised(SandboxError):
    def __init__(self, what: str, exc_type: str, message: str, trace: str = ''):
        self.exc_type, self.message, self.traceback = exc_type, message, trace
        text = '%s raised %s: %s' % (what, exc_type, message)
        if trace:
            text += '\nTraceback (most recent call last, grader frames omitted):\n' + trace.rstrip()
        super().__init__(text)


class CallTimeout(SandboxError):
    pass


class WorkerDied(SandboxError):
    pass


class NoStoredCase(Exception):
    """The self-check has no expected output for these inputs: its own failure, never the student's."""


class CannotCheckHere(Exception):
    """Something the check needs is not on this machine (pdftoppm for 2_pytorch.pdf): the self-check's
    own limit, shown as such and never as a failure of the student's work."""


# The sandbox side's modules the checks call by name (`part2_probe:forward`): copied into selfcheck/.
# They import each other by their plain names, as in the TA's sandbox, where their folder is on the path.
INSIDE = ('part2_probe', 'image_decode', 'course_env')
# What a check calls that needs a program requirements.txt cannot install: (program, what it checks).
PROGRAMS = {'part2_probe:pdf_pages': ('pdftoppm', '2_pytorch.pdf')}


# ---- the student: the folder's code, in this process ----------------------------------------------

def _copy_in(value):
    """What the call receives: arrays copied (as the sandbox's wire does), containers rebuilt."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    if type(value) in (list, tuple):
        return type(value)(_copy_in(v) for v in value)
    if type(value) is dict:
        return {k: _copy_in(v) for k, v in value.items()}
    return value


def _plain_out(value):
    """What the check receives: plain arrays (np.matrix converted), numpy scalars as 0-d arrays, as the
    TA's bridge decodes them; any other object stays as it is (the TA's grader: a Handle)."""
    if isinstance(value, np.ndarray):
        return np.array(value) if type(value) is not np.ndarray else value
    if isinstance(value, np.generic):
        return np.asarray(value)
    if type(value) in (list, tuple):
        return type(value)(_plain_out(v) for v in value)
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: _plain_out(v) for k, v in value.items()}
    return value


def _student_frames(tb, root: Path) -> str:
    """The traceback's frames in the student's folder (the self-check's own frames omitted)."""
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename).resolve().is_relative_to(root)]
    return ''.join(traceback.format_list(frames[-6:]))


class LocalWorker:
    """bridge.Worker's interface over the student's folder imported in this process."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.notes: list[str] = []

    def _raised(self, what: str, err: BaseException) -> SubmissionRaised:
        return SubmissionRaised(what, type(err).__name__, str(err), _student_frames(err.__traceback__, self.root))

    def _run(self, what: str, fn, args, kwargs):
        try:
            return _plain_out(fn(*_copy_in(args), **_copy_in(kwargs)))
        except SystemExit as err:
            raise WorkerDied('%s ended the Python process (exit code %s)' % (what, err.code)) from None
        except Exception as err:   # KeyboardInterrupt stops the self-check
            raise self._raised(what, err) from None

    def _resolve(self, target: str):
        module, _, attr = target.partition(':')
        what = '`%s`' % target.replace(':', '.')
        if target in PROGRAMS and shutil.which(PROGRAMS[target][0]) is None:
            program, checked = PROGRAMS[target]
            raise CannotCheckHere(f'the self-check cannot check {checked} on this machine: it needs {program} '
                                  '(poppler: `apt install poppler-utils`, `brew install poppler`, `conda install '
                                  'poppler`), which is not installed; the TAs\' grader checks it')
        if module in INSIDE:
            for name in INSIDE:
                sys.modules.setdefault(name, importlib.import_module(f'selfcheck.{name}'))
            module = f'selfcheck.{module}'
        try:
            obj = importlib.import_module(module)
            for name in attr.split('.'):
                obj = getattr(obj, name)
        except Exception as err:
            raise self._raised(what, err) from None
        return what, obj

    def call(self, target: str, *args, timeout=None, keep=(), **kwargs):
        what, fn = self._resolve(target)
        return self._run(what, fn, args, kwargs)

    call_checked = call

    def call_method(self, obj, name: str, *args, timeout=None, **kwargs):
        what = '`%s.%s`' % (type(obj).__name__, name)
        try:
            method = getattr(obj, name)
        except Exception as err:
            raise SubmissionRaised(what, type(err).__name__, str(err)) from None
        return self._run(what, method, args, kwargs)

    def function(self, target: str):
        return self._resolve(target)[1]

    def get_attr(self, obj, name: str, *, timeout=None):
        return self._run('reading `%s.%s`' % (type(obj).__name__, name), lambda: getattr(obj, name), (), {})

    def set_attr(self, obj, name: str, value, *, timeout=None):
        setattr(obj, name, _copy_in(value))

    def close(self):
        pass


# ---- the expected: the reference's outputs on the public inputs --------------------------------------

def _canonical(value, out: list) -> None:
    """A byte encoding of a call's arguments that is the same on every machine for the same inputs."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        out.append(b'A%s%r' % (array.dtype.str.encode(), array.shape))
        out.append(array.tobytes())
    elif isinstance(value, np.generic):
        _canonical(np.asarray(value), out)
    elif isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        out.append(b'V' + repr(value).encode())
    elif isinstance(value, float):
        out.append(b'F' + float(value).hex().encode())
    elif isinstance(value, (list, tuple)):
        out.append(b'L%d[' % len(value))
        for v in value:
            _canonical(v, out)
        out.append(b']')
    elif isinstance(value, dict):
        out.append(b'D%d{' % len(value))
        for k in sorted(value, key=repr):
            _canonical(k, out)
            _canonical(value[k], out)
        out.append(b'}')
    else:   # a function or an object handed to the reference: its name only
        out.append(b'O' + getattr(value, 'replay_name', type(value).__name__).encode())


def digest(name: str, args, kwargs) -> str:
    parts: list[bytes] = [name.encode()]
    _canonical(list(args), parts)
    _canonical(dict(kwargs), parts)
    return hashlib.sha256(b'\0'.join(parts)).hexdigest()[:32]


def _store(value, arrays: dict):
    """A result as JSON with its arrays beside it (no pickle: the file is data only)."""
    if isinstance(value, (np.ndarray, np.generic)):
        key = 'a%d' % len(arrays)
        arrays[key] = np.asarray(value)
        return {'__array__': key}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return {'__float__': value.hex()}
    if isinstance(value, tuple):
        return {'__tuple__': [_store(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_store(v, arrays) for v in value]
    if isinstance(value, dict):
        return {'__dict__': [[_store(k, arrays), _store(v, arrays)] for k, v in value.items()]}
    raise TypeError('the reference returned a %s, which the self-check cannot store' % type(value).__name__)


def _load(value, arrays):
    if isinstance(value, list):
        return [_load(v, arrays) for v in value]
    if isinstance(value, dict):
        if '__array__' in value:
            return np.array(arrays[value['__array__']])
        if '__float__' in value:
            return float.fromhex(value['__float__'])
        if '__tuple__' in value:
            return tuple(_load(v, arrays) for v in value['__tuple__'])
        return {_load(k, arrays): _load(v, arrays) for k, v in value['__dict__']}
    return value


class Record:
    """Build time: the reference's modules, each outermost call's result recorded by its digest."""

    def __init__(self):
        self.cases: dict[str, object] = {}
        self.kinds: dict[str, object] = {}      # 'module:attr' -> 'function' or [method names]
        self.depth = 0

    def _recorded(self, name: str, fn):
        record = self

        def call(*args, **kwargs):
            if record.depth:                     # inside a recorded call: not an outermost one
                return fn(*args, **kwargs)
            key = digest(name if not args or not hasattr(args[0], 'replay_class')
                         else name.replace(':' + args[0].replay_class + '.', ':' + type(args[0]).__name__ + '.'),
                         args[1:] if args and hasattr(args[0], 'replay_class') else args, kwargs)
            record.depth += 1
            try:
                result = fn(*args, **kwargs)
            finally:
                record.depth -= 1
            record.cases[key] = result
            return result
        call.replay_name = name
        return call

    def wrap_class(self, module: str, cls: type) -> tuple[type, list[str]]:
        """A subclass of `cls` whose public methods are recorded as `module:<class name>.<method>`."""
        methods = sorted(m for m in dir(cls) if not m.startswith('_') and callable(getattr(cls, m)))
        body = {m: self._recorded(f'{module}:{cls.__name__}.{m}', getattr(cls, m)) for m in methods}
        body['replay_class'] = cls.__name__
        return type(cls.__name__, (cls,), body), methods

    def trainer_forms(self, update: str) -> dict:
        """The TA's reference trainers (graders/part1/reference.py, build time only), recorded. The check
        goes on with the forms the student's results matched so far; so that any student's path finds its
        cases, a call of one form records every form's result for the same inputs."""
        from graders.part1 import reference as trusted
        wrapped, kinds = {}, {}
        for form, cls in trusted.trainer_forms(update).items():
            wrapped[form], methods = self.wrap_class(cls.__module__, cls)
            kinds[form] = [cls.__module__, cls.__name__, methods]
        self.kinds[f'trainer_forms:{update}'] = kinds

        def every_form(own, method):
            def call(this, *args, **kwargs):
                for other in wrapped.values():
                    if other is not own:
                        getattr(other(), method)(*_copy_in(args), **_copy_in(kwargs))
                return getattr(own, method)(this, *args, **kwargs)
            return call
        return {form: type(cls.__name__, (cls,), {m: every_form(cls, m) for m in kinds[form][2]})
                for form, cls in wrapped.items()}

    def module(self, module: str):
        loaded = importlib.import_module(module)
        record = self

        class Module:
            def __getattr__(self, attr):
                value = getattr(loaded, attr)
                name = f'{module}:{attr}'
                if isinstance(value, type):
                    wrapped, record.kinds[name] = record.wrap_class(module, value)
                    return wrapped
                if callable(value):
                    record.kinds[name] = 'function'
                    return record._recorded(name, value)
                return value
        return Module()

    def save(self, path: Path) -> None:
        arrays: dict = {}
        index = {key: _store(value, arrays) for key, value in sorted(self.cases.items())}
        meta = json.dumps({'cases': index, 'kinds': self.kinds, 'numpy': np.__version__}, sort_keys=True).encode()
        arrays['__index__'] = np.frombuffer(meta, dtype=np.uint8)
        # np.savez's format, written with fixed dates: the same inputs give the same bytes (the starter
        # zip is byte-identical from build to build).
        with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.array(arrays[name], order="C"), allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(name + '.npy', date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue(),
                            compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)


class Replay:
    """The self-check: the stored results, looked up by the digest of the check's arguments."""

    def __init__(self, path: Path):
        with np.load(path, allow_pickle=False) as data:
            self.arrays = {k: data[k] for k in data.files if k != '__index__'}
            meta = json.loads(bytes(data['__index__']).decode())
        self.cases, self.kinds, self.numpy = meta['cases'], meta['kinds'], meta.get('numpy', '')

    def lookup(self, name: str, args, kwargs):
        key = digest(name, args, kwargs)
        if key not in self.cases:
            numpy_note = '' if self.numpy == np.__version__ else \
                f'; its inputs were drawn with numpy {self.numpy}, this is numpy {np.__version__}'
            raise NoStoredCase(f'the self-check has no stored expected result of {name.split(":")[-1]} for '
                               'these inputs (were given files changed? `python check.py` compares with '
                               f'the inputs the starter was built with{numpy_note})')
        return _load(self.cases[key], self.arrays)

    def replay_class(self, module: str, class_name: str, methods: list[str]) -> type:
        """A class whose methods return the stored results of `module:<its class name>.<method>`."""
        replay = self

        def method(m):
            def call(this, *args, **kwargs):
                return replay.lookup(f'{module}:{type(this).__name__}.{m}', args, kwargs)
            return call
        body = {m: method(m) for m in methods}
        body['__init__'] = lambda this, *a, **k: None
        return type(class_name, (), body)

    def trainer_forms(self, update: str) -> dict:
        stored = self.kinds.get(f'trainer_forms:{update}', {})
        return {form: self.replay_class(*kind) for form, kind in stored.items()}

    def module(self, module: str):
        replay = self

        class Module:
            def __getattr__(self, attr):
                name = f'{module}:{attr}'
                kind = replay.kinds.get(name)
                if isinstance(kind, list):
                    return replay.replay_class(module, attr, kind)

                def call(*args, **kwargs):
                    return replay.lookup(name, args, kwargs)
                call.replay_name = name
                return call
        return Module()


@dataclass
class Session:
    """What one run of the self-check knows: the part's folder, the mode, the results."""
    part: int
    root: Path
    settings: dict
    questions: dict
    expected: object = None          # Record or Replay
    results: list = field(default_factory=list)
    notes: list = field(default_factory=list)


SESSION: Session | None = None


def part1(module: str):
    """The expected side of a check: the stored reference results (Replay), or at build time the
    reference itself, recorded (Record)."""
    return SESSION.expected.module(module)


def trainer_forms(update: str) -> dict:
    """The trainer in each standard form of `update` (graders/part1/reference.py trainer_forms): here
    classes whose `train` returns the stored results."""
    return SESSION.expected.trainer_forms(update)


# ---- running the checks ------------------------------------------------------------------------------

@dataclass
class CheckResult:
    name: str
    title: str
    question: str
    weight: float
    passed: bool = False
    message: str = ''
    fraction: float = 0.0
    measured: dict = field(default_factory=dict)
    own_error: bool = False          # the self-check's failure, not the student's
    unavailable: bool = False        # not checkable on this machine (CannotCheckHere): shown n/a, not FAIL


class Plugin:
    def __init__(self, session: Session):
        self.session = session
        self.results: dict[str, CheckResult] = {}

    def pytest_configure(self, config):
        config.addinivalue_line('markers', 'points(question, weight=1): the check counts towards question')

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        if isinstance(self.session.expected, Record):
            # The checks that train on CIFAR-10 compare with no reference output: nothing to record.
            items[:] = [item for item in items if 'cifar_task' not in item.fixturenames]
        for item in items:
            marker = item.get_closest_marker('points')
            weight = marker.args[1] if len(marker.args) > 1 else marker.kwargs.get('weight', 1)
            doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
            self.results[item.nodeid] = CheckResult(item.originalname, doc, marker.args[0], float(weight))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        result = self.results.get(item.nodeid)
        if result is None:
            return
        for key, value in report.user_properties:
            if key == PARTIAL_CREDIT:
                result.fraction = min(1.0, max(0.0, float(value)))
            elif key != PICTURE and isinstance(value, (int, float, str)):
                result.measured[key] = value
        if report.when == 'call' and report.passed:
            result.passed = True
        elif report.failed and not result.message:
            exc = call.excinfo.value if call.excinfo else None
            if isinstance(exc, (pytest.fail.Exception, SandboxError)):
                result.message = str(exc)
            elif isinstance(exc, CannotCheckHere):
                result.own_error = result.unavailable = True
                result.message = str(exc)
            elif isinstance(exc, AssertionError):
                result.message = str(exc).split('\nassert ')[0] or 'a check failed'
            else:
                result.own_error = True
                result.message = (f'the self-check could not evaluate this check ({type(exc).__name__}: {exc}); '
                                  'the TAs\' grader will')

    # fixtures the checks ask for
    @pytest.fixture(scope='session')
    def settings(self):
        return self.session.settings

    @pytest.fixture
    def tolerance(self, settings):
        return settings['tolerances']['relative_error']

    @pytest.fixture
    def rng(self, request):
        return np.random.default_rng([PUBLIC_SEED, zlib.crc32(request.node.nodeid.encode())])

    @pytest.fixture(scope='session')
    def context_notes(self):
        return self.session.notes

    @pytest.fixture(scope='session')
    def submission(self):
        return self.session.root

    @pytest.fixture(autouse=True)
    def seeded(self):
        """Given code that draws weights (init_two_layer_convnet) draws the stored case's, whatever ran before."""
        np.random.seed(0)

    @pytest.fixture(scope='module')
    def worker(self, submission):
        return LocalWorker(submission)

    @pytest.fixture(scope='session')
    def extension(self, submission):
        return build_extension(submission, self.session.notes)

    # Part 2 (graders/part2/conftest.py in the TA's grader; its hidden training and challenge fixtures
    # are not here)
    @pytest.fixture(scope='session')
    def files(self, submission):
        from selfcheck.part2.deliverables import submitted_files
        return submitted_files(submission)

    @pytest.fixture(scope='session')
    def model_flags(self, submission, context_notes):
        from selfcheck.part2.models import SPECS, script_flags
        cache = {}

        def get(name):
            if name not in cache:
                cache[name], notes = script_flags(submission, SPECS[name])
                context_notes.extend(n for n in notes if n not in context_notes)
            return cache[name]
        return get

    @pytest.fixture(scope='session')
    def measured(self):
        """The grader's own accuracies by model: filled by the hidden training checks, so empty here."""
        return {}

    @pytest.fixture
    def cifar_task(self, settings, submission):
        def make(name):
            return CifarTask(name, settings['cifar10'][name], submission)
        return make


def build_extension(root: Path, notes: list) -> str:
    """The student's im2col_cython, built in place as the assignment says when it is not importable."""
    try:
        importlib.import_module('cs231n.im2col_cython')
        return 'built'
    except ImportError:
        pass
    folder = root / 'cs231n'
    proc = subprocess.run([sys.executable, 'setup.py', 'build_ext', '--inplace'], cwd=folder,
                          capture_output=True, text=True)
    importlib.invalidate_caches()
    try:
        importlib.import_module('cs231n.im2col_cython')
    except ImportError as err:
        tail = '\n'.join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        fail('the Cython extension (cs231n/im2col_cython.pyx) did not build: '
             f'`cd cs231n && python setup.py build_ext --inplace` says:\n{tail or err}')
    notes.append('built the Cython extension: cd cs231n && python setup.py build_ext --inplace')
    return 'built'


class CifarTask:
    """The grader's CIFAR-10 run of a visible check (the convnet's overfitting run): the first training
    images of the student's own cs231n/datasets/cifar-10-batches-py, seeded as the TA's run is."""

    def __init__(self, name: str, run: dict, root: Path):
        self.name, self.run, self.timeout = name, run, float(run.get('timeout', 600))
        folder = root / 'cs231n' / 'datasets' / 'cifar-10-batches-py'
        if not (folder / 'data_batch_1').is_file():
            fail('no CIFAR-10 data: no cs231n/datasets/cifar-10-batches-py folder; get the data with '
                 'cs231n/datasets/get_datasets.sh (run it in your 1_cs231n folder), then run the self-check again')
        import pickle  # the student's own copy of the public data set, on the student's machine
        with open(folder / 'data_batch_1', 'rb') as f:
            batch = pickle.load(f, encoding='latin1')
        n = int(run['train_images'])
        images = np.asarray(batch['data'][:n]).reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
        self.train_images = images.astype(np.float64)
        self.train_labels = np.asarray(batch['labels'][:n], dtype=np.int64)
        np.random.seed(int(run.get('seed', 0)))

    def images(self):
        centered = self.train_images - self.train_images.mean(axis=0)
        return centered.transpose(0, 3, 1, 2).copy(), self.train_labels, None

    def show_curves(self, *args, **kwargs):
        pass


def run(part: int, root: Path, mode: str = 'replay', select: str | None = None) -> Session:
    """Run the part's checks on the folder `root`; mode 'record' (build time, on the reference) or 'replay'."""
    global SESSION
    meta = json.loads((HERE / RUBRIC_FILE).read_text(encoding='utf-8'))
    checks_dir = HERE / f'part{part}'
    session = Session(part, Path(root).resolve(), meta['settings'],
                      {q: v for q, v in meta['questions'].items() if v['part'] == part})
    if mode == 'record':
        session.expected = Record()
    elif (checks_dir / EXPECTED_FILE).is_file():    # Part 2's checks compare with no stored output
        session.expected = Replay(checks_dir / EXPECTED_FILE)
    SESSION = session
    plugin = Plugin(session)
    # The 2019 course's environment (numpy 1.x aliases, scipy.misc, Windows-style relative paths), as the
    # TA's sandboxed worker installs it (graders/inside/course_env.py, copied): each shim used is a note.
    from selfcheck import course_env
    course_env.install(lambda text, *rest: session.notes.append(text) if text not in session.notes else None)
    sys.path.insert(0, str(session.root))
    cwd = os.getcwd()
    os.chdir(session.root)
    args = [str(checks_dir), '-p', 'no:cacheprovider', '-p', 'no:terminal', '-p', 'no:randomly',
            '--rootdir', str(checks_dir), '-c', str(HERE / 'pytest.ini'), '--import-mode=importlib', '-W', 'ignore']
    if select:
        args += ['-k', select]
    try:
        code = pytest.main(args, plugins=[plugin])
    finally:
        os.chdir(cwd)
        sys.path.remove(str(session.root))
    session.results = list(plugin.results.values())
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR) or not session.results:
        raise RuntimeError(f'the self-check\'s checks in {checks_dir} could not run (pytest exit code {code})')
    if mode == 'record':
        failed = [f'{r.question} {r.name}: {r.message}' for r in session.results if not r.passed]
        if failed:
            raise RuntimeError('the reference fails its own self-check:\n' + '\n'.join(failed))
        session.expected.save(checks_dir / EXPECTED_FILE)
    return session


# ---- the table: the TA's report's terminal table (graders/engine/report.py terminal_table) ---------

def scored(session: Session) -> list[tuple[CheckResult, str, float, float]]:
    """(check, number, earned, max) per check: a question's points shared by the weights of the checks
    that ran (graders/engine/results.py score_checks, as `hw1grade grade --visible-only` does)."""
    out = []
    for qid, question in session.questions.items():
        mine = [r for r in session.results if r.question == qid]
        total = sum(r.weight for r in mine)
        for index, r in enumerate(mine, start=1):
            maximum = round(question['points'] * r.weight / total, 4)
            earned = maximum if r.passed else round(maximum * r.fraction, 4)
            out.append((r, f'{qid.lstrip("Q")}.{index}', earned, maximum))
    return out


def table(session: Session, source: str, seconds: float) -> str:
    rows = scored(session)
    score = round(sum(e for _, _, e, _ in rows), 2)
    total = sum(q['points'] for q in session.questions.values())
    lines = [f'{source}: Part {session.part}, {score:g} / {total:g} points ({seconds:.0f} s)']
    for qid, question in session.questions.items():
        mine = [row for row in rows if row[0].question == qid]
        if not mine:
            continue
        earned = round(sum(e for _, _, e, _ in mine), 2)
        possible = round(sum(m for _, _, _, m in mine), 2)
        lines.append(f'  {qid} {question["title"]:<28} {earned:>5.2f} / {possible:g}')
        for r, number, _, _ in mine:
            measured = ' (' + ', '.join(f'{k.replace("_", " ")} {v}' for k, v in r.measured.items()) + ')' \
                if r.measured else ''
            mark = 'ok  ' if r.passed else 'n/a ' if r.unavailable else 'FAIL'
            lines.append(f'    {mark} {number} {r.title}{measured}')
            if not r.passed:
                lines.extend(f'         {line}' for line in r.message.splitlines()[:6])
    for note in session.notes:
        lines.append(f'  note: {note}')
    return '\n'.join(lines)


def verdicts(session: Session) -> dict:
    """question -> check name -> {'passed', 'fraction', 'message'}: what the tests compare with the TA's."""
    out: dict = {}
    for r, number, earned, maximum in scored(session):
        out.setdefault(r.question, {})[r.name] = {'passed': r.passed, 'score': earned, 'max_score': maximum,
                                                  'message': r.message, 'own_error': r.own_error,
                                                  'unavailable': r.unavailable}
    return out


def timed_run(part, root, mode='replay', select=None):
    started = time.monotonic()
    session = run(part, root, mode, select)
    return session, time.monotonic() - started
