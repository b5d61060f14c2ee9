"""Build a submission's Cython extension inside the sandbox, the way students build it.

`build_extension(root, sandbox)` runs `python setup.py build_ext --inplace` in `<root>/cs231n/` under
the sandbox, after removing stale builds (other platforms' `.so`/`.pyd`, a generated `.c`, `build/`).

The starter's `im2col_cython.pyx` was written for Python 2 semantics (`cdef int HH = (H + 2 * pad -
field) / stride + 1`): Cython 3 compiles at language level 3, where `/` on ints is a float, and
rejects it. When the student's own build fails, it is retried with `language_level=2` injected
through `cythonize` (a wrapper around the student's setup.py; their files are not edited), and the
result carries a note saying so. A build that still fails gives a clear message; the graders then
fail only the items that need the fast layers.

With a `cache_dir`, a successful build is kept there under a digest of the extension's sources
(`setup.py`, `.pyx`, `.pxd`, `.h`, ... at the top of `cs231n/`, plus the Python, Cython and numpy
versions), and a later build of identical sources copies it instead of compiling again (about 15 s).
So that those files are all the build can read from the submission, a cached build runs in a folder
that holds only them: another file of the submission (a `setuptools.py` beside `setup.py`) cannot
change what lands in the cache. The trusted side only copies the built files; it never loads them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from graders.sandbox import Sandbox

BUILD_TIMEOUT = 300.0
LOG_CHARS = 3000
# What a cached build may read from the submission's extension folder (its top level only).
BUILD_SOURCES = ('setup.py', '*.pyx', '*.pxd', '*.pxi', '*.h', '*.hpp', '*.c', '*.cpp')
CACHE_RECORD = 'build.json'

# Runs the student's setup.py with language_level=2 forced into every cythonize() call.
LEVEL2_SETUP = '''
import runpy, sys
import Cython.Build
_cythonize = Cython.Build.cythonize
def cythonize(*args, **kwargs):
    kwargs.pop("language_level", None)
    kwargs["compiler_directives"] = dict(kwargs.get("compiler_directives") or {}, language_level=2)
    kwargs["force"] = True
    return _cythonize(*args, **kwargs)
Cython.Build.cythonize = cythonize
sys.argv = ["setup.py", "build_ext", "--inplace"]
runpy.run_path("setup.py", run_name="__main__")
'''

LEVEL2_NOTE = ('the Cython extension does not compile with Cython 3 at language level 3 (Python 3 '
               'semantics: `/` on ints gives a float); it was built with language_level=2, the '
               'semantics the starter code was written for')


@dataclass(frozen=True)
class BuildResult:
    """ok: an extension module was built. message: for the student. log: tail of the build output."""
    ok: bool
    message: str
    notes: tuple[str, ...] = ()
    log: str = ''


def remove_stale_builds(ext_dir: Path) -> list[str]:
    """Delete compiled leftovers (`*.so`, `*.pyd`, `build/`, `.c` generated from a `.pyx`); their names."""
    removed = []
    for path in sorted(ext_dir.iterdir()):
        generated_c = path.suffix == '.c' and path.with_suffix('.pyx').exists()
        if path.is_symlink() or not (path.suffix in ('.so', '.pyd') or generated_c or path.name == 'build'):
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        removed.append(path.name)
    return removed


def _built_modules(ext_dir: Path) -> list[str]:
    return sorted(p.name for p in ext_dir.iterdir() if p.suffix in ('.so', '.pyd') and p.is_file())


def _tail(text: str) -> str:
    return text if len(text) <= LOG_CHARS else '[...]\n' + text[-LOG_CHARS:]


def build_extension(root, sandbox: Sandbox, *, package: str = 'cs231n', timeout: float = BUILD_TIMEOUT,
                    cache_dir=None) -> BuildResult:
    """Build `<root>/<package>` in place inside the sandbox (see the module docstring); with
    `cache_dir`, reuse or keep the build of identical sources there."""
    ext_dir = Path(root) / package
    if not (ext_dir / 'setup.py').is_file():
        return BuildResult(False, '%s/setup.py is missing: the Cython extension cannot be built' % package)
    remove_stale_builds(ext_dir)
    if cache_dir is None:
        return _compile(ext_dir, sandbox, package, timeout)
    entry = Path(cache_dir) / source_digest(ext_dir)
    reused = _copy_cached(entry, ext_dir)
    if reused is not None:
        return reused
    work = Path(tempfile.mkdtemp(prefix='.hw1grade-build-', dir=ext_dir))
    try:
        for source in extension_sources(ext_dir):
            shutil.copyfile(source, work / source.name)
        if sandbox.as_root:   # the sandbox user builds there
            for path in (work, *work.iterdir()):
                os.lchown(path, sandbox.uid, sandbox.uid)
        result = _compile(work, sandbox, package, timeout)
        if result.ok:
            for name in _built_modules(work):
                shutil.move(work / name, ext_dir / name)
            _keep(entry, ext_dir, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _compile(build_dir: Path, sandbox: Sandbox, package: str, timeout: float) -> BuildResult:
    """`python setup.py build_ext --inplace` in `build_dir`, retried at language_level=2."""
    attempts = (([sandbox.python, 'setup.py', 'build_ext', '--inplace'], ()),
                ([sandbox.python, '-c', LEVEL2_SETUP], (LEVEL2_NOTE,)))
    first = None
    for argv, notes in attempts:
        run = sandbox.run(argv, cwd=build_dir, timeout=timeout, env=sandbox.env())
        log = _tail((run.stdout + '\n' + run.stderr).strip())
        if run.ok and _built_modules(build_dir):
            return BuildResult(True, 'built %s' % ', '.join(_built_modules(build_dir)), notes, log)
        first = first or (run, log)
        if run.timed_out or run.killed:
            break  # a limit, not a language-level problem: a retry would only hit it again
        remove_stale_builds(build_dir)
    run, log = first
    reason = run.killed or 'exit code %d' % run.returncode
    return BuildResult(False, '`python setup.py build_ext --inplace` in %s/ failed (%s):\n%s'
                       % (package, reason, log), (), log)


# -- build cache -----------------------------------------------------------------------------------

def extension_sources(ext_dir: Path) -> list[Path]:
    """The files a cached build works from: plain files at the top of `ext_dir` named by BUILD_SOURCES."""
    return sorted(p for p in Path(ext_dir).iterdir()
                  if p.is_file() and not p.is_symlink() and any(p.match(g) for g in BUILD_SOURCES))


def source_digest(ext_dir: Path) -> str:
    """sha256 of the extension's sources (names and contents) and of what else decides the build."""
    digest = hashlib.sha256()
    for part in (sys.version, sysconfig.get_platform(), metadata.version('Cython'), metadata.version('numpy'),
                 LEVEL2_SETUP):
        digest.update(part.encode() + b'\0')
    for path in extension_sources(ext_dir):
        data = path.read_bytes()
        digest.update(b'%s\0%d\0' % (path.name.encode(), len(data)) + data)
    return digest.hexdigest()


def _copy_cached(entry: Path, ext_dir: Path) -> BuildResult | None:
    """Copy a kept build into `ext_dir`; None when there is none (or it cannot be read)."""
    try:
        record = json.loads((entry / CACHE_RECORD).read_text())
        modules = [m for m in record['modules'] if Path(m).name == m and (entry / m).is_file()]
        if not modules or len(modules) != len(record['modules']):
            return None
        for name in modules:
            shutil.copyfile(entry / name, ext_dir / name)
        return BuildResult(True, record['message'] + ' (an identical earlier build, reused)',
                           tuple(record['notes']), record['log'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(entry: Path, ext_dir: Path, result: BuildResult) -> None:
    """Store a successful build under `entry`, atomically (a concurrent grader may store it too)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.staging-', dir=entry.parent))
    modules = _built_modules(ext_dir)
    for name in modules:
        shutil.copyfile(ext_dir / name, staging / name)
    (staging / CACHE_RECORD).write_text(json.dumps({'modules': modules, 'message': result.message,
                                                    'notes': list(result.notes), 'log': result.log}))
    try:
        os.rename(staging, entry)
    except OSError:   # already there
        shutil.rmtree(staging, ignore_errors=True)
