"""`hw1grade doctor` and `preflight()`: does everything the grader relies on work *here*?

Why: a grader that cannot start its sandboxed interpreter (a venv linked into a private home folder,
no bubblewrap) used to fail every check with a message that blamed the student, and hand a reference
submission 0/13 with exit status 0. Nothing the grader needs may be assumed; each is tried, here, the
way grading uses it, before a submission is touched:

- `preflight(part)` runs the few checks grading cannot do without (the sandbox starts the grader's
  interpreter as the sandbox uid, with numpy, and torch for Part 2; what Part 2 renders PDFs with),
  once per process (cached), in a few seconds. `grade`, `batch` and Gradescope's `run_autograder`
  call it and refuse to grade (a grader error, never the student's zero) when `Preflight.ok` is False.
- `hw1grade doctor` prints one table of everything: the isolation achieved and each of its parts,
  the interpreter, a real Cython build inside the sandbox, CIFAR-10, chromium and pdftoppm, Dask.
  Each failing line says how to fix it. Exit status 1 when grading here would be wrong, else 0;
  `--json` prints the same table for scripts (Gradescope's setup).

A check is `required` when its failure makes grades wrong (a FAIL line); the others (reduced
isolation, a missing optional tool) are WARN lines: grading is right, with less protection or fewer
conveniences, and the line says what to install.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

EXIT_OK, EXIT_WRONG = 0, 1

APT_FIX = 'apt-get install bubblewrap chromium poppler-utils zip (as root), or run `make system`'


@dataclass(frozen=True)
class Check:
    """One line of the doctor table.

    name: what is checked; ok: whether it works here; detail: what was found (versions, paths, the
    error); fix: what to do when it does not work ('' when ok); required: whether a failure makes
    grading here wrong (else it is a warning)."""
    name: str
    ok: bool
    detail: str
    fix: str = ''
    required: bool = True

    @property
    def status(self) -> str:
        return 'ok' if self.ok else 'FAIL' if self.required else 'WARN'


@dataclass(frozen=True)
class Preflight:
    """What preflight found. ok: False when grading here would be wrong (a required check failed);
    isolation: the sandbox level achieved ('bubblewrap', 'namespaces' or 'rlimits', see
    graders/engine/sandbox.py); problems: one line per failed required check, what fails and how to fix it;
    checks: every line of the table."""
    ok: bool
    isolation: str
    problems: tuple[str, ...]
    checks: tuple[Check, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(_line(c) for c in self.checks if not c.ok and not c.required)


def _line(check: Check) -> str:
    return '%s: %s%s' % (check.name, check.detail, ' (fix: %s)' % check.fix if check.fix else '')


def _summarize(checks: Iterable[Check], isolation: str) -> Preflight:
    checks = tuple(checks)
    problems = tuple(_line(c) for c in checks if c.required and not c.ok)
    return Preflight(ok=not problems, isolation=isolation, problems=problems, checks=checks)


# -- the probes ----------------------------------------------------------------------------------

def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix='hw1grade-doctor-'))


def _make_sandbox(scratch: Path, part: int | None, uid: int | None, **options):
    from graders.engine.sandbox import PART1_LIMITS, TORCH_LIMITS, Sandbox
    options.setdefault('limits', PART1_LIMITS if part == 1 else TORCH_LIMITS)
    if uid is not None:
        options['uid'] = uid
    return Sandbox(scratch, **options)


def isolation_checks(sandbox) -> list[Check]:
    """The isolation the sandbox achieved, one line per part of it. None is required: a reduced level
    still grades right; it protects the host and other submissions less, and its line says how to get
    the full one."""
    info = sandbox.isolation_info
    full = sandbox.isolation == 'bubblewrap'
    fix_ns = ('install bubblewrap (%s); in Docker, namespaces need a seccomp profile that allows them '
              '(or --privileged); see docs/engine.md, "Isolation levels"' % APT_FIX)
    lines = [Check('isolation level', full, info.summary(), '' if full else fix_ns, required=False)]
    for ns in ('user', 'mount', 'pid', 'network', 'ipc'):
        have = ns in info.namespaces
        why = info.why_not.get(ns, 'not used')
        # As root, bubblewrap and the namespaces level need no user namespace: the uid switch is the
        # privilege drop (Isolation.not_needed, set by the sandbox).
        fine = have or ns in info.not_needed
        lines.append(Check('%s namespace' % ns, fine, 'yes' if have else why, '' if fine else fix_ns,
                           required=False))
    lines.append(Check('uid switch', info.uid_switch,
                       'submissions run as uid %d' % sandbox.uid if info.uid_switch else
                       'submissions run as the calling user (uid %d): the grader is not root' % sandbox.uid,
                       '' if info.uid_switch else 'grade as root: submissions then run as an unprivileged uid',
                       required=False))
    lines.append(Check('seccomp filter', info.seccomp, info.seccomp_detail,
                       '' if info.seccomp else 'grade on x86_64 or aarch64 Linux', required=False))
    return lines


PYTHON_PROBE = '''
import json, os, sys
found = {'uid': os.getuid(), 'python': sys.version.split()[0], 'prefix': sys.prefix,
         'inside': os.path.isfile(sys.argv[1] + '/worker.py'), 'errors': {}}
for arg in sys.argv[2:]:
    name = arg.lstrip('?')
    try:
        if arg.startswith('?'):   # found, not imported (torch takes many seconds to import)
            import importlib.util
            spec = importlib.util.find_spec(name)
            if spec:
                found[name] = 'installed'
            else:
                found['errors'][name] = 'ERROR ModuleNotFoundError: no module named %r' % name
        else:
            found[name] = __import__(name).__version__
    except Exception as e:
        found['errors'][name] = 'ERROR %s: %s' % (type(e).__name__, e)
print(json.dumps(found))
'''


def python_check(sandbox, modules: tuple[str, ...], timeout: float = 120) -> Check:
    """The grader's interpreter starts in the sandbox, as the sandbox uid, sees graders/inside and
    imports `modules` ('?name': only finds it)."""
    name = 'sandboxed python' + (' + ' + ', '.join(m.lstrip('?') for m in modules) if modules else '')
    fix = ('make the interpreter readable by uid %d (e.g. a venv made from /usr/bin/python3), or install '
           'bubblewrap (%s) so its folder is bound into the sandbox' % (sandbox.uid, APT_FIX))
    try:
        result = sandbox.run([sandbox.python, '-I', '-c', PYTHON_PROBE, sandbox.inside_dir, *modules],
                             timeout=timeout)
    except OSError as err:
        return Check(name, False, 'cannot start %s: %s' % (sandbox.python, err), fix)
    if not result.ok:
        tail = (result.stderr.strip().splitlines() or [result.killed or 'exit code %d' % result.returncode])[-1]
        return Check(name, False, 'the sandboxed interpreter failed: %s' % tail, fix)
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Check(name, False, 'unexpected output: %r' % result.stdout[-200:], fix)
    modules = tuple(m.lstrip('?') for m in modules)
    errors = found.get('errors') if isinstance(found.get('errors'), dict) else {}
    broken = [m for m in modules if m in errors or m not in found]
    if broken:
        return Check(name, False, '; '.join('%s: %s' % (m, errors.get(m, 'ERROR: not reported')) for m in broken),
                     "install the grader's dependencies in its venv: .venv/bin/pip install -e '.[test]'")
    if not found['inside']:
        return Check(name, False, 'graders/inside is not visible in the sandbox at %s' % sandbox.inside_dir,
                     'make graders/inside readable by uid %d, or install bubblewrap' % sandbox.uid)
    versions = ', '.join('%s %s' % (m, found[m]) for m in modules)
    return Check(name, True, 'Python %s as uid %s%s' % (found['python'], found['uid'],
                                                          ', ' + versions if versions else ''))


def pdftoppm_check(sandbox, required: bool) -> Check:
    """pdftoppm, which Part 2 renders the submitted PDF with, runs in the sandbox."""
    fix = 'apt-get install poppler-utils (or %s)' % APT_FIX
    result = sandbox.run(['pdftoppm', '-v'], timeout=30)
    text = (result.stderr + result.stdout).strip()
    if result.returncode != 0 or 'pdftoppm' not in text:
        return Check('pdftoppm (Part 2 PDFs)', False, 'not found in the sandbox', fix, required)
    return Check('pdftoppm (Part 2 PDFs)', True, text.splitlines()[0])


CYTHON_PYX = '''
def twice(double[:] a):
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        a[i] *= 2
    return a.shape[0]
'''
CYTHON_SETUP = '''
from setuptools import setup, Extension
from Cython.Build import cythonize
import numpy
setup(ext_modules=cythonize([Extension('probe_ext', ['probe_ext.pyx'], include_dirs=[numpy.get_include()])],
                            quiet=True))
'''
CYTHON_USE = 'import numpy, probe_ext; a = numpy.ones(3); assert probe_ext.twice(a) == 3 and a.sum() == 6; print("ok")'


def cython_check(part: int | None, uid: int | None) -> Check:
    """A tiny Cython extension builds inside the sandbox and imports (what Part 1's im2col build does)."""
    fix = 'apt-get install gcc python3-dev (a C compiler and Python headers), and pip install cython'
    scratch = _scratch()
    try:
        (scratch / 'probe_ext.pyx').write_text(CYTHON_PYX)
        (scratch / 'setup.py').write_text(CYTHON_SETUP)
        box = _make_sandbox(scratch, 1, uid)
        start = time.monotonic()
        built = box.run([box.python, 'setup.py', '-q', 'build_ext', '--inplace'], timeout=300)
        if not built.ok:
            tail = (built.stderr.strip().splitlines() or [built.killed or 'exit code %d' % built.returncode])[-1]
            return Check('cython build in the sandbox', False, tail, fix)
        used = box.run([box.python, '-c', CYTHON_USE], timeout=60)
        if not used.ok:
            return Check('cython build in the sandbox', False, 'built but does not import: %s'
                         % (used.stderr.strip().splitlines() or ['?'])[-1], fix)
        return Check('cython build in the sandbox', True, 'built and imported in %.1f s' % (time.monotonic() - start))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def cifar10_check() -> Check:
    """CIFAR-10 is where grading looks for it, without downloading (not required: a first grade downloads
    it when it is missing and the network allows)."""
    from graders.data import cifar10
    fix = 'hw1grade data fetch (downloads 163 MB), or set %s to a local cifar-10-python.tar.gz' % cifar10.ARCHIVE_ENV
    archive = os.environ.get(cifar10.ARCHIVE_ENV)
    if archive:
        if Path(archive).is_file():
            return Check('CIFAR-10', True, 'archive %s (%s)' % (archive, cifar10.ARCHIVE_ENV))
        return Check('CIFAR-10', False, '%s=%s: no such file' % (cifar10.ARCHIVE_ENV, archive), fix, required=True)
    cache = cifar10.resolve_cache_dir()
    if cifar10.read_stamp(cache):
        return Check('CIFAR-10', True, 'extracted in %s' % (cache / cifar10.FOLDER))
    return Check('CIFAR-10', False, 'not in the cache %s: a grade would download it' % cache, fix, required=False)


def chromium_check() -> Check:
    """A browser for notebook_to_pdf.py (what students make their PDF with; not needed to grade)."""
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        path = os.environ.get('CHROME') or shutil.which(name)
        if path:
            return Check('chromium (notebook PDFs)', True, path, required=False)
    return Check('chromium (notebook PDFs)', False, 'no chromium or chrome on PATH',
                 'apt-get install chromium (or %s)' % APT_FIX, required=False)


def dask_check() -> Check:
    """Dask, which `hw1grade batch --scheduler` distributes grades with (not needed for one grade)."""
    try:
        import dask
        import distributed
    except ImportError as err:
        return Check('dask (batch on a cluster)', False, str(err), ".venv/bin/pip install -e '.[test]'",
                     required=False)
    return Check('dask (batch on a cluster)', True, 'dask %s, distributed %s' % (dask.__version__,
                                                                                distributed.__version__))


# -- preflight and the table -----------------------------------------------------------------------

def _guarded(name: str, probe: Callable[[], Check | list[Check]], required: bool = True) -> list[Check]:
    """A probe that raised is a failed line, not a crash of the doctor."""
    try:
        found = probe()
    except Exception as err:   # noqa: BLE001 - any failure of a probe is what the line reports
        return [Check(name, False, '%s: %s' % (type(err).__name__, err),
                      'run `hw1grade doctor` for the full table', required)]
    return found if isinstance(found, list) else [found]


def _sandbox_checks(part: int | None, uid: int | None, full: bool) -> tuple[str, list[Check]]:
    scratch = _scratch()
    try:
        try:
            box = _make_sandbox(scratch, part, uid)
        except Exception as err:   # noqa: BLE001
            return 'none', [Check('sandbox', False, 'cannot create a sandbox: %s: %s' % (type(err).__name__, err),
                                  'install bubblewrap (%s)' % APT_FIX)]
        # The per-grade preflight imports numpy (every worker does at once) and only finds torch:
        # importing it takes many seconds on a loaded machine; the full table imports it.
        modules = ('numpy',) if part == 1 else ('numpy', '?torch')
        if full:
            modules = ('numpy', 'torch', 'Cython')
        checks = _guarded('isolation', lambda: isolation_checks(box), required=False)
        checks += _guarded('sandboxed python', lambda: python_check(box, modules))
        checks += _guarded('pdftoppm', lambda: pdftoppm_check(box, required=part != 1), required=part != 1)
        return box.isolation, checks
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_preflights: dict[tuple[int | None, int | None], Preflight] = {}


def preflight(part: int | None = None, *, sandbox_uid: int | None = None) -> Preflight:
    """What grading `part` (1, 2, or None for both) needs, tried here; cached per process.

    Fast (a few seconds: one sandboxed interpreter start): the Cython build and the tools only the
    doctor table lists are not in it."""
    key = (part, sandbox_uid)
    if key not in _preflights:
        isolation, checks = _sandbox_checks(part, sandbox_uid, full=False)
        checks += _guarded('CIFAR-10', cifar10_check)
        _preflights[key] = _summarize(checks, isolation)
    return _preflights[key]


def doctor(sandbox_uid: int | None = None) -> Preflight:
    """Every line of the doctor table (not cached: it is what a TA runs after fixing something)."""
    isolation, checks = _sandbox_checks(None, sandbox_uid, full=True)
    checks += _guarded('cython build in the sandbox', lambda: cython_check(None, sandbox_uid))
    checks += _guarded('CIFAR-10', cifar10_check)
    checks += _guarded('chromium', chromium_check, required=False)
    checks += _guarded('dask', dask_check, required=False)
    return _summarize(checks, isolation)


def format_table(found: Preflight) -> str:
    """The table a person reads: status, name, detail, and the fix under each line that is not ok."""
    width = max(len(c.name) for c in found.checks)
    lines = []
    for c in found.checks:
        lines.append('%-4s  %-*s  %s' % (c.status, width, c.name, c.detail))
        if not c.ok and c.fix:
            lines.append('      %-*s  fix: %s' % (width, '', c.fix))
    verdict = ('grading here works (isolation: %s)' % found.isolation if found.ok else
               'grading here would be WRONG: fix the FAIL lines first')
    return '\n'.join(lines + ['', verdict])


def to_json(found: Preflight) -> dict:
    return {'ok': found.ok, 'isolation': found.isolation, 'problems': list(found.problems),
            'checks': [dict(asdict(c), status=c.status) for c in found.checks]}


def doctor_command(args: argparse.Namespace) -> int:
    found = preflight(args.part, sandbox_uid=args.uid) if args.quick else doctor(args.uid)
    print(json.dumps(to_json(found), indent=2) if args.json else format_table(found))
    return EXIT_OK if found.ok else EXIT_WRONG


def add_doctor_commands(subparsers: argparse._SubParsersAction) -> None:
    """`hw1grade doctor [--json] [--quick [--part N]]`."""
    parser = subparsers.add_parser(
        'doctor', help='check that everything grading relies on works here (sandbox, interpreter, tools)',
        description=textwrap.dedent('''\
            One line per thing the grader relies on, tried here: the sandbox isolation achieved, the
            sandboxed interpreter with numpy and torch, a Cython build in the sandbox, CIFAR-10,
            pdftoppm, chromium, Dask. Exit status 1 when grading here would be wrong (a FAIL line),
            else 0 (WARN lines: grading is right, with less isolation or a missing optional tool).'''),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', action='store_true', help='print the table as JSON (for scripts)')
    parser.add_argument('--quick', action='store_true',
                        help='only the preflight grading runs (a few seconds; no Cython build)')
    parser.add_argument('--part', type=int, choices=(1, 2), help='with --quick: the part to check for')
    parser.add_argument('--uid', type=int, help='the sandbox uid to try (default the sandbox\'s own)')
    parser.set_defaults(handler=doctor_command)


if __name__ == '__main__':
    sys.exit(doctor_command(argparse.Namespace(json='--json' in sys.argv, quick=False, part=None, uid=None)))
