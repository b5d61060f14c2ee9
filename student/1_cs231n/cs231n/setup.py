"""
Build the im2col_cython extension in place:

    cd cs231n
    python setup.py build_ext --inplace

This compiles im2col_cython.pyx (Cython 3, language_level 3) into a module
next to it, for this machine's Python and numpy.

The extension does not use OpenMP, on purpose. fast_layers.py runs one Python
thread per core, each on its own images (the loops here release the GIL),
and keeps its matrix products small enough for numpy's BLAS to run them on
the calling thread. OpenMP threads would spin after each parallel loop and
fight with the BLAS threads for the cores (measured: several times slower on
a busy 2-core machine), and would need a compiler with OpenMP (Apple's clang
has none by default).
"""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        'im2col_cython',
        ['im2col_cython.pyx'],
        include_dirs=[numpy.get_include()],
        define_macros=[('NPY_NO_DEPRECATED_API', 'NPY_1_7_API_VERSION')],
    ),
]

setup(
    name='cs231n-im2col',
    ext_modules=cythonize(extensions, compiler_directives={'language_level': 3}),
)
