"""Build a submission's Cython extension inside the sandbox, the way students build it.

`build_extension(root, sandbox)` runs `python setup.py build_ext --inplace` in `<root>/cs231n/` under
the sandbox, after removing stale builds (other platforms' `.so`/`.pyd`, a generated `.c`, `build/`).

The starter's `im2col_cython.pyx` was written for Python 2 semantics (`cdef int HH = (H + 2 * pad -
field) / stride + 1`): Cython 3 compiles at language level 3, where `/` on ints is a float, and
rejects it. When the student's own build fails, it is retried with `language_level=2` injected
through `cythonize` (a wrapper around the student's setup.py; their files are not edited), and the
result carries a note saying so. A build that still fails gives a clear message; the graders then
fail only the items that need the fast layers.

The build cache (`cache_dir`, used by `hw1grade batch`): a successful build is kept under a digest
of the extension's sources (`setup.py`, `.pyx`, `.pxd`, `.h`, ... at the top of `cs231n/`, plus the
Python, Cython and numpy versions), and a later build of identical sources reuses it (about 15 s).

Threat model of the cache. An entry is used by *other* students' grades, so what is stored must not
depend on anything but the sources in its key, and storing or restoring must never follow a name the
submission controls (the trusted process is root; the scratch tree is writable by sandboxed code,
which may still run in the background, and `/proc/self/mountinfo` tells it the tree's host path).
- The cached build runs in a fresh folder outside the scratch tree, in a sandbox of its own (the
  worker's sandbox cannot see that folder), holding only the sources, read once through
  `graders.engine.untrusted` (no link followed, regular files only, capped); the digest is taken from the
  very bytes written there. Another file of the submission (a `numpy.py` beside `setup.py`) cannot
  change what lands in the cache, and a running worker cannot swap the built file.
- The entry holds exactly one file, the one extension module the build produced (`im2col_cython`
  with an extension suffix), and a record with its sha256; a build that produced anything else is not
  stored. Builds at the 'rlimits' isolation level are never stored: without a private view of the
  filesystem, a background process of the same uid could reach the build folder.
- A restore re-reads the record and the module without following links, checks the sha256, and
  writes the module into `cs231n/` as a new file: whatever sits at that name (a link to a host file,
  a FIFO, a folder) is removed with `unlinkat` first and the file is created with
  `O_CREAT | O_EXCL | O_NOFOLLOW` relative to a descriptor of `cs231n/` opened without following.
- The cache is neither used nor filled (a note says why) when the submission's extension folder holds
  anything else the import could pick up: another extension module (`layers.cpython-*.so` shadows
  `layers.py`), a `.pth` file, a package named like the extension, a link or a special file. Intake
  drops compiled files, so anything of the kind was made by the submission's own code.
The trusted side only copies the built file; it never loads it. Not defended: a student's own build
or import hurting their own grade.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.machinery
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from graders.engine import untrusted
from graders.engine.sandbox import Sandbox
from graders.engine.untrusted import UnsafeFile
from graders.inside.shown_paths import short_paths

BUILD_TIMEOUT = 300.0
LOG_CHARS = 3000
# What a cached build may read from the submission's extension folder (its top level only).
BUILD_SOURCES = ('setup.py', '*.pyx', '*.pxd', '*.pxi', '*.h', '*.hpp', '*.c', '*.cpp')
CACHE_RECORD = 'build.json'
CACHE_FORMAT = 'hw1grade build cache 2: one module, sha256 checked'   # part of every key
MODULE = 'im2col_cython'                  # the one extension module a cached build may produce
SOURCE_BYTES = 4 << 20                    # one source file of the extension
MODULE_BYTES = 64 << 20                   # the built module
RECORD_BYTES = 1 << 20
# Names the import system loads as compiled modules (Linux, plus what other platforms would).
EXTENSION_ENDINGS = (*importlib.machinery.EXTENSION_SUFFIXES, '.so', '.pyd', '.dylib')
HAZARD_ENTRIES = 5000                     # an extension folder with more entries is not cached

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


def is_extension_module(name: str) -> bool:
    """Whether the import system would load a file of this name as a compiled module."""
    return name.endswith(EXTENSION_ENDINGS)


def remove_stale_builds(ext_dir: Path) -> list[str]:
    """Delete compiled leftovers (`*.so`, `*.pyd`, `build/`, `.c` generated from a `.pyx`) at the top of
    `ext_dir`, links of those names included (removed, never followed); their names."""
    listed = untrusted.entries(ext_dir)
    sources = {e.name for e in listed if e.kind == untrusted.FILE and e.name.endswith('.pyx')}
    removed = []
    for entry in listed:
        generated_c = entry.name.endswith('.c') and entry.name[:-2] + '.pyx' in sources
        if is_extension_module(entry.name) or generated_c or entry.name == 'build':
            untrusted.remove(ext_dir, (entry.name,))
            removed.append(entry.name)
    return removed


def _built_modules(build_dir: Path) -> list[str]:
    return [e.name for e in untrusted.entries(build_dir)
            if e.kind == untrusted.FILE and is_extension_module(e.name)]


def _tail(text: str, root: Path) -> str:
    """The build's output as the student reads it: its files named relative to the submission
    (`cs231n/im2col_cython.pyx`, `Cython/Build/Dependencies.py`, never the grader's folders), its end only."""
    text = short_paths(text, (root,))
    return text if len(text) <= LOG_CHARS else '[...]\n' + text[-LOG_CHARS:]


def build_extension(root, sandbox: Sandbox, *, package: str = 'cs231n', timeout: float = BUILD_TIMEOUT,
                    cache_dir=None) -> BuildResult:
    """Build `<root>/<package>` in place inside the sandbox (see the module docstring); with
    `cache_dir`, reuse or keep the build of identical sources there."""
    ext_dir = Path(root) / package
    try:
        setup = [e for e in untrusted.entries(root, (package,)) if e.name == 'setup.py']
        if not setup or setup[0].kind != untrusted.FILE:
            return BuildResult(False, '%s/setup.py is missing: the Cython extension cannot be built' % package)
        # What the submission's code left there is judged before the leftovers are cleared away.
        hazards = import_hazards(ext_dir) if cache_dir is not None else []
        remove_stale_builds(ext_dir)
        if cache_dir is None:
            return _compile(ext_dir, sandbox, package, timeout)
        return _cached_build(ext_dir, sandbox, package, timeout, Path(cache_dir), hazards)
    except UnsafeFile as err:
        return BuildResult(False, 'the Cython extension cannot be built: %s' % err)


def _compile(build_dir: Path, sandbox: Sandbox, package: str, timeout: float) -> BuildResult:
    """`python setup.py build_ext --inplace` in `build_dir`, retried at language_level=2."""
    attempts = (([sandbox.python, 'setup.py', 'build_ext', '--inplace'], ()),
                ([sandbox.python, '-c', LEVEL2_SETUP], (LEVEL2_NOTE,)))
    first = None
    for argv, notes in attempts:
        run = sandbox.run(argv, cwd=build_dir, timeout=timeout, env=sandbox.env())
        log = _tail((run.stdout + '\n' + run.stderr).strip(), build_dir.parent)
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

def read_sources(ext_dir: Path) -> dict[str, bytes]:
    """The files a cached build works from: regular files at the top of `ext_dir` named by BUILD_SOURCES,
    read once, without following links. UnsafeFile for one over SOURCE_BYTES."""
    found = {}
    for entry in untrusted.entries(ext_dir):
        if entry.kind == untrusted.FILE and any(fnmatch.fnmatchcase(entry.name, g) for g in BUILD_SOURCES):
            data = untrusted.read_file(ext_dir, (entry.name,), SOURCE_BYTES)
            if data is not None:
                found[entry.name] = data
    return found


def _digest(sources: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, sys.version, sysconfig.get_platform(), metadata.version('Cython'),
                 metadata.version('numpy'), LEVEL2_SETUP):
        digest.update(part.encode() + b'\0')
    for name in sorted(sources):
        digest.update(b'%s\0%d\0' % (os.fsencode(name), len(sources[name])) + sources[name])
    return digest.hexdigest()


def source_digest(ext_dir: Path) -> str:
    """sha256 of the extension's sources (names and contents) and of what else decides the build."""
    return _digest(read_sources(ext_dir))


def import_hazards(ext_dir: Path, built: tuple[str, ...] = ()) -> list[str]:
    """What in `ext_dir` (its whole tree) the import could pick up besides the modules `built` (regular
    files at its top): extension modules, .pth files, a package named like the extension, links,
    special files."""
    hazards = []
    count = 0
    for rel, entry in untrusted.walk(ext_dir, max_entries=HAZARD_ENTRIES + 1):
        count += 1
        path = '/'.join((ext_dir.name, *rel))
        if entry.kind == untrusted.LINK:
            hazards.append(f'{path} (a symbolic link)')
        elif entry.kind == untrusted.OTHER:
            hazards.append(f'{path} (a FIFO, socket or device)')
        elif entry.kind == untrusted.FILE and is_extension_module(entry.name) \
                and not (len(rel) == 1 and entry.name in built):
            hazards.append(f'{path} (a compiled module)')
        elif entry.kind == untrusted.FILE and entry.name.endswith('.pth'):
            hazards.append(f'{path} (a .pth file)')
        elif entry.kind == untrusted.DIR and len(rel) == 1 and entry.name.split('.')[0] == MODULE:
            hazards.append(f'{path}/ (a folder named like the extension module)')
    if count > HAZARD_ENTRIES:
        hazards.append(f'more than {HAZARD_ENTRIES} files and folders in {ext_dir.name}/')
    return sorted(hazards, key=lambda h: 'compiled module' not in h)   # what would be imported first


def _cached_build(ext_dir: Path, sandbox: Sandbox, package: str, timeout: float, cache_dir: Path,
                  hazards: list[str]) -> BuildResult:
    """Restore the build of these sources from `cache_dir`, or build them in a fresh folder of their
    own, install the module into `ext_dir`, and keep it in the cache (see the module docstring);
    neither when there are import `hazards` in `ext_dir`."""
    sources = read_sources(ext_dir)
    entry = cache_dir / _digest(sources)
    hazards = hazards or import_hazards(ext_dir)
    if not hazards:
        restored = _restore(entry, ext_dir)
        if restored is not None:
            return restored
    result, modules, isolated = _isolated_build(sources, sandbox, package, timeout)
    for name, data in modules.items():
        untrusted.write_file(ext_dir, (name,), data)
    hazards = hazards or import_hazards(ext_dir, tuple(modules))
    notes = result.notes
    if hazards:
        shown = ', '.join(hazards[:8]) + (' and %d more' % (len(hazards) - 8) if len(hazards) > 8 else '')
        notes += ('the build cache was neither used nor filled: %s/ holds what the import could pick up '
                  'besides the built extension: %s' % (package, shown),)
    elif result.ok and isolated and len(modules) == 1 and next(iter(modules)).startswith(MODULE + '.'):
        _store(entry, *next(iter(modules.items())), result)
    return BuildResult(result.ok, result.message, notes, result.log)


def _isolated_build(sources: dict[str, bytes], sandbox: Sandbox, package: str, timeout: float
                    ) -> tuple[BuildResult, dict[str, bytes], bool]:
    """Build `sources` in a fresh folder outside the scratch tree, in a sandbox of its own like
    `sandbox`: (result, {module name: bytes}, whether both had a private view of the filesystem)."""
    work = Path(tempfile.mkdtemp(prefix='hw1grade-build-'))
    try:
        for name, data in sources.items():
            untrusted.write_file(work, (name,), data)
        builder = Sandbox(work, sandbox.limits, uid=sandbox.uid, isolation=sandbox.isolation,
                          bwrap=getattr(sandbox, '_bwrap', None) or 'bwrap')
        result = _compile(work, builder, package, timeout)
        modules = {}
        if result.ok:
            for name in _built_modules(work):
                modules[name] = untrusted.read_file(work, (name,), MODULE_BYTES)
        return result, modules, builder.private_view and sandbox.private_view
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _restore(entry: Path, ext_dir: Path) -> BuildResult | None:
    """Write the kept module of `entry` into `ext_dir` after checking its sha256; None when there is
    no usable entry."""
    try:
        raw = untrusted.read_file(entry, (CACHE_RECORD,), RECORD_BYTES)
        if raw is None:
            return None
        record = json.loads(raw)
        module = record['module']
        if type(module) is not str or not module.startswith(MODULE + '.') or not is_extension_module(module):
            return None
        data = untrusted.read_file(entry, (module,), MODULE_BYTES)
        if data is None or hashlib.sha256(data).hexdigest() != record['sha256']:
            return None
        result = BuildResult(True, record['message'] + ' (an identical earlier build, reused)',
                             tuple(record['notes']), record['log'])
    except (OSError, ValueError, KeyError, TypeError):   # UnsafeFile is a ValueError
        return None
    untrusted.write_file(ext_dir, (module,), data)
    return result


def _store(entry: Path, module: str, data: bytes, result: BuildResult) -> None:
    """Keep `module` under `entry`, atomically (a concurrent grader may store it too)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.staging-', dir=entry.parent))
    record = {'module': module, 'sha256': hashlib.sha256(data).hexdigest(), 'bytes': len(data),
              'message': result.message, 'notes': list(result.notes), 'log': result.log}
    untrusted.write_file(staging, (module,), data)
    untrusted.write_file(staging, (CACHE_RECORD,), json.dumps(record).encode())
    os.chmod(staging, 0o755)
    try:
        os.rename(staging, entry)
    except OSError:   # already there
        shutil.rmtree(staging, ignore_errors=True)
