"""The 2019 course's Python environment, in the sandbox: what its students' code and notebooks assume.

Submissions were written and run against numpy 1.x, SciPy < 1.2 and paths typed on Windows
(REAL_SUBMISSIONS.md section 1). Current versions removed some of that; this module puts it back,
for the bridge's worker (`worker.py` calls `install`) and for the notebook kernel alike (the runner
starts the kernel with `kernel_site/` on PYTHONPATH, whose sitecustomize.py calls `install`):

- numpy 1.x aliases (`np.int`, `np.float`, ...) resolve to what they meant;
- `scipy.misc.imread`, `imresize` and `imsave` (removed in SciPy 1.2/1.3) exist again, on Pillow;
- a relative path written with backslashes (`'cs231n\\datasets\\cifar-10-batches-py'`) that does not
  exist as written is opened with forward slashes when that one exists.

Each shim reports its first use once, as a note for the TA (`record`): the worker sends notes in its
replies; in the kernel they are appended to the file named by $HW1GRADE_NOTES_FILE, which the
trusted side reads back as untrusted text. Nothing here changes a correct program's results.
Standard library and numpy only (Pillow and SciPy are imported only when a shim is used).
"""

import builtins
import importlib.abc
import importlib.machinery
import os
import sys

NOTES_ENV = 'HW1GRADE_NOTES_FILE'
NOTE_CHARS = 300

_seen = set()
_recorders = []


def record(text: str, key: str | None = None) -> None:
    """Report `text` once (once per `key` when given): to the recorders `install` was given and to
    $HW1GRADE_NOTES_FILE."""
    key = text if key is None else key
    if key in _seen:
        return
    _seen.add(key)
    for recorder in _recorders:
        recorder(text)
    path = os.environ.get(NOTES_ENV)
    if path:
        try:
            with builtins.open(path, 'a', encoding='utf-8') as f:
                f.write(text[:NOTE_CHARS].replace('\n', ' ') + '\n')
        except OSError:
            pass


# -- numpy 1.x aliases -----------------------------------------------------------------------------

def legacy_numpy(np) -> dict:
    """name -> (what it resolves to, how the note names it), for numpy 1.x names numpy 2 removed."""
    return {
        'int': (int, 'int'), 'float': (float, 'float'), 'bool': (bool, 'bool'),
        'object': (object, 'object'), 'complex': (complex, 'complex'), 'str': (str, 'str'),
        'long': (int, 'int'), 'unicode': (str, 'str'),
        'float_': (np.float64, 'np.float64'), 'complex_': (np.complex128, 'np.complex128'),
        'int0': (np.intp, 'np.intp'), 'uint0': (np.uintp, 'np.uintp'), 'bool8': (np.bool_, 'np.bool_'),
        'string_': (np.bytes_, 'np.bytes_'), 'unicode_': (np.str_, 'np.str_'),
        'NaN': (np.nan, 'np.nan'), 'Inf': (np.inf, 'np.inf'), 'Infinity': (np.inf, 'np.inf'),
        'infty': (np.inf, 'np.inf'), 'PINF': (np.inf, 'np.inf'), 'NINF': (-np.inf, '-np.inf'),
        'product': (np.prod, 'np.prod'), 'cumproduct': (np.cumprod, 'np.cumprod'),
        'alltrue': (np.all, 'np.all'), 'sometrue': (np.any, 'np.any'), 'round_': (np.round, 'np.round'),
    }


def install_numpy_shim():
    """Resolve numpy's removed aliases through its module-level __getattr__, noting each use."""
    import numpy as np
    legacy = legacy_numpy(np)
    original = np.__dict__.get('__getattr__')

    def __getattr__(name):
        if name in legacy:
            value, meaning = legacy[name]
            record('np.%s used: legacy numpy alias shimmed to %s' % (name, meaning))
            return value
        if original is None:
            raise AttributeError("module 'numpy' has no attribute %r" % name)
        return original(name)

    np.__getattr__ = __getattr__


# -- scipy.misc.imread / imresize / imsave -----------------------------------------------------------

def imread(name, flatten=False, mode=None):
    """scipy.misc.imread of SciPy < 1.2: the image as a uint8 array (H, W[, C]), via Pillow."""
    record('scipy.misc.imread used (removed in SciPy 1.2): shimmed with Pillow')
    import numpy as np
    from PIL import Image
    with Image.open(_windows_path(name)) as img:
        if mode is not None:
            img = img.convert(mode)
        elif flatten:
            img = img.convert('F')
        return np.array(img)


