"""
im2col / col2im with numpy fancy indexing: a slower, pure-numpy version of
im2col_cython with exactly the same layout.

For an input x of shape (N, C, H, W), a receptive field (filter) of size
field_height x field_width (HH x WW), zero padding `padding` and step `stride`,
the output has H' x W' positions with
    H' = (H + 2*padding - HH) // stride + 1,   W' = (W + 2*padding - WW) // stride + 1.
The columns matrix cols has shape (C*HH*WW, N*H'*W'):
- row    r = c*HH*WW + ky*WW + kx     (the order of w.reshape(F, -1) for filters w (F, C, HH, WW))
- column j = n*H'*W' + oy*W' + ox     (image by image)
- cols[r, j] = x_padded[n, c, oy*stride + ky, ox*stride + kx], where x_padded is x
  with `padding` zeros on every side of each image.
"""
import numpy as np


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """
    Index arrays that pick every receptive field out of a padded input.

    Inputs:
    - x_shape: shape (N, C, H, W) of the (unpadded) input
    - field_height, field_width: size HH, WW of the receptive field
    - padding: zeros added on every side of each image
    - stride: step between neighbouring receptive fields

    Returns a tuple (k, i, j) of integer arrays such that
    x_padded[:, k, i, j] has shape (N, C*HH*WW, H'*W') and
    x_padded[n, k[r, 0], i[r, p], j[r, p]] is the entry of row r of the receptive
    field of output position p = oy*W' + ox in image n:
    - k: shape (C*HH*WW, 1), the channel c of each row
    - i: shape (C*HH*WW, H'*W'), the padded row oy*stride + ky
    - j: shape (C*HH*WW, H'*W'), the padded column ox*stride + kx
    """
    N, C, H, W = x_shape
    if (H + 2 * padding - field_height) < 0 or (W + 2 * padding - field_width) < 0:
        raise ValueError('the receptive field is larger than the padded input')
    out_height = (H + 2 * padding - field_height) // stride + 1
    out_width = (W + 2 * padding - field_width) // stride + 1

    # Offsets inside the receptive field, one per row r = (c, ky, kx).
    ky = np.tile(np.repeat(np.arange(field_height), field_width), C)      # (C*HH*WW,)
    kx = np.tile(np.arange(field_width), field_height * C)                # (C*HH*WW,)
    # Top-left corner of each receptive field, one per output position p = (oy, ox).
    top = stride * np.repeat(np.arange(out_height), out_width)            # (H'*W',)
    left = stride * np.tile(np.arange(out_width), out_height)             # (H'*W',)

    i = ky[:, None] + top[None, :]                                        # (C*HH*WW, H'*W')
    j = kx[:, None] + left[None, :]                                       # (C*HH*WW, H'*W')
    k = np.repeat(np.arange(C), field_height * field_width)[:, None]      # (C*HH*WW, 1)
    return k, i, j


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """
    Lay out every receptive field of x as a column (numpy version of im2col_cython).

    Inputs:
    - x: input of shape (N, C, H, W)
    - field_height, field_width, padding, stride: as in get_im2col_indices

    Returns:
    - cols: array of shape (C*HH*WW, N*H'*W'), laid out as described at the top
      of this file, with the dtype of x
    """
    p = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode='constant')
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
    fields = x_padded[:, k, i, j]                          # (N, C*HH*WW, H'*W')
    rows = fields.shape[1]
    return fields.transpose(1, 0, 2).reshape(rows, -1)     # (C*HH*WW, N*H'*W')


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """
    Adjoint of im2col_indices: add every column back onto its receptive field.

    Inputs:
    - cols: array of shape (C*HH*WW, N*H'*W'), laid out as im2col_indices returns it
    - x_shape: shape (N, C, H, W) of the input the columns were taken from
    - field_height, field_width, padding, stride: as given to im2col_indices

    Returns:
    - x: array of shape (N, C, H, W); each entry is the sum of all the entries
      of cols that were copied from it (entries from the padding are dropped)
    """
    N, C, H, W = x_shape
    p = padding
    x_padded = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    fields = cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)   # (N, C*HH*WW, H'*W')
    # np.add.at accumulates repeated indices (overlapping receptive fields);
    # x_padded[:, k, i, j] += fields would keep only one of them.
    np.add.at(x_padded, (slice(None), k, i, j), fields)
    return x_padded[:, :, p:p + H, p:p + W]
