"""
The given fast layers of Part 1 (reference/1_cs231n/cs231n/fast_layers.py,
im2col_cython.pyx, im2col.py) against the naive layers and against each other.

Nothing is built here: the Cython extension must have been built beforehand
(`make ext`). If it is missing, every test that needs it fails with a message
saying so.
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PART1 = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     'reference', '1_cs231n')


def _add_part1_to_path():
    if PART1 not in sys.path:
        sys.path.insert(0, PART1)


_add_part1_to_path()

from cs231n import im2col as im2col_numpy  # noqa: E402
from cs231n import layers  # noqa: E402

try:
    from cs231n import fast_layers as _fast
    from cs231n import im2col_cython as _ext
    _IMPORT_ERROR = None
except ImportError as error:  # the extension is not built
    _ext = _fast = None
    _IMPORT_ERROR = error


@pytest.fixture
def ext():
    """The compiled cs231n.im2col_cython module."""
    if _IMPORT_ERROR is not None:
        pytest.fail('cs231n.im2col_cython is not built (run `make ext`, i.e. '
                    '`python setup.py build_ext --inplace` in %s/cs231n): %s'
                    % (PART1, _IMPORT_ERROR), pytrace=False)
    return _ext


@pytest.fixture
def fast(ext):
    """The cs231n.fast_layers module."""
    return _fast


def assert_close(actual, expected, rtol):
    """Max-norm relative error: max |actual - expected| <= rtol * max |expected|."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.max(np.abs(expected), initial=0.0), 1e-30)
    err = np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)), initial=0.0)
    assert err <= rtol * scale, 'relative error %.3g > %.3g' % (err / scale, rtol)


RTOL = {np.float64: 1e-10, np.float32: 1e-4}

# (N, C, H, W, F, HH, WW, stride, pad): strides 1-3, pads 0-3, non-square
# inputs and filters, batch size 1, filters as large as the padded input.
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 3, 1, 1),
    (1, 3, 7, 7, 4, 3, 3, 1, 1),
    (2, 3, 8, 11, 3, 3, 3, 2, 1),
    (3, 2, 9, 7, 2, 3, 5, 2, 0),
    (2, 1, 10, 9, 3, 4, 2, 3, 2),
    (1, 2, 6, 13, 2, 5, 3, 3, 3),
    (2, 3, 5, 5, 2, 7, 7, 1, 3),
    (1, 1, 4, 6, 1, 1, 1, 1, 0),
    (2, 2, 5, 4, 3, 2, 2, 2, 3),
    (1, 2, 3, 3, 2, 9, 9, 1, 3),
    (4, 3, 31, 31, 5, 3, 3, 2, 1),
]


def conv_case(case, dtype, seed=0):
    N, C, H, W, F, HH, WW, stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b, {'stride': stride, 'pad': pad}


# ---------------------------------------------------------------- im2col / col2im

@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('case', CONV_CASES)
def test_im2col_cython_matches_numpy(ext, case, dtype):
    x, w, _, p = conv_case(case, dtype)
    HH, WW = w.shape[2:]
    cols = ext.im2col_cython(x, HH, WW, p['pad'], p['stride'])
    expected = im2col_numpy.im2col_indices(x, HH, WW, p['pad'], p['stride'])
    assert cols.dtype == dtype
    assert cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('case', CONV_CASES)
def test_col2im_cython_matches_numpy(ext, case, dtype):
    x, w, _, p = conv_case(case, dtype)
    N, C, H, W = x.shape
    HH, WW = w.shape[2:]
    rows = C * HH * WW
    out_h = (H + 2 * p['pad'] - HH) // p['stride'] + 1
    out_w = (W + 2 * p['pad'] - WW) // p['stride'] + 1
    cols = np.random.default_rng(1).standard_normal((rows, N * out_h * out_w)).astype(dtype)
    dx = ext.col2im_cython(cols, N, C, H, W, HH, WW, p['pad'], p['stride'])
    expected = col2im_numpy_checked(cols, x.shape, HH, WW, p['pad'], p['stride'])
    assert dx.dtype == dtype
    assert_close(dx, expected, RTOL[dtype])


