"""The bridge: values cross exactly, hostile code cannot break the trusted side, workers come back."""
import builtins
import math

import numpy as np
import pytest

from graders.engine.bridge import BadValue, CallTimeout, Handle, SandboxError, SubmissionRaised, Worker, WorkerDied
from tests.helpers import patched_in_this_process


@pytest.fixture(scope='module')
def worker(hostile_root, hostile_sandbox):
    with Worker(hostile_root, hostile_sandbox, timeout=30) as w:
        yield w


@pytest.fixture
def fresh(hostile_root, hostile_sandbox):
    """A worker of its own, for tests that kill it."""
    with Worker(hostile_root, hostile_sandbox, timeout=30) as w:
        yield w


ARRAYS = [
    np.array([True, False]), np.arange(-3, 3, dtype=np.int8), np.arange(5, dtype=np.int16),
    np.arange(5, dtype=np.int32), np.arange(5, dtype=np.int64), np.arange(5, dtype=np.uint8),
    np.arange(5, dtype=np.uint16), np.arange(5, dtype=np.uint32), np.arange(5, dtype=np.uint64),
    np.linspace(0, 1, 7, dtype=np.float16), np.linspace(0, 1, 7, dtype=np.float32),
    np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    np.arange(24.0).reshape(2, 3, 4)[:, ::2, ::-1],      # not contiguous
    np.asfortranarray(np.arange(12.0).reshape(3, 4)),     # Fortran order
    np.array(3.5), np.array(7, dtype=np.int64),           # 0-d
    np.zeros((0, 3)), np.zeros((2, 0, 4), dtype=np.uint8),  # empty
    np.arange(6, dtype='>f8'),                            # big-endian
]


def test_arrays_round_trip_exactly(worker):
    back = worker.call('hostile:echo', *ARRAYS)
    assert len(back) == len(ARRAYS) + 1 and back[-1] == {}
    for sent, got in zip(ARRAYS, back):
        assert type(got) is np.ndarray and got.dtype == sent.dtype and got.shape == sent.shape
        np.testing.assert_array_equal(got, sent)
        assert got.flags.writeable


def test_plain_values_round_trip(worker):
    value = {'none': None, 'bools': [True, False], 'int': -2 ** 62, 'floats': (0.1, -0.0, 1e300),
             'nested': [{'a': (1, [2, (3,)])}], 'text': 'héllo \u2603', 'scalar': np.float32(1.5)}
    (got, kwargs) = worker.call('hostile:echo', value, nan=float('nan'), inf=float('-inf'))
    expected = dict(value, scalar=np.array(1.5, dtype=np.float32))  # numpy scalars cross as 0-d arrays
    assert got.keys() == expected.keys()
    for key in value:
        if key != 'scalar':
            assert got[key] == value[key] and type(got[key]) is type(value[key])
    assert type(got['scalar']) is np.ndarray and got['scalar'].dtype == np.float32
    assert math.isnan(kwargs['nan']) and kwargs['inf'] == float('-inf')


def test_instances_are_handles_that_pass_back(worker):
    thing = worker.call('hostile:Thing', 3)
    assert type(thing) is Handle and thing.type_name == 'hostile.Thing'
    np.testing.assert_array_equal(worker.get_attr(thing, 'W'), np.arange(6.0).reshape(2, 3) * 3)
    np.testing.assert_array_equal(worker.call_method(thing, 'scale', np.ones(2)), [3.0, 3.0])
    assert worker.call('hostile:use_thing', thing, 2) == 7
    worker.set_attr(thing, 'k', 10)
    assert worker.call_method(thing, 'scale', 2) == 20
    worker.release(thing)
    with pytest.raises(BadValue):
        worker.call_method(thing, 'scale', 2)


def test_forward_cache_with_an_object_is_one_handle(worker):
    x = np.arange(4.0)
    out, cache = worker.call('hostile:forward', x)
    np.testing.assert_array_equal(out, 2 * x)
    assert type(cache) is Handle and cache.type_name == 'tuple'
    np.testing.assert_array_equal(worker.call('hostile:backward', np.ones(4), cache), np.full(4, 2.0))


