# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""
im2col / col2im in Cython: the data movement behind the fast convolution.

A convolution of x (N, C, H, W) with filters w (F, C, HH, WW) becomes a single
matrix product once every receptive field of x is laid out as a column:

    cols = im2col_cython(x, HH, WW, pad, stride)     # (C*HH*WW, N*H'*W')
    out  = w.reshape(F, -1).dot(cols)                # (F, N*H'*W')

where H' = (H + 2*pad - HH) // stride + 1 and W' = (W + 2*pad - WW) // stride + 1.

Layout of cols (the same as in im2col.py):
- row    r = c*HH*WW + ky*WW + kx     (channel, filter row, filter column:
                                       the order of w.reshape(F, -1))
- column j = n*H'*W' + oy*W' + ox     (image, output row, output column)
- cols[r, j] = x[n, c, oy*stride + ky - pad, ox*stride + kx - pad],
  or 0 where that position falls into the zero padding.
The columns are grouped by image: the columns of images n0..n1-1 form the
block j in [n0*H'*W', n1*H'*W'), which is what im2col_cython(x[n0:n1], ...)
returns. The fast layers use this to process a batch a few images at a time.

col2im_cython is the adjoint (transpose) of im2col_cython: every entry of cols
is added back onto the input position it was copied from, so a position shared
by several receptive fields receives the sum of their entries, and entries
from the padding are dropped. That is the backward pass of im2col:
dx = col2im(dcols).

