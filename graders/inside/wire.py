"""Frames and values that cross the sandbox boundary: JSON plus `.npy`, never pickle.

Imported by both sides: the trusted bridge (`graders.inside.wire`) and the sandboxed worker (`wire`).
Standard library and numpy only.

A frame on a pipe:

    MAGIC (4 bytes) | header length (u32) | number of arrays n (u32) | n array lengths (u64 each)
    | header (UTF-8 JSON object) | n `.npy` payloads

All integers are little-endian. The reader checks every length against its cap *before* reading,
so a hostile writer cannot make the trusted side allocate more than `max_bytes`.

Values inside the header (the bridge contract, docs/engine.md):

    None, bool, int (|x| < 2**63), float (nan/inf included), str, list   as themselves
    tuple              {"__tuple__": [...]}
    dict (str keys)    {"__dict__": {...}}
    numpy array        {"__array__": i}   payload i; dtype bool/int/uint/float only, exact ndarray
    numpy scalar       a 0-d array
    Handle             {"__handle__": id, "type": "module.Class"}

Every JSON object in a value is one of these tagged forms; anything else is rejected on decoding.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import select
import struct
from dataclasses import dataclass, field

import numpy as np

# A call target: 'package.module:attribute' or 'package.module:Class.attribute'.
TARGET = re.compile(r'^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$')

MAGIC = b'HW1\x01'
_PREFIX = struct.Struct('<4sII')
_LENGTH = struct.Struct('<Q')

ALLOWED_KINDS = 'biuf'          # bool, signed and unsigned int, float
MAX_HEADER_BYTES = 64 << 20     # JSON part of one frame
MAX_ARRAYS = 100_000            # arrays in one frame
MAX_DEPTH = 64                  # nesting of lists/tuples/dicts
MAX_NODES = 1_000_000           # values in one tree
MAX_INT = 2 ** 63
NPY_HEADER_LIMIT = 10_000       # numpy's own limit on an .npy header


class WireError(Exception):
    """A frame or value that breaks the format or the contract."""


class ChannelClosed(WireError):
    """The other end closed the pipe (EOF)."""


class FrameTooLarge(WireError):
    """A frame larger than the receiver accepts; raised by `send` before anything is written."""


@dataclass(frozen=True)
class Handle:
    """An object that stays in the worker. `session` identifies the worker process that owns it."""
    id: int
    type_name: str
    session: str | None = field(default=None, compare=False)

    def __repr__(self):
        return 'Handle(%d, %r)' % (self.id, self.type_name)


class NotPlain(Exception):
    """A value outside the contract (internal to encoding)."""


# -- values --------------------------------------------------------------------------------------

def allowed_array(value) -> bool:
    """An exact numpy array (no subclass) of a plain numeric dtype."""
    return (type(value) is np.ndarray and value.dtype.kind in ALLOWED_KINDS
            and value.dtype.fields is None and value.dtype.subdtype is None)


def encode(value, arrays: list, *, on_handle=None):
    """The JSON tree of a plain value; arrays are appended to `arrays`. Raises NotPlain.

    Exact types only (a subclass of int, list or ndarray is not plain), so no student code runs while
    encoding. Handle instances may appear only with `on_handle`, which is called with each one (and
    may raise to refuse it).
    """
    return _encode(value, arrays, on_handle, 0, [MAX_NODES])


def _encode(value, arrays, on_handle, depth, budget):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise NotPlain('too large or too deeply nested')
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        if -MAX_INT <= value < MAX_INT:
            return value
        raise NotPlain('int out of range')
    if kind is float:
        return value
    if kind is list:
        return [_encode(v, arrays, on_handle, depth + 1, budget) for v in value]
    if kind is tuple:
        return {'__tuple__': [_encode(v, arrays, on_handle, depth + 1, budget) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise NotPlain('dict with non-str keys')
        return {'__dict__': {k: _encode(v, arrays, on_handle, depth + 1, budget) for k, v in value.items()}}
    if issubclass(kind, np.generic):  # (not isinstance: that may run a hostile __class__ property)
        value = np.asarray(value)  # a numpy scalar crosses as a 0-d array
    if allowed_array(value):
        arrays.append(value)
        return {'__array__': len(arrays) - 1}
    if on_handle is not None and kind is Handle:
        on_handle(value)
        return {'__handle__': value.id, 'type': value.type_name}
    raise NotPlain('%s is not a plain value' % type_name(value))


def decode(tree, arrays: list, resolve_handle):
    """The value of a JSON tree; `resolve_handle(id, type_name)` turns handle references into objects.

    Strict: unknown tags, extra keys, bad array indices or too deep nesting raise WireError.
    """
    return _decode(tree, arrays, resolve_handle, 0)


def _decode(tree, arrays, resolve_handle, depth):
    if depth > MAX_DEPTH:
        raise WireError('value nested too deeply')
    kind = type(tree)
    if tree is None or kind in (bool, int, float, str):
        return tree
    if kind is list:
        return [_decode(v, arrays, resolve_handle, depth + 1) for v in tree]
    if kind is not dict:
        raise WireError('unexpected JSON value of type %s' % kind.__name__)
    if len(tree) == 1:
        (tag, body), = tree.items()
        if tag == '__tuple__' and type(body) is list:
            return tuple(_decode(v, arrays, resolve_handle, depth + 1) for v in body)
        if tag == '__dict__' and type(body) is dict:
            return {k: _decode(v, arrays, resolve_handle, depth + 1) for k, v in body.items()}
        if tag == '__array__' and type(body) is int and 0 <= body < len(arrays):
            return arrays[body]
    elif set(tree) == {'__handle__', 'type'} and type(tree['__handle__']) is int \
            and type(tree['type']) is str:
        return resolve_handle(tree['__handle__'], tree['type'])
    raise WireError('unknown or malformed tagged value %s' % _preview(tree))


def type_name(value) -> str:
    """'module.QualName' of a value's type, safely (a hostile metaclass may lie or raise)."""
    try:
        cls = type(value)
        name = type.__getattribute__(cls, '__qualname__')
        module = type.__getattribute__(cls, '__module__')
        text = '%s.%s' % (module, name) if module not in (None, 'builtins') else str(name)
        return text if type(text) is str else '?'
    except Exception:
        return '?'