def col2im_numpy_checked(cols, x_shape, HH, WW, pad, stride):
    out = im2col_numpy.col2im_indices(cols, x_shape, HH, WW, pad, stride)
    assert out.shape == x_shape
    return out


def test_im2col_layout_is_the_documented_one(ext):
    """cols[c*HH*WW + ky*WW + kx, n*H'*W' + oy*W' + ox] = x_pad[n, c, oy*s + ky, ox*s + kx]."""
    rng = np.random.default_rng(3)
    N, C, H, W, HH, WW, pad, s = 2, 3, 6, 5, 3, 2, 1, 2
    x = rng.standard_normal((N, C, H, W))
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = (H + 2 * pad - HH) // s + 1, (W + 2 * pad - WW) // s + 1
    for cols in (ext.im2col_cython(x, HH, WW, pad, s),
                 im2col_numpy.im2col_indices(x, HH, WW, pad, s)):
        assert cols.shape == (C * HH * WW, N * out_h * out_w)
        for n in range(N):
            for c in range(C):
                for ky in range(HH):
                    for kx in range(WW):
                        for oy in range(out_h):
                            for ox in range(out_w):
                                r = c * HH * WW + ky * WW + kx
                                j = n * out_h * out_w + oy * out_w + ox
                                assert cols[r, j] == x_pad[n, c, oy * s + ky, ox * s + kx]


@pytest.mark.parametrize('case', CONV_CASES)
def test_col2im_is_the_adjoint_of_im2col(ext, case):
    x, w, _, p = conv_case(case, np.float64)
    N, C, H, W = x.shape
    HH, WW = w.shape[2:]
    cols = ext.im2col_cython(x, HH, WW, p['pad'], p['stride'])
    d = np.random.default_rng(2).standard_normal(cols.shape)
    back = ext.col2im_cython(d, N, C, H, W, HH, WW, p['pad'], p['stride'])
    assert np.isclose(np.sum(cols * d), np.sum(x * back), rtol=1e-12, atol=1e-12)


def test_im2col_cython_accepts_other_dtypes_and_layouts(ext):
    rng = np.random.default_rng(4)
    x = rng.integers(-5, 5, size=(2, 3, 6, 7))
    cols = ext.im2col_cython(x, 3, 3, 1, 1)
    assert cols.dtype == np.float64
    np.testing.assert_array_equal(cols, im2col_numpy.im2col_indices(x.astype(float), 3, 3, 1, 1))
    # A non-contiguous view gives the same result as its copy.
    y = rng.standard_normal((7, 6, 3, 2)).transpose(3, 2, 1, 0)
    np.testing.assert_array_equal(ext.im2col_cython(y, 2, 3, 0, 2),
                                  ext.im2col_cython(y.copy(), 2, 3, 0, 2))
    d = rng.standard_normal((3 * 3 * 3, 2 * 7 * 6))
    np.testing.assert_array_equal(ext.col2im_cython(np.asfortranarray(d), 2, 3, 7, 6, 3, 3, 1, 1),
                                  ext.col2im_cython(d, 2, 3, 7, 6, 3, 3, 1, 1))


def test_im2col_cython_rejects_impossible_fields(ext):
    x = np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError):
        ext.im2col_cython(x, 6, 3, 1, 1)           # 6 > 3 + 2*1
    with pytest.raises(ValueError):
        ext.im2col_cython(x, 3, 3, 1, 0)           # stride 0


# ---------------------------------------------------------------- convolution