def test_values_outside_the_contract_come_back_as_handles(worker):
    liars = worker.call('hostile:liars')
    # ndarray subclasses arrive as plain arrays (their own __eq__ gone), with a note each
    assert [type(v) for v in liars] == [Handle, np.ndarray, Handle, Handle, np.ndarray]
    assert [v.type_name.rsplit('.', 1)[-1] for v in liars if type(v) is Handle] == ['AlwaysEqual', 'ndarray', 'ndarray']
    assert np.array_equal(liars[4], np.eye(2)) and liars[4].shape == (2, 2)
    assert any(n.startswith('np.matrix returned: converted to a plain numpy array') for n in worker.notes)
    assert any(n.startswith('hostile.LyingArray returned') for n in worker.notes)
    assert type(worker.call('hostile:big_int')) is Handle


def test_object_arrays_are_refused_in_both_directions(worker, fresh):
    with pytest.raises(TypeError):
        worker.call('hostile:echo', np.array([1, None], dtype=object))
    with pytest.raises(TypeError):
        worker.call('hostile:echo', object())
    with pytest.raises(BadValue, match='not allowed'):
        fresh.call('hostile:forge_object_array')
    assert fresh.call('hostile:echo', 1) == (1, {}) and fresh.starts == 2  # a fresh worker


def test_exceptions_come_back_with_the_students_message(worker):
    with pytest.raises(SubmissionRaised) as info:
        worker.call('hostile:boom')
    err = info.value
    assert err.exc_type == 'ValueError' and 'shapes (3,4) and (5,) not aligned' in err.message
    assert 'hostile.py' in err.traceback and 'worker.py' not in err.traceback
    assert 'raised ValueError: student message' in str(err)
    with pytest.raises(SubmissionRaised, match='SystemExit'):
        worker.call('hostile:exit_politely')
    with pytest.raises(SubmissionRaised, match='MemoryError'):
        worker.call('hostile:allocate_50gb')
    with pytest.raises(SubmissionRaised, match='ModuleNotFoundError'):
        worker.call('no_such_module:f')
    with pytest.raises(ValueError):  # a grader bug, refused before anything is sent
        worker.call('hostile.echo')
    assert worker.call('hostile:echo', 2) == (2, {})  # the same worker carries on


def test_legacy_numpy_aliases_work_and_are_noted(worker):
    total, nan = worker.call('hostile:legacy_aliases', [1.5, 2.5])
    assert total == 3 and math.isnan(nan)
    assert 'np.float used: legacy numpy alias shimmed to float' in worker.notes
    assert 'np.int used: legacy numpy alias shimmed to int' in worker.notes
    assert 'np.NaN used: legacy numpy alias shimmed to np.nan' in worker.notes


def test_output_does_not_break_the_channel(worker):
    assert worker.call('hostile:noisy', 1) == 2
    out = worker.last_output
    assert 'hello from print' in out['stdout'] and 'HW1' in out['stdout']
    assert 'to stderr' in out['stderr'] and 'raw fd 2' in out['stderr']
    assert worker.call('hostile:echo', 3) == (3, {})
    assert worker.last_output == {'stdout': '', 'stderr': ''}


def test_monkeypatching_stays_in_the_worker(worker):
    """The attack is live in the worker (its numpy and builtins lie to every later call there), and the
    trusted process still holds the very objects it started with: a worker run in-process would fail."""
    assert worker.call('hostile:monkeypatch') is True
    assert worker.call('numpy:allclose', 0, 1) is True
    assert worker.call('builtins:abs', -1) == 0
    assert worker.call('numpy.testing:assert_allclose', 0, 1) is None
    assert patched_in_this_process() == []


