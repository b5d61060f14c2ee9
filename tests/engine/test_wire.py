"""The wire format on its own: exact round trips, and strict refusal of everything else."""
import io
import json
import os
import struct
import threading
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.inside import wire

with warnings.catch_warnings():
    warnings.simplefilter('ignore', PendingDeprecationWarning)
    MATRIX = np.asmatrix(np.eye(2))  # a subclass numpy itself discourages


def through_pipe(header, arrays, max_bytes=1 << 30):
    """send() on one end of a pipe (on a thread: frames exceed the pipe buffer), recv() on the other."""
    r, w = os.pipe()
    sender = threading.Thread(target=lambda: (wire.send(w, header, arrays), os.close(w)))
    sender.start()
    try:
        return wire.recv(r, max_bytes)
    finally:
        sender.join()
        os.close(r)


def raw_frame(header: bytes, payloads=(), magic=wire.MAGIC):
    return (struct.pack('<4sII', magic, len(header), len(payloads))
            + b''.join(struct.pack('<Q', len(p)) for p in payloads) + header + b''.join(payloads))


def recv_bytes(data: bytes, max_bytes=1 << 30):
    """recv() of raw bytes, written on a thread (they may exceed the pipe buffer, and the reader may
    stop early)."""
    r, w = os.pipe()

    def write():
        try:
            os.write(w, data)
        except BrokenPipeError:
            pass
        os.close(w)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        return wire.recv(r, max_bytes)
    finally:
        os.close(r)
        writer.join()


def npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def no_handles(i, name):
    raise AssertionError('no handles expected')


dtypes = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                   hnp.floating_dtypes())


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)),
       st.booleans())
def test_arrays_round_trip_exactly(array, transpose):
    if transpose:
        array = array.T  # Fortran order, or not contiguous at all
    arrays = []
    tree = wire.encode({'a': array, 'view': array[::2] if array.ndim else array}, arrays)
    header, got_arrays = through_pipe({'value': tree}, arrays)
    got = wire.decode(header['value'], got_arrays, no_handles)
    for key in ('a', 'view'):
        sent = array if key == 'a' or not array.ndim else array[::2]
        assert got[key].dtype == sent.dtype and got[key].shape == sent.shape
        np.testing.assert_array_equal(got[key], sent)


def test_large_arrays_stream_through_the_pipe():
    big = np.random.default_rng(0).standard_normal((512, 1024))  # 4 MiB, several pipe buffers
    header, arrays = through_pipe({'value': wire.encode(big, out := [])}, out)
    np.testing.assert_array_equal(wire.decode(header['value'], arrays, no_handles), big)


@pytest.mark.parametrize('value', [
    np.array([1, None], dtype=object), np.zeros(2, dtype=complex), np.array(['a']),
    np.zeros(2, dtype=[('x', 'f8')]), np.zeros(3).view(np.ma.MaskedArray), MATRIX,
    {1: 'int key'}, 2 ** 70, object(), type('MyInt', (int,), {})(3), type('MyList', (list,), {})(),
    wire.Handle(1, 'x'),  # a handle only where the caller allows handles
], ids=repr)
def test_values_outside_the_contract_are_not_plain(value):
    with pytest.raises(wire.NotPlain):
        wire.encode(value, [])


def test_self_referencing_list_is_not_plain():
    loop = []
    loop.append(loop)
    with pytest.raises(wire.NotPlain):
        wire.encode(loop, [])


@pytest.mark.parametrize('tree', [
    {'unknown': 1}, {'__tuple__': 1}, {'__array__': 5}, {'__array__': -1}, {'__dict__': [1]},
    {'__handle__': 'x', 'type': 't'}, {'__handle__': 1, 'type': 't', 'extra': 0},
    {'__tuple__': [], '__dict__': {}}, [{'a': 1}],
])
def test_strict_decoding(tree):
    with pytest.raises(wire.WireError):
        wire.decode(tree, [np.zeros(1)], lambda i, t: wire.Handle(i, t))


def test_deep_nesting_is_refused():
    tree = 1
    for _ in range(wire.MAX_DEPTH + 5):
        tree = [tree]
    with pytest.raises(wire.WireError):
        wire.decode(tree, [], no_handles)
    deep_json = ('[' * 100_000 + ']' * 100_000).encode()
    with pytest.raises(wire.WireError, match='JSON'):
        recv_bytes(raw_frame(deep_json))


def test_object_dtype_payload_is_refused_without_unpickling():
    with pytest.raises(wire.WireError, match='not allowed'):
        recv_bytes(raw_frame(b'{}', [npy(np.array([{'x': 1}], dtype=object), allow_pickle=True)]))


@pytest.mark.parametrize('payload', [
    npy(np.zeros(4))[:-8],                                   # short
    npy(np.zeros(4)) + b'\0' * 8,                            # long
    b'not an npy file at all',
    npy(np.zeros(2, dtype=[('x', 'f8')])),                   # structured
    npy(np.zeros(2, dtype=complex)),
], ids=['short', 'long', 'garbage', 'structured', 'complex'])
def test_bad_payloads_are_refused(payload):
    with pytest.raises(wire.WireError):
        recv_bytes(raw_frame(b'{}', [payload]))


def test_frames_are_checked_before_they_are_read():
    with pytest.raises(wire.WireError, match='bad magic'):
        recv_bytes(raw_frame(b'{}', magic=b'HTTP'))
    # A header that claims 4 GiB of arrays is refused from its 24 bytes alone.
    claim = struct.pack('<4sII', wire.MAGIC, 2, 1) + struct.pack('<Q', 4 << 30)
    with pytest.raises(wire.WireError, match='exceeds the limit'):
        recv_bytes(claim, max_bytes=1 << 30)
    with pytest.raises(wire.WireError, match='not a JSON object'):
        recv_bytes(raw_frame(b'[1]'))
    with pytest.raises(wire.ChannelClosed):
        recv_bytes(raw_frame(json.dumps({'a': 1}).encode())[:-3])
    with pytest.raises(wire.ChannelClosed):
        recv_bytes(b'')


def test_send_refuses_frames_over_the_limit_before_writing():
    r, w = os.pipe()
    try:
        with pytest.raises(wire.FrameTooLarge):
            wire.send(w, {}, [np.zeros(1000)], max_bytes=1000)
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            os.read(r, 1)  # nothing was written
    finally:
        os.close(r)
        os.close(w)