@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('case', CONV_CASES)
def test_conv_fast_matches_naive(fast, case, dtype):
    x, w, b, conv_param = conv_case(case, dtype)
    out_fast, cache_fast = fast.conv_forward_fast(x, w, b, conv_param)
    # The naive layers in float64 are the reference for both dtypes.
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    out_naive, cache_naive = layers.conv_forward_naive(x64, w64, b64, conv_param)
    assert out_fast.dtype == dtype
    assert_close(out_fast, out_naive, RTOL[dtype])

    dout = np.random.default_rng(5).standard_normal(out_naive.shape)
    dx, dw, db = fast.conv_backward_fast(dout.astype(dtype), cache_fast)
    dx_naive, dw_naive, db_naive = layers.conv_backward_naive(dout, cache_naive)
    for got, expected in ((dx, dx_naive), (dw, dw_naive), (db, db_naive)):
        assert got.dtype == dtype
        assert_close(got, expected, RTOL[dtype])


def test_conv_fast_aliases(fast):
    assert fast.conv_forward_fast is fast.conv_forward_im2col
    assert fast.conv_backward_fast is fast.conv_backward_im2col


@pytest.mark.parametrize('num_threads', [1, 2, 3])
@pytest.mark.parametrize('chunk_bytes', [1, 8000, 12000, 10 ** 9])
def test_conv_fast_is_independent_of_threads_and_chunks(fast, monkeypatch, num_threads,
                                                        chunk_bytes):
    """The images are shared among threads and processed in chunks; any split
    (one image at a time, uneven chunks, the whole batch, more threads than
    cores) gives the same result."""
    monkeypatch.setattr(fast, '_NUM_THREADS', num_threads)
    monkeypatch.setattr(fast, '_CHUNK_BYTES', chunk_bytes)      # 3744 bytes per image here
    x, w, b, conv_param = conv_case((7, 2, 6, 5, 3, 3, 2, 1, 1), np.float64, seed=6)
    out, cache = fast.conv_forward_fast(x, w, b, conv_param)
    out_naive, cache_naive = layers.conv_forward_naive(x, w, b, conv_param)
    assert_close(out, out_naive, 1e-10)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    for got, expected in zip(fast.conv_backward_fast(dout, cache),
                             layers.conv_backward_naive(dout, cache_naive)):
        assert_close(got, expected, 1e-10)


@pytest.mark.parametrize('tile_macs', [1, 5000, 1 << 30])
def test_conv_fast_is_independent_of_the_tiles(fast, monkeypatch, tile_macs):
    """The products are cut into column tiles, with a partial last tile when
    the width does not divide the columns; any width gives the same result."""
    monkeypatch.setattr(fast, '_TILE_MACS', tile_macs)
    x, w, b, conv_param = conv_case((3, 3, 9, 7, 4, 3, 3, 1, 1), np.float64, seed=8)
    out, cache = fast.conv_forward_fast(x, w, b, conv_param)
    out_naive, cache_naive = layers.conv_forward_naive(x, w, b, conv_param)
    assert_close(out, out_naive, 1e-10)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    for got, expected in zip(fast.conv_backward_fast(dout, cache),
                             layers.conv_backward_naive(dout, cache_naive)):
        assert_close(got, expected, 1e-10)


def test_conv_fast_accepts_non_contiguous_inputs(fast):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 8, 3, 2)).transpose(3, 2, 1, 0)        # (2, 3, 8, 9), a view
    w = rng.standard_normal((3, 3, 4, 2))[:, :, ::2, :]                # (3, 3, 2, 2), a view
    b = rng.standard_normal(6)[::2]
    conv_param = {'stride': 2, 'pad': 1}
    out, cache = fast.conv_forward_fast(x, w, b, conv_param)
    out_naive, cache_naive = layers.conv_forward_naive(x, w, b, conv_param)
    assert_close(out, out_naive, 1e-10)
    dout = rng.standard_normal(out.shape[::-1]).T                      # a transposed view
    for got, expected in zip(fast.conv_backward_fast(dout, cache),
                             layers.conv_backward_naive(dout, cache_naive)):
        assert_close(got, expected, 1e-10)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9),
       F=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 3),
       fh=st.integers(1, 9), fw=st.integers(1, 9), seed=st.integers(0, 2 ** 16))