Both work in float32 or float64 (the dtype of their input; any other dtype is
converted to float64). The loops run without the GIL, so other Python threads
can run im2col or col2im on other images at the same time.
"""
import numpy as np

from cython cimport floating
from libc.string cimport memcpy, memset


def _output_size(Py_ssize_t size, Py_ssize_t field, Py_ssize_t padding, Py_ssize_t stride):
    """
    Number of positions of a window of length `field` sliding with step
    `stride` over an axis of length `size` padded with `padding` zeros on both
    sides: (size + 2*padding - field) // stride + 1.
    """
    if stride <= 0:
        raise ValueError('stride must be positive, got %d' % stride)
    if padding < 0:
        raise ValueError('padding must be non-negative, got %d' % padding)
    if field <= 0 or size + 2 * padding < field:
        raise ValueError('a field of %d does not fit in an axis of %d padded by %d'
                         % (field, size, padding))
    return (size + 2 * padding - field) // stride + 1


cdef inline void _valid_range(Py_ssize_t k, Py_ssize_t padding, Py_ssize_t stride,
                              Py_ssize_t size, Py_ssize_t out_size,
                              Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """
    For the filter offset k, the output positions o whose input position
    o*stride + k - padding lies inside the input [0, size) are lo <= o < hi
    (none when hi <= lo). The others read the zero padding.
    """
    cdef Py_ssize_t first = padding - k              # o*stride must be >= first
    cdef Py_ssize_t last = size - 1 + padding - k    # o*stride must be <= last
    lo[0] = 0 if first <= 0 else (first + stride - 1) // stride
    if last < 0:
        hi[0] = 0
    else:
        hi[0] = last // stride + 1
        if hi[0] > out_size:
            hi[0] = out_size
        if hi[0] < lo[0]:
            hi[0] = lo[0]


cdef void _im2col_row(const floating[:, :, :, ::1] x, floating[:, :] cols, Py_ssize_t r,
                      Py_ssize_t fh, Py_ssize_t fw, Py_ssize_t padding, Py_ssize_t stride,
                      Py_ssize_t out_h, Py_ssize_t out_w) noexcept nogil:
    """
    Fill row r of cols, i.e. the filter tap (c, ky, kx) with
    r = c*fh*fw + ky*fw + kx, seen from every output position of every image.

    - x: (N, C, H, W), C-contiguous
    - cols: (C*fh*fw, N*out_h*out_w), each row contiguous

    The row is written from left to right as N*out_h runs of out_w values,
    one per (image n, output row oy): zeros where the tap reads the padding,
    and between them, with stride 1, a contiguous copy of a piece of the row
    x[n, c, oy + ky - padding, :].
    """
    cdef Py_ssize_t N = x.shape[0], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t c = r // (fh * fw)
    cdef Py_ssize_t ky = (r // fw) % fh
    cdef Py_ssize_t kx = r % fw
    cdef Py_ssize_t n, oy, i, oy_lo, oy_hi, ox_lo, ox_hi, width
    cdef floating *dst = &cols[r, 0]
    cdef const floating *src

    _valid_range(ky, padding, stride, H, out_h, &oy_lo, &oy_hi)
    _valid_range(kx, padding, stride, W, out_w, &ox_lo, &ox_hi)
    width = ox_hi - ox_lo                            # entries read from x in each run
    for n in range(N):
        for oy in range(out_h):
            if oy < oy_lo or oy >= oy_hi or width == 0:
                memset(dst, 0, out_w * sizeof(floating))         # all padding
            else:
                src = &x[n, c, oy * stride + ky - padding, ox_lo * stride + kx - padding]
                for i in range(ox_lo):                          # left padding
                    dst[i] = 0
                if stride == 1:
                    memcpy(dst + ox_lo, src, width * sizeof(floating))
                else:
                    for i in range(width):
                        dst[ox_lo + i] = src[i * stride]
                for i in range(ox_hi, out_w):                   # right padding
                    dst[i] = 0
            dst += out_w                             # next run: (n, oy + 1) or (n + 1, 0)


cdef void _col2im_row(const floating[:, :] cols, floating[:, :, :, ::1] x, Py_ssize_t r,
                      Py_ssize_t fh, Py_ssize_t fw, Py_ssize_t padding, Py_ssize_t stride,
                      Py_ssize_t out_h, Py_ssize_t out_w) noexcept nogil:
    """
    Add row r of cols, the filter tap (c, ky, kx), back onto x: the adjoint of
    _im2col_row. Entries that im2col took from the padding are skipped.

    - cols: (C*fh*fw, N*out_h*out_w), each row contiguous
    - x: (N, C, H, W), C-contiguous, accumulated into
    """
    cdef Py_ssize_t N = x.shape[0], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t c = r // (fh * fw)
    cdef Py_ssize_t ky = (r // fw) % fh
    cdef Py_ssize_t kx = r % fw
    cdef Py_ssize_t n, oy, i, oy_lo, oy_hi, ox_lo, ox_hi, width
    cdef const floating *src
    cdef floating *dst

    _valid_range(ky, padding, stride, H, out_h, &oy_lo, &oy_hi)
    _valid_range(kx, padding, stride, W, out_w, &ox_lo, &ox_hi)
    width = ox_hi - ox_lo
    if width == 0:
        return
    for n in range(N):
        for oy in range(oy_lo, oy_hi):
            src = &cols[r, (n * out_h + oy) * out_w + ox_lo]
            dst = &x[n, c, oy * stride + ky - padding, ox_lo * stride + kx - padding]
            if stride == 1:
                for i in range(width):
                    dst[i] += src[i]
            else:
                for i in range(width):
                    dst[i * stride] += src[i]


def _im2col_into(const floating[:, :, :, ::1] x, floating[:, :] cols,
                 Py_ssize_t field_height, Py_ssize_t field_width,
                 Py_ssize_t padding, Py_ssize_t stride):
    """
    im2col of x into the preallocated cols, without allocating anything.
    Typed entry point for the fast layers: x and cols must have the same
    dtype, float32 or float64.

    Inputs:
    - x: (N, C, H, W), C-contiguous
    - cols: (C*HH*WW, N*H'*W') whose rows are contiguous (it may be a block of
      columns of a larger array, e.g. big[:, a:b])
    - field_height, field_width, padding, stride: as for im2col_cython
    """
    cdef Py_ssize_t out_h = _output_size(x.shape[2], field_height, padding, stride)
    cdef Py_ssize_t out_w = _output_size(x.shape[3], field_width, padding, stride)
    cdef Py_ssize_t r
    _check_cols(cols.shape[0], cols.shape[1], cols.strides[1], sizeof(floating),
                x.shape[0], x.shape[1], field_height, field_width, out_h, out_w)
    with nogil:
        for r in range(cols.shape[0]):
            _im2col_row(x, cols, r, field_height, field_width, padding, stride, out_h, out_w)


def _col2im_into(const floating[:, :] cols, floating[:, :, :, ::1] x,
                 Py_ssize_t field_height, Py_ssize_t field_width,
                 Py_ssize_t padding, Py_ssize_t stride):
    """
    Overwrite the preallocated x with col2im of cols, without allocating
    anything. Typed entry point for the fast layers: cols and x must have the
    same dtype, float32 or float64.

    Inputs:
    - cols: (C*HH*WW, N*H'*W') whose rows are contiguous
    - x: (N, C, H, W), C-contiguous; its previous content is ignored
    - field_height, field_width, padding, stride: as for col2im_cython
    """
    cdef Py_ssize_t out_h = _output_size(x.shape[2], field_height, padding, stride)
    cdef Py_ssize_t out_w = _output_size(x.shape[3], field_width, padding, stride)
    cdef Py_ssize_t r, n, c
    _check_cols(cols.shape[0], cols.shape[1], cols.strides[1], sizeof(floating),
                x.shape[0], x.shape[1], field_height, field_width, out_h, out_w)
    with nogil:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                memset(&x[n, c, 0, 0], 0, x.shape[2] * x.shape[3] * sizeof(floating))
        for r in range(cols.shape[0]):
            _col2im_row(cols, x, r, field_height, field_width, padding, stride, out_h, out_w)


def _check_cols(rows, columns, column_stride, itemsize, N, C, HH, WW, out_h, out_w):
    """Raise ValueError unless cols is (C*HH*WW, N*out_h*out_w) with contiguous rows."""
    if rows != C * HH * WW or columns != N * out_h * out_w:
        raise ValueError('cols has shape (%d, %d), expected (%d, %d)'
                         % (rows, columns, C * HH * WW, N * out_h * out_w))
    if columns > 1 and column_stride != itemsize:
        raise ValueError('the rows of cols must be contiguous')


def _as_float_array(a):
    """a as a C-contiguous array: float32 if it is float32, else float64."""
    a = np.asarray(a)
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    return np.ascontiguousarray(a, dtype=dtype)


def im2col_cython(x, int field_height, int field_width, int padding, int stride):
    """
    Lay out every receptive field of x as a column.

    Inputs:
    - x: input of shape (N, C, H, W)
    - field_height, field_width: size HH, WW of the receptive field (filter)
    - padding: number of zeros added on every side of each image
    - stride: step between neighbouring receptive fields, in both directions

    Returns:
    - cols: array of shape (C*HH*WW, N*H'*W'), where
      H' = (H + 2*padding - HH) // stride + 1 and W' = (W + 2*padding - WW) // stride + 1,
      cols[c*HH*WW + ky*WW + kx, n*H'*W' + oy*W' + ox]
          = x[n, c, oy*stride + ky - padding, ox*stride + kx - padding]  (0 in the padding).
      float32 if x is float32, else float64.
    """
    x = _as_float_array(x)
    if x.ndim != 4:
        raise ValueError('x must have shape (N, C, H, W), got %r' % (x.shape,))
    N, C, H, W = x.shape
    out_h = _output_size(H, field_height, padding, stride)
    out_w = _output_size(W, field_width, padding, stride)
    cols = np.empty((C * field_height * field_width, N * out_h * out_w), dtype=x.dtype)
    _im2col_into(x, cols, field_height, field_width, padding, stride)
    return cols


def col2im_cython(cols, int N, int C, int H, int W,
                  int field_height, int field_width, int padding, int stride):
    """
    Adjoint of im2col_cython: add every column back onto the receptive field
    it was taken from.

    Inputs:
    - cols: array of shape (C*HH*WW, N*H'*W'), laid out as im2col_cython returns it
    - N, C, H, W: shape of the input the columns were taken from
    - field_height, field_width, padding, stride: as given to im2col_cython

    Returns:
    - x: array of shape (N, C, H, W) where x[n, c, y, x] is the sum of the entries
      cols[c*HH*WW + ky*WW + kx, n*H'*W' + oy*W' + ox] over all (ky, kx, oy, ox)
      with oy*stride + ky - padding == y and ox*stride + kx - padding == x
      (entries that fell into the padding are dropped).
      float32 if cols is float32, else float64.
    """
    cols = _as_float_array(cols)
    if cols.ndim != 2:
        raise ValueError('cols must be 2-dimensional, got shape %r' % (cols.shape,))
    x = np.empty((N, C, H, W), dtype=cols.dtype)
    _col2im_into(cols, x, field_height, field_width, padding, stride)
    return x
