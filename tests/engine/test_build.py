"""Building the submission's Cython extension inside the sandbox."""
import shutil
import textwrap

import numpy as np
import pytest

from graders.engine.bridge import Worker
from graders.part1.build import LEVEL2_NOTE, build_extension, remove_stale_builds
from tests.helpers import ROOT, STARTER_PYX, write_package


@pytest.mark.slow
def test_reference_extension_builds_and_runs_through_the_worker(scratch, make_sandbox):
    shutil.copytree(ROOT / 'reference' / '1_cs231n' / 'cs231n', scratch / 'cs231n',
                    ignore=shutil.ignore_patterns('datasets', '__pycache__'))
    sandbox = make_sandbox(scratch)
    result = build_extension(scratch, sandbox)
    assert result.ok, result.message
    assert result.notes == ()
    from cs231n.layers import conv_forward_naive  # the trusted side's own reference
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv_param = {'stride': 2, 'pad': 1}
    with Worker(scratch, sandbox) as worker:
        out, cache = worker.call('cs231n.fast_layers:conv_forward_fast', x, w, b, conv_param)
        dx, dw, db = worker.call('cs231n.fast_layers:conv_backward_fast', np.ones_like(out), cache)
    expected, _ = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(db, np.full(4, out[:, 0].size), rtol=1e-12)


@pytest.mark.slow
def test_starter_era_pyx_builds_at_language_level_2(scratch, make_sandbox):
    write_package(scratch, STARTER_PYX)
    sandbox = make_sandbox(scratch)
    result = build_extension(scratch, sandbox)
    assert result.ok, result.message
    assert result.notes == (LEVEL2_NOTE,)
    assert (scratch / 'cs231n' / 'im2col_cython.pyx').read_text() == textwrap.dedent(STARTER_PYX)
    with Worker(scratch, sandbox) as worker:
        # Python 2 semantics: C integer division, (32 + 2 - 3) / 2 + 1 == 16.
        assert worker.call('cs231n.im2col_cython:out_size', 32, 1, 3, 2) == 16


@pytest.mark.slow
def test_broken_pyx_gives_a_clear_message(scratch, make_sandbox):
    write_package(scratch, 'def broken(:\n    pass\n')
    result = build_extension(scratch, make_sandbox(scratch))
    assert not result.ok and result.notes == ()
    assert 'python setup.py build_ext --inplace' in result.message
    assert 'im2col_cython.pyx' in result.message  # Cython's own error, quoted
    # Its traceback names files as the student knows them, never the grading machine's folders (issue 18).
    assert 'File "Cython/Build/' in result.message and 'File "cs231n/setup.py"' in result.message
    assert 'site-packages' not in result.message and '/submission' not in result.message


def test_missing_setup_py(scratch, make_sandbox):
    (scratch / 'cs231n').mkdir()
    result = build_extension(scratch, make_sandbox(scratch))
    assert not result.ok and 'setup.py is missing' in result.message


def test_stale_builds_are_removed(tmp_path):
    pkg = write_package(tmp_path, STARTER_PYX)
    stale = ['im2col_cython.c', 'im2col_cython.cp37-win_amd64.pyd',
             'im2col_cython.cpython-36m-darwin.so', 'build']
    for name in stale[:-1]:
        (pkg / name).write_text('stale')
    (pkg / 'build' / 'temp').mkdir(parents=True)
    (pkg / 'helper.c').write_text('/* no .pyx of that name: the student wrote it */')
    assert remove_stale_builds(pkg) == sorted(stale)
    assert sorted(p.name for p in pkg.iterdir()) == \
        ['__init__.py', 'helper.c', 'im2col_cython.pyx', 'setup.py']