def _preview(obj, limit: int = 120) -> str:
    text = json.dumps(obj, default=str)
    return text if len(text) <= limit else text[:limit] + '...'


# -- .npy payloads -------------------------------------------------------------------------------

def npy_parts(array: np.ndarray) -> tuple[bytes, memoryview]:
    """The .npy header and a zero-copy view of the data (C order) of an allowed array."""
    if not array.flags.c_contiguous:
        array = array.copy(order='C')  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, np.lib.format.header_data_from_array_1_0(array))
    data = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b'')
    return header.getvalue(), data


def read_npy(payload: bytearray) -> np.ndarray:
    """A writable array backed by `payload`; only plain numeric dtypes, exact sizes."""
    stream = io.BytesIO(payload)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, NPY_HEADER_LIMIT)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, NPY_HEADER_LIMIT)
        else:
            raise WireError('unsupported .npy version %s' % (version,))
    except WireError:
        raise
    except Exception as err:  # numpy raises ValueError/TypeError/SyntaxError on a bad header
        raise WireError('bad .npy header: %s' % err) from None
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.hasobject:
        raise WireError('array dtype %s is not allowed (bool, int, uint and float only)' % dtype)
    if not all(type(n) is int and n >= 0 for n in shape):
        raise WireError('bad array shape %s' % (shape,))
    count = math.prod(shape)
    offset = stream.tell()
    if len(payload) - offset != count * dtype.itemsize:
        raise WireError('array payload has %d bytes, shape %s needs %d'
                        % (len(payload) - offset, shape, count * dtype.itemsize))
    flat = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order='F' if fortran else 'C')


# -- frames on pipes -----------------------------------------------------------------------------

def send(fd: int, header: dict, arrays: list, wait=None, max_bytes: int | None = None):
    """Write one frame. `wait(fd, writing=True)` is called whenever a non-blocking fd is full.

    A frame over `max_bytes` raises FrameTooLarge before anything is written.
    """
    body = json.dumps(header, allow_nan=True, separators=(',', ':')).encode()
    payloads = [npy_parts(a) for a in arrays]
    sizes = [len(h) + d.nbytes for h, d in payloads]
    if max_bytes is not None and len(body) + sum(sizes) > max_bytes:
        raise FrameTooLarge('the result is %d bytes, more than the limit of %d bytes'
                            % (len(body) + sum(sizes), max_bytes))
    prefix = _PREFIX.pack(MAGIC, len(body), len(arrays)) + b''.join(_LENGTH.pack(n) for n in sizes)
    parts = [prefix, body] + [p for pair in payloads for p in pair]
    for part in parts:
        _write_all(fd, memoryview(part), wait)


def recv(fd: int, max_bytes: int, wait=None) -> tuple[dict, list]:
    """Read one frame: (header object, arrays). Raises ChannelClosed on EOF, WireError if malformed.

    `max_bytes` caps the frame's total size; `wait(fd, writing=False)` is called whenever a
    non-blocking fd has nothing to read yet.
    """
    magic, header_len, n_arrays = _PREFIX.unpack(_read_exact(fd, _PREFIX.size, wait, eof_ok=True))
    if magic != MAGIC:
        raise WireError('not a frame (bad magic %r): something else wrote to the channel' % magic)
    if header_len > min(MAX_HEADER_BYTES, max_bytes) or n_arrays > MAX_ARRAYS:
        raise WireError('frame header too large (%d bytes, %d arrays)' % (header_len, n_arrays))
    sizes = [_LENGTH.unpack_from(_read_exact(fd, _LENGTH.size, wait))[0] for _ in range(n_arrays)]
    total = header_len + sum(sizes)
    if total > max_bytes:
        raise WireError('frame of %d bytes exceeds the limit of %d bytes' % (total, max_bytes))
    try:
        header = json.loads(bytes(_read_exact(fd, header_len, wait)).decode('utf-8'))
    except (ValueError, RecursionError) as err:
        raise WireError('frame header is not valid JSON: %s' % err) from None
    if type(header) is not dict:
        raise WireError('frame header is not a JSON object')
    arrays = [read_npy(_read_exact(fd, n, wait)) for n in sizes]
    return header, arrays


def _read_exact(fd: int, n: int, wait, eof_ok: bool = False) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        try:
            chunk = os.readv(fd, [view[got:]])
        except BlockingIOError:
            (wait or _block)(fd, False)
            continue
        if chunk == 0:
            if got == 0 and eof_ok:
                raise ChannelClosed('channel closed')
            raise ChannelClosed('channel closed in the middle of a frame')
        got += chunk
    return buf


def _write_all(fd: int, view: memoryview, wait):
    while view.nbytes:
        try:
            done = os.write(fd, view)
        except BlockingIOError:
            (wait or _block)(fd, True)
            continue
        view = view[done:]


def _block(fd: int, writing: bool):
    """Default wait: block until the fd is ready (used on the worker side)."""
    if writing:
        select.select([], [fd], [])
    else:
        select.select([fd], [], [])


def widen_pipe(fd: int, size: int = 1 << 20):
    """Grow a pipe's buffer (Linux) so that large arrays need fewer wake-ups; harmless elsewhere."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, 'F_SETPIPE_SZ', 1031), size)
    except (OSError, ImportError):
        pass
