"""
Fast convolution and max pooling layers, with the same inputs, outputs and
gradients as the naive layers in layers.py.

The convolution is a matrix product: im2col (im2col_cython.pyx) lays out every
receptive field of the input as a column of a matrix cols, and the filters
multiply all the columns at once; the backward pass is two more products and
col2im, the adjoint of im2col:

    out  = w_rows.dot(cols)          (F, K) x (K, P) -> (F, P)     per image
    dw   = dout.dot(cols.T)          (F, P) x (P, K) -> (F, K)     summed over images
    dx   = col2im(w_rows.T.dot(dout))                (K, P) -> (C, H, W)

with K = C*HH*WW filter taps and P = H'*W' output positions. How the work is
organised matters as much as the arithmetic:
- Each thread (one per core) takes its own share of the images and does all
  the work for them: im2col, the products and col2im. The columns of an image
  are made, used and dropped while they sit in that core's cache.
- The products are cut into tiles of a few dozen columns. numpy's BLAS
  (OpenBLAS) runs such small products on the calling thread, so the threads
  never wait for one another inside BLAS; large products would each be split
  over all cores and synchronise them many times per image.
- The bias rides along in the product: cols gets an extra row of ones and the
  filters an extra column holding the bias (the "bias trick"), so the forward
  pass never adds it separately and the backward pass gets db from the same
  product as dw.
Max pooling views the input as regions when they are square, do not overlap
and tile the input (the "reshape trick"), and goes through im2col otherwise.

The Cython extension must be built first:
    cd cs231n; python setup.py build_ext --inplace
"""
import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from numpy.lib.stride_tricks import as_strided

try:
    from cs231n.im2col_cython import im2col_cython, col2im_cython, _im2col_into, _col2im_into
except ImportError as error:  # pragma: no cover - depends on the build
    raise ImportError(
        'The Cython extension cs231n.im2col_cython is not built: run '
        '"python setup.py build_ext --inplace" in the cs231n directory '
        '(original error: %s)' % error) from error


