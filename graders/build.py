"""Build a submission's Cython extension inside the sandbox, the way students build it.

`build_extension(root, sandbox)` runs `python setup.py build_ext --inplace` in `<root>/cs231n/` under
the sandbox, after removing stale builds (other platforms' `.so`/`.pyd`, a generated `.c`, `build/`).

The starter's `im2col_cython.pyx` was written for Python 2 semantics (`cdef int HH = (H + 2 * pad -
field) / stride + 1`): Cython 3 compiles at language level 3, where `/` on ints is a float, and
rejects it. When the student's own build fails, it is retried with `language_level=2` injected
through `cythonize` (a wrapper around the student's setup.py; their files are not edited), and the
result carries a note saying so. A build that still fails gives a clear message; the graders then
fail only the items that need the fast layers.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from graders.sandbox import Sandbox

BUILD_TIMEOUT = 300.0
LOG_CHARS = 3000

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


def build_extension(root, sandbox: Sandbox, *, package: str = 'cs231n',
                    timeout: float = BUILD_TIMEOUT) -> BuildResult:
    """Build `<root>/<package>` in place inside the sandbox (see the module docstring)."""
    ext_dir = Path(root) / package
    if not (ext_dir / 'setup.py').is_file():
        return BuildResult(False, '%s/setup.py is missing: the Cython extension cannot be built' % package)
    remove_stale_builds(ext_dir)
    attempts = (([sandbox.python, 'setup.py', 'build_ext', '--inplace'], ()),
                ([sandbox.python, '-c', LEVEL2_SETUP], (LEVEL2_NOTE,)))
    first = None
    for argv, notes in attempts:
        run = sandbox.run(argv, cwd=ext_dir, timeout=timeout, env=sandbox.env())
        log = _tail((run.stdout + '\n' + run.stderr).strip())
        if run.ok and _built_modules(ext_dir):
            return BuildResult(True, 'built %s' % ', '.join(_built_modules(ext_dir)), notes, log)
        first = first or (run, log)
        if run.timed_out or run.killed:
            break  # a limit, not a language-level problem: a retry would only hit it again
        remove_stale_builds(ext_dir)
    run, log = first
    reason = run.killed or 'exit code %d' % run.returncode
    return BuildResult(False, '`python setup.py build_ext --inplace` in %s/ failed (%s):\n%s'
                       % (package, reason, log), (), log)