def test_the_patch_detector_sees_a_patch_in_this_process(monkeypatch):
    """What the test above asserts can fail: the same patches made here are each seen."""
    assert patched_in_this_process() == []
    monkeypatch.setattr(np, 'allclose', lambda *a, **k: True)
    monkeypatch.setattr(builtins, 'abs', lambda x: 0)
    assert patched_in_this_process() == ['builtins.abs', 'numpy.allclose']
    monkeypatch.setattr(np.testing, 'assert_allclose', lambda *a, **k: None)
    assert 'numpy.testing.assert_allclose' in patched_in_this_process()


def test_breaking_the_workers_own_builtins_is_a_sandbox_error(fresh):
    with pytest.raises(SandboxError):
        fresh.call('hostile:break_builtins')
    assert fresh.call('hostile:echo', 1) == (1, {}) and fresh.starts == 2


def test_exit_mid_call_is_worker_died_and_the_next_call_works(fresh):
    assert fresh.call('hostile:echo', 1) == (1, {})
    old = fresh.call('hostile:Thing', 1)
    with pytest.raises(WorkerDied, match='exit code 0'):
        fresh.call('hostile:die')
    assert fresh.call('hostile:echo', 2) == (2, {}) and fresh.starts == 2
    with pytest.raises(BadValue, match='restarted'):
        fresh.call('hostile:use_thing', old, 1)


def test_segfault_is_worker_died(fresh):
    with pytest.raises(WorkerDied, match='SIGSEGV') as info:
        fresh.call('hostile:segfault')
    assert 'hostile.py' in str(info.value)  # faulthandler's traceback of the crash
    assert fresh.call('hostile:echo', 1) == (1, {})


@pytest.mark.parametrize('target', ['hostile:spin', 'hostile:spin_in_numpy'])
def test_infinite_loop_is_call_timeout_and_the_next_call_works(fresh, target):
    with pytest.raises(CallTimeout, match='did not finish within 1.5 s'):
        fresh.call(target, timeout=1.5)
    assert fresh.call('hostile:echo', 1) == (1, {}) and fresh.starts == 2


def test_garbage_on_the_channel_is_bad_value(fresh):
    with pytest.raises(BadValue, match='could not be decoded'):
        fresh.call('hostile:write_garbage')
    assert fresh.call('hostile:echo', 1) == (1, {}) and fresh.starts == 2


def test_oversized_result_is_refused_and_the_worker_survives(hostile_root, hostile_sandbox):
    with Worker(hostile_root, hostile_sandbox, max_reply_bytes=1 << 20) as w:
        with pytest.raises(BadValue, match='limit'):
            w.call('hostile:huge_result', 2 << 20)
        assert w.call('hostile:huge_result', 1024).shape == (128,) and w.starts == 1


def test_kept_results_stay_in_the_worker_and_pass_back(worker):
    x = np.arange(6.0).reshape(2, 3)
    out, cache = worker.call('hostile:forward', x, keep=(1,))
    assert type(cache) is Handle
    dx = worker.call('hostile:backward', np.ones_like(out), cache)
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape


def test_call_checked_notes_inputs_changed_in_place_once_per_function(worker):
    """A note, not an error: the values returned are what the checks grade (issue 13)."""
    x = np.arange(4.0)
    assert np.array_equal(worker.call_checked('hostile:scale_in_place', x), 2 * x)
    worker.call_checked('hostile:scale_in_place', x)
    assert np.array_equal(x, np.arange(4.0))   # the grader's own copy is never touched
    mine = [n for n in worker.notes if 'changed its input' in n]
    assert len(mine) == 1 and 'scale_in_place` changed its input argument 1 in place: no points taken' in mine[0]
    worker.call_checked('hostile:scale_dict_in_place', x={'a': np.ones(2)})
    assert any("argument x['a']" in n for n in worker.notes)
    notes = list(worker.notes)
    assert np.array_equal(worker.call_checked('hostile:echo', x)[0], x)   # a pure function: no new note
    assert worker.notes == notes