def _default_num_threads():
    """The usable CPUs, capped by the usual thread-count variables
    (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) when they are set,
    so that the layers respect the limit given to BLAS."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        try:
            count = min(count, int(os.environ[name]))
        except (KeyError, ValueError):
            pass
    return max(1, count)


# Threads that share the images of a batch.
_NUM_THREADS = _default_num_threads()
# Size of the im2col columns a thread makes and uses at a time, in bytes: whole
# images, as many as fit (at least one). About the size of a core's L2 cache.
_CHUNK_BYTES = 2 << 20
# OpenBLAS runs a product of fewer than 2**19 multiply-adds on one thread.
_TILE_MACS = 1 << 19

_pool = None          # worker threads, created on first use
_pool_key = None      # (process id, number of workers) the pool was made for


def _run_on_threads(work, num_images):
    """
    Call work(first, last) on consecutive image ranges [first, last) that cover
    range(num_images), one range per thread (up to _NUM_THREADS), and return
    the list of their results. The calling thread takes the first range. work
    must spend its time in code that releases the GIL (numpy, the Cython loops)
    for the threads to run at the same time.
    """
    global _pool, _pool_key
    parts = max(1, min(_NUM_THREADS, num_images))
    if parts == 1:
        return [work(0, num_images)]
    key = (os.getpid(), _NUM_THREADS - 1)
    if _pool_key != key:              # first use, a forked child, or a new thread count
        if _pool is not None and _pool_key[0] == key[0]:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix='cs231n-fast-layers')
        _pool_key = key
    bounds = [num_images * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(work, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    try:
        first = work(bounds[0], bounds[1])
    finally:
        wait(futures)                 # never leave a thread writing into our arrays
    return [first] + [future.result() for future in futures]


def _tile_width(rows, other):
    """
    Columns per tile for products whose other two dimensions are rows and
    other: the largest power of two (at least 16) that keeps a tile's product
    below _TILE_MACS multiply-adds.
    """
    width = 16
    while rows * other * width * 2 < _TILE_MACS:
        width *= 2
    return width


def _column_tiles(a, width):
    """
    Cut the columns of a (m, n) matrix with contiguous rows into tiles.

    Returns a tuple of:
    - tiles: view of shape (n // width, m, width); tiles[t] = a[:, t*width:(t+1)*width]
    - rest: view a[:, (n // width) * width:] of the remaining n % width columns
    """
    m, n = a.shape
    count = n // width
    tiles = as_strided(a, shape=(count, m, width),
                       strides=(width * a.itemsize, a.strides[0], a.itemsize))
    return tiles, a[:, count * width:]


def _tiled_matmul(a, b_tiles, b_rest, out_tiles, out_rest):
    """out = a.dot(b), tile by tile: a (m, k), b (k, n) and out (m, n) given as
    their _column_tiles."""
    np.matmul(a, b_tiles, out=out_tiles)
    if b_rest.shape[1]:
        np.matmul(a, b_rest, out=out_rest)


def _compute_dtype(*arrays):
    """float32 if every array is float32, else float64."""
    if all(np.asarray(a).dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _conv_output_size(size, field, pad, stride):
    """Positions of a field of length `field` sliding with `stride` over an axis
    of length `size` padded by `pad` zeros on both sides."""
    if stride <= 0:
        raise ValueError('the stride must be positive, got %d' % stride)
    if size + 2 * pad < field:
        raise ValueError('a filter of size %d does not fit in an input of size %d '
                         'padded by %d' % (field, size, pad))
    return (size + 2 * pad - field) // stride + 1


def _chunks(first, last, bytes_per_image):
    """
    Split the images [first, last) into consecutive (start, stop) chunks of
    nearly equal size, each at most _CHUNK_BYTES // bytes_per_image images
    (but at least one).
    """
    most = max(1, _CHUNK_BYTES // bytes_per_image)
    count = max(1, -(-(last - first) // most))                # ceil
    bounds = [first + (last - first) * i // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def conv_forward_im2col(x, w, b, conv_param):
    """
    Fast convolution (cross-correlation) forward pass, equal to conv_forward_naive.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - w: filter weights of shape (F, C, HH, WW)
    - b: biases of shape (F,)
    - conv_param: dictionary with the keys 'stride' and 'pad'

    Returns a tuple of:
    - out: output of shape (N, F, H', W'), where
      H' = 1 + (H + 2 * pad - HH) // stride and W' = 1 + (W + 2 * pad - WW) // stride;
      float32 if x, w and b are all float32, else float64
    - cache: (x, w, b, conv_param), with x, w and b in that dtype, for
      conv_backward_im2col
    """
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_h = _conv_output_size(H, HH, pad, stride)
    out_w = _conv_output_size(W, WW, pad, stride)
    P = out_h * out_w                     # output positions per image
    K = C * HH * WW                       # filter taps: rows of im2col

    dtype = _compute_dtype(x, w, b)
    x = np.ascontiguousarray(x, dtype=dtype)
    w = np.asarray(w, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    # The filters as rows, plus the bias as an extra column: (F, K + 1).
    w_aug = np.empty((F, K + 1), dtype=dtype)
    w_aug[:, :K] = w.reshape(F, K)
    w_aug[:, K] = b

    out = np.empty((N, F, out_h, out_w), dtype=dtype)
    out_flat = out.reshape(N, F, P)
    width = _tile_width(K + 1, F)

    def work(first, last):                # images first..last-1, on one thread
        chunks = _chunks(first, last, (K + 1) * P * dtype.itemsize)
        per_chunk = max(stop - start for start, stop in chunks)
        cols = np.empty((K + 1, per_chunk * P), dtype=dtype)   # im2col, plus ones
        cols[K] = 1
        prod = np.empty((F, per_chunk * P), dtype=dtype)       # w_aug.dot(cols)
        tiles = {}                        # tiles of cols and prod, by images per chunk
        for start, stop in chunks:
            n = stop - start
            if n not in tiles:
                tiles[n] = (_column_tiles(cols[:, :n * P], width)
                            + _column_tiles(prod[:, :n * P], width))
            cols_tiles, cols_rest, prod_tiles, prod_rest = tiles[n]
            _im2col_into(x[start:stop], cols[:K, :n * P], HH, WW, pad, stride)
            _tiled_matmul(w_aug, cols_tiles, cols_rest, prod_tiles, prod_rest)
            # prod[f, i*P + p] is out[start + i, f, p].
            out_flat[start:stop] = prod[:, :n * P].reshape(F, n, P).transpose(1, 0, 2)

    _run_on_threads(work, N)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_im2col(dout, cache):
    """
    Fast convolution backward pass, equal to conv_backward_naive.

    Inputs:
    - dout: upstream gradient of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from conv_forward_im2col

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    - dw: gradient with respect to w, of shape (F, C, HH, WW)
    - db: gradient with respect to b, of shape (F,)
    All three are float32 if x, w and dout are float32, else float64.
    """
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_h, out_w = dout.shape[2], dout.shape[3]
    P = out_h * out_w
    K = C * HH * WW

    dtype = _compute_dtype(x, w, dout)
    x = np.ascontiguousarray(x, dtype=dtype)
    w_cols = np.asarray(w, dtype=dtype).reshape(F, K).T       # (K, F)
    dout_flat = np.asarray(dout, dtype=dtype).reshape(N, F, P)
    dx = np.empty((N, C, H, W), dtype=dtype)
    width = _tile_width(K + 1, F)

    def work(first, last):                # images first..last-1, on one thread
        chunks = _chunks(first, last, (K + 1) * P * dtype.itemsize)
        per_chunk = max(stop - start for start, stop in chunks)
        cols = np.empty((K + 1, per_chunk * P), dtype=dtype)   # im2col, plus ones
        cols[K] = 1
        d = np.empty((F, per_chunk * P), dtype=dtype)          # dout, as columns
        dcols = np.empty((K, per_chunk * P), dtype=dtype)      # gradient of cols
        # Gradient of the augmented filters, transposed: (K + 1, F). Rows 0..K-1
        # are dw.T; row K is db, since the last row of cols is all ones.
        dw_aug_t = np.zeros((K + 1, F), dtype=dtype)
        tiles = {}
        for start, stop in chunks:
            n = stop - start
            if n not in tiles:
                cols_tiles, cols_rest = _column_tiles(cols[:, :n * P], width)
                d_tiles, d_rest = _column_tiles(d[:, :n * P], width)
                tiles[n] = (cols_tiles, cols_rest, d_tiles, d_rest,
                            *_column_tiles(dcols[:, :n * P], width),
                            np.empty((len(cols_tiles), K + 1, F), dtype=dtype))
            (cols_tiles, cols_rest, d_tiles, d_rest,
             dcols_tiles, dcols_rest, partial) = tiles[n]
            _im2col_into(x[start:stop], cols[:K, :n * P], HH, WW, pad, stride)
            # d[f, i*P + p] = dout[start + i, f, p], in the column order of cols.
            d[:, :n * P].reshape(F, n, P)[...] = dout_flat[start:stop].transpose(1, 0, 2)
            # dw_aug_t += cols.dot(d.T), as a sum over the tiles.
            np.matmul(cols_tiles, d_tiles.transpose(0, 2, 1), out=partial)
            dw_aug_t += partial.sum(axis=0)
            if cols_rest.shape[1]:
                dw_aug_t += cols_rest.dot(d_rest.T)
            # dcols = w_rows.T.dot(d), then back onto the images.
            _tiled_matmul(w_cols, d_tiles, d_rest, dcols_tiles, dcols_rest)
            _col2im_into(dcols[:, :n * P], dx[start:stop], HH, WW, pad, stride)
        return dw_aug_t

    dw_aug_t = sum(_run_on_threads(work, N))
    dw = np.ascontiguousarray(dw_aug_t[:K].T).reshape(F, C, HH, WW)
    db = dw_aug_t[K].copy()
    return dx, dw, db


conv_forward_fast = conv_forward_im2col
conv_backward_fast = conv_backward_im2col


def max_pool_forward_fast(x, pool_param):
    """
    Fast max pooling forward pass, equal to max_pool_forward_naive.

    When the pooling regions are square, do not overlap and tile the input
    (pool_height == pool_width == stride, dividing H and W) it reshapes x;
    otherwise it goes through im2col.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - pool_param: dictionary with the keys 'pool_height', 'pool_width', 'stride'

    Returns a tuple of:
    - out: output of shape (N, C, H', W'), where
      H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride
    - cache: object to give to max_pool_backward_fast
    """
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    if ph == pw == stride and H % ph == 0 and W % pw == 0:
        out, reshape_cache = max_pool_forward_reshape(x, pool_param)
        return out, ('reshape', reshape_cache)
    out, im2col_cache = max_pool_forward_im2col(x, pool_param)
    return out, ('im2col', im2col_cache)


def max_pool_backward_fast(dout, cache):
    """
    Fast max pooling backward pass, equal to max_pool_backward_naive: the
    gradient of each region goes to its maximum (the first one on ties).

    Inputs:
    - dout: upstream gradient of shape (N, C, H', W')
    - cache: from max_pool_forward_fast

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    method, real_cache = cache
    if method == 'reshape':
        return max_pool_backward_reshape(dout, real_cache)
    if method == 'im2col':
        return max_pool_backward_im2col(dout, real_cache)
    raise ValueError('unknown pooling method %r' % (method,))


def max_pool_forward_reshape(x, pool_param):
    """
    Max pooling by reshaping, for square regions that tile the input.

    With s = pool_height = pool_width = stride, x is viewed (no copy) as
    x_reshaped of shape (N, C, H/s, s, W/s, s): x_reshaped[:, :, :, a, :, b]
    holds entry (a, b) of every region, and the output is the elementwise
    maximum of these s*s arrays.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - pool_param: 'pool_height' == 'pool_width' == 'stride' == s, dividing H and W

    Returns a tuple of:
    - out: output of shape (N, C, H/s, W/s)
    - cache: (x, out, pool_param)
    """
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    s = pool_param['stride']
    assert ph == pw == s, 'the reshape method needs square, non-overlapping regions'
    assert H % s == 0 and W % s == 0, 'the regions must tile the input'

    x_reshaped = x.reshape(N, C, H // s, s, W // s, s)
    out = x_reshaped[:, :, :, 0, :, 0].copy()                      # (N, C, H/s, W/s)
    for k in range(1, s * s):
        np.maximum(out, x_reshaped[:, :, :, k // s, :, k % s], out=out)
    cache = (x, out, pool_param)
    return out, cache


def max_pool_backward_reshape(dout, cache):
    """
    Backward pass of max_pool_forward_reshape: each region's gradient goes to
    its maximum, the first one in row-major order if several entries tie.

    Inputs:
    - dout: upstream gradient of shape (N, C, H/s, W/s)
    - cache: (x, out, pool_param) from max_pool_forward_reshape

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    x, out, pool_param = cache
    N, C, H, W = x.shape
    s = pool_param['stride']
    x_reshaped = x.reshape(N, C, H // s, s, W // s, s)
    dx = np.empty(x.shape, dtype=np.result_type(x, dout))
    dx_reshaped = dx.reshape(N, C, H // s, s, W // s, s)           # a view of dx
    found = np.zeros(out.shape, dtype=bool)    # regions whose maximum was met already
    for k in range(s * s):
        is_max = x_reshaped[:, :, :, k // s, :, k % s] == out       # (N, C, H/s, W/s)
        is_max &= ~found                        # only the first maximum of a region
        found |= is_max
        np.multiply(dout, is_max, out=dx_reshaped[:, :, :, k // s, :, k % s])
    return dx


def max_pool_forward_im2col(x, pool_param):
    """
    Max pooling through im2col, for any region size and stride.

    Each channel of each image is treated as a separate one-channel image, so
    that each column of im2col is one pooling region and each row one
    position inside the regions; the output is the elementwise maximum of the
    rows.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - pool_param: dictionary with the keys 'pool_height', 'pool_width', 'stride'

    Returns a tuple of:
    - out: output of shape (N, C, H', W'), where
      H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride
    - cache: (x, out, pool_param)
    """
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    out_h = _conv_output_size(H, ph, 0, stride)
    out_w = _conv_output_size(W, pw, 0, stride)

    cols = im2col_cython(x.reshape(N * C, 1, H, W), ph, pw, 0, stride)  # (ph*pw, N*C*H'*W')
    out = cols[0].copy()                           # columns in the order (n, c, i, j)
    for r in range(1, ph * pw):
        np.maximum(out, cols[r], out=out)
    out = out.reshape(N, C, out_h, out_w).astype(x.dtype, copy=False)
    cache = (x, out, pool_param)
    return out, cache


def max_pool_backward_im2col(dout, cache):
    """
    Backward pass of max_pool_forward_im2col: each region's gradient goes to
    its maximum, the first one in row-major order if several entries tie;
    where regions overlap, an input gets the sum over the regions it is the
    maximum of.

    Inputs:
    - dout: upstream gradient of shape (N, C, H', W')
    - cache: (x, out, pool_param) from max_pool_forward_im2col

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    x, out, pool_param = cache
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']

    cols = im2col_cython(x.reshape(N * C, 1, H, W), ph, pw, 0, stride)  # (ph*pw, N*C*H'*W')
    out_flat = out.reshape(-1).astype(cols.dtype, copy=False)
    dout_flat = dout.reshape(-1)
    dcols = np.empty(cols.shape, dtype=np.result_type(cols.dtype, x, dout))
    found = np.zeros(cols.shape[1], dtype=bool)    # regions whose maximum was met already
    for r in range(ph * pw):
        is_max = cols[r] == out_flat
        is_max &= ~found                           # only the first maximum of a region
        found |= is_max
        np.multiply(dout_flat, is_max, out=dcols[r])
    dx = col2im_cython(dcols, N * C, 1, H, W, ph, pw, 0, stride)
    return dx.reshape(N, C, H, W).astype(np.result_type(x, dout), copy=False)