def imresize(arr, size, interp='bilinear', mode=None):
    """scipy.misc.imresize of SciPy < 1.3: size is a fraction, a percentage or (height, width)."""
    record('scipy.misc.imresize used (removed in SciPy 1.3): shimmed with Pillow')
    import numpy as np
    from PIL import Image
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:   # SciPy's bytescale: the range of the values onto 0..255
        low, high = float(arr.min()), float(arr.max())
        arr = ((arr - low) * (255.0 / (high - low or 1.0))).round().astype(np.uint8)
    img = Image.fromarray(arr, mode=mode) if mode else Image.fromarray(arr)
    if isinstance(size, int):
        size = size / 100.0
    if isinstance(size, float):
        size = (int(img.size[1] * size), int(img.size[0] * size))
    filters = {'nearest': Image.NEAREST, 'lanczos': Image.LANCZOS, 'bilinear': Image.BILINEAR,
               'bicubic': Image.BICUBIC, 'cubic': Image.BICUBIC}
    return np.array(img.resize((int(size[1]), int(size[0])), resample=filters.get(interp, Image.BILINEAR)))


def imsave(name, arr, format=None):
    """scipy.misc.imsave of SciPy < 1.2, via Pillow."""
    record('scipy.misc.imsave used (removed in SciPy 1.2): shimmed with Pillow')
    import numpy as np
    from PIL import Image
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        low, high = float(arr.min()), float(arr.max())
        arr = ((arr - low) * (255.0 / (high - low or 1.0))).round().astype(np.uint8)
    Image.fromarray(arr).save(_windows_path(name, writing=True), format=format)


SCIPY_MISC = {'imread': imread, 'imresize': imresize, 'imsave': imsave}


class _ScipyMiscFinder(importlib.abc.MetaPathFinder):
    """Adds imread/imresize/imsave to scipy.misc when it is imported (or makes the module, for a SciPy
    without scipy.misc), so `from scipy.misc import imread, imresize` works as in 2019."""

    def find_spec(self, fullname, path, target=None):
        if fullname != 'scipy.misc':
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            return importlib.machinery.ModuleSpec(fullname, _NewModuleLoader())
        spec.loader = _AddingLoader(spec.loader)
        return spec


class _AddingLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            self.loader.exec_module(module)
        for name, function in SCIPY_MISC.items():
            if name not in module.__dict__:
                setattr(module, name, function)


class _NewModuleLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__dict__.update(SCIPY_MISC)


# -- Windows-style relative paths ------------------------------------------------------------------

def _windows_path(path, writing=False):
    """`path` with its backslashes as slashes when it is a relative str path written for Windows that
    does not exist as written but exists (or, writing, whose folder exists) the other way."""
    if type(path) is not str or '\\' not in path or os.path.isabs(path) or _exists(path):
        return path
    fixed = path.replace('\\', '/')
    if _exists(fixed) or (writing and _exists(os.path.dirname(fixed) or '.')):
        record('a Windows-style path (%s) was opened as %s' % (path[:80], fixed[:80]), key='windows path')
        return fixed
    return path


_exists = os.path.exists


def _wrap_path_function(function, writing_modes=False):
    """`function(path, ...)` that first resolves a Windows-style relative `path` (`_windows_path`)."""
    def wrapper(*args, **kwargs):
        if args:
            mode = str(args[1] if len(args) > 1 else kwargs.get('mode', 'r'))
            writing = writing_modes and any(c in mode for c in 'wax+')
            args = (_windows_path(args[0], writing),) + args[1:]
        return function(*args, **kwargs)
    wrapper.__name__ = getattr(function, '__name__', 'wrapper')
    wrapper.__doc__ = getattr(function, '__doc__', None)
    wrapper.__wrapped__ = function
    return wrapper


def install_windows_paths():
    builtins.open = _wrap_path_function(builtins.open, writing_modes=True)
    for module, name in ((os.path, 'exists'), (os.path, 'isfile'), (os.path, 'isdir'), (os, 'listdir')):
        setattr(module, name, _wrap_path_function(getattr(module, name)))


_installed = False


def install(recorder=None) -> None:
    """Install every shim once; `recorder(text)` also receives each note (the worker's Notes)."""
    global _installed
    if recorder is not None:
        _recorders.append(recorder)
    if _installed:
        return
    _installed = True
    install_numpy_shim()
    sys.meta_path.insert(0, _ScipyMiscFinder())
    install_windows_paths()