def test_conv_fast_matches_naive_on_random_shapes(N, C, H, W, F, stride, pad, fh, fw, seed):
    if _IMPORT_ERROR is not None:
        pytest.fail('cs231n.im2col_cython is not built (run `make ext`): %s' % _IMPORT_ERROR,
                    pytrace=False)
    HH, WW = min(fh, H + 2 * pad), min(fw, W + 2 * pad)
    x, w, b, conv_param = conv_case((N, C, H, W, F, HH, WW, stride, pad), np.float64, seed)
    out, cache = _fast.conv_forward_fast(x, w, b, conv_param)
    out_naive, cache_naive = layers.conv_forward_naive(x, w, b, conv_param)
    assert_close(out, out_naive, 1e-10)
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    for got, expected in zip(_fast.conv_backward_fast(dout, cache),
                             layers.conv_backward_naive(dout, cache_naive)):
        assert_close(got, expected, 1e-10)


# ---------------------------------------------------------------- max pooling

# (N, C, H, W, pool_height, pool_width, stride)
POOL_CASES = [
    (2, 3, 8, 8, 2, 2, 2),      # reshape: square, non-overlapping, tiling
    (1, 2, 6, 9, 3, 3, 3),      # reshape, non-square input
    (3, 2, 32, 32, 2, 2, 2),    # reshape, the convnet's pool
    (2, 3, 7, 8, 2, 2, 2),      # does not tile: im2col
    (2, 2, 9, 7, 3, 3, 2),      # overlapping: im2col
    (1, 3, 8, 10, 2, 3, 2),     # rectangular: im2col
    (2, 1, 9, 9, 3, 2, 3),      # rectangular, gaps
    (1, 2, 5, 6, 1, 1, 1),      # 1x1
    (2, 2, 6, 7, 4, 4, 1),      # large overlap
]


def pool_case(case, dtype, seed=0, ties=False):
    N, C, H, W, ph, pw, stride = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    if ties:
        x = np.round(x)          # many regions hold their maximum several times
    pool_param = {'pool_height': ph, 'pool_width': pw, 'stride': stride}
    return x.astype(dtype), pool_param


@pytest.mark.parametrize('ties', [False, True])
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('case', POOL_CASES)
def test_max_pool_fast_matches_naive(fast, case, dtype, ties):
    x, pool_param = pool_case(case, dtype, ties=ties)
    out, cache = fast.max_pool_forward_fast(x, pool_param)
    out_naive, cache_naive = layers.max_pool_forward_naive(x, pool_param)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, out_naive)
    dout = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    dx = fast.max_pool_backward_fast(dout, cache)
    dx_naive = layers.max_pool_backward_naive(dout, cache_naive)
    assert dx.dtype == dx_naive.dtype
    assert_close(dx, dx_naive, RTOL[dtype])


@pytest.mark.parametrize('case', POOL_CASES)
def test_max_pool_im2col_path_matches_naive_everywhere(fast, case):
    """The im2col method also handles the cases the reshape method takes."""
    x, pool_param = pool_case(case, np.float64, seed=10, ties=True)
    out, cache = fast.max_pool_forward_im2col(x, pool_param)
    out_naive, cache_naive = layers.max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, out_naive)
    dout = np.random.default_rng(11).standard_normal(out.shape)
    assert_close(fast.max_pool_backward_im2col(dout, cache),
                 layers.max_pool_backward_naive(dout, cache_naive), 1e-12)


def test_max_pool_fast_picks_the_method(fast):
    x = np.zeros((1, 1, 4, 4))
    same = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    overlapping = {'pool_height': 2, 'pool_width': 2, 'stride': 1}
    assert fast.max_pool_forward_fast(x, same)[1][0] == 'reshape'
    assert fast.max_pool_forward_fast(x, overlapping)[1][0] == 'im2col'
    assert fast.max_pool_forward_fast(np.zeros((1, 1, 5, 4)), same)[1][0] == 'im2col'
