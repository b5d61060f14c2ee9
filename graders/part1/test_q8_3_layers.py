"""Q8.3 Modular layers: the eight functions of cs231n/layers.py against the reference.

Each check runs the submission's function on several fresh problems (batch size 1, non-square
images, strides 1 and 2, padding 0 to 2, overlapping pools) and compares with the reference within
the rubric's relative error. Backward checks feed the submission's own forward cache back to it, as
the homework's code does; an input changed in place is a note, not a deduction (what is returned is
graded). The convolution and pooling checks earn partial credit by case: the notebook's own shapes
weigh most, the other kinds share the rest (rubric [partial_credit]).
"""

import numpy as np
import pytest

from graders.engine.checks import Cases, as_tuple, expect_close
from graders.part1.reference import part1

LAYERS = 'cs231n.layers'

# (N, C, H, W), (F, HH, WW), stride, pad. First the shapes layers.ipynb itself checks (forward:
# 2x3x4x4 with 3 filters of 4x4, stride 2, pad 1; backward: 4x3x5x5 with 2 filters of 3x3, stride 1,
# pad 1), then the kinds the notebook does not reach: a batch of one, non-square, strided, pad 0 and 2,
# 1x1 and wide filters. Checks grade them by case (checks.Cases, rubric [partial_credit]).
NOTEBOOK_CONV_FORWARD = ((2, 3, 4, 4), (3, 4, 4), 2, 1)
NOTEBOOK_CONV_BACKWARD = ((4, 3, 5, 5), (2, 3, 3), 1, 1)
CONV_PROBLEMS = [
    ((2, 3, 7, 7), (4, 3, 3), 1, 1),
    ((1, 2, 5, 9), (3, 3, 3), 2, 1),
    ((3, 1, 6, 4), (2, 2, 2), 2, 0),
    ((2, 2, 9, 7), (2, 5, 3), 2, 2),
    ((1, 4, 4, 4), (5, 1, 1), 1, 0),
]
# (N, C, H, W), pool_height, pool_width, stride. The notebook's (forward 2x3x4x4, backward 3x2x8x8,
# 2x2 windows of stride 2), then square, non-square, windows that skip the last row.
NOTEBOOK_POOL_FORWARD = ((2, 3, 4, 4), 2, 2, 2)
NOTEBOOK_POOL_BACKWARD = ((3, 2, 8, 8), 2, 2, 2)
POOL_PROBLEMS = [
    ((2, 3, 8, 8), 2, 2, 2),
    ((1, 2, 6, 9), 3, 3, 3),
    ((3, 1, 4, 8), 2, 4, 2),
    ((2, 2, 7, 7), 2, 2, 2),
]
# Overlapping windows only forward: the homework never asked backward to add up overlapping routes.
OVERLAPPING_POOL = ((3, 1, 5, 7), 3, 2, 1)
AFFINE_PROBLEMS = [((4, 5), 3), ((1, 2, 3, 4), 6), ((7, 3, 2), 1)]


@pytest.fixture
def ref():
    return part1(LAYERS)


def affine_inputs(rng, x_shape, m):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((int(np.prod(x_shape[1:])), m))
    b = rng.standard_normal(m)
    return x, w, b


def conv_inputs(rng, x_shape, filters, stride, pad):
    f, hh, ww = filters
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((f, x_shape[1], hh, ww))
    b = rng.standard_normal(f)
    return x, w, b, {'stride': stride, 'pad': pad}


@pytest.mark.points('Q8.3', 1)
def test_affine_forward(worker, ref, rng, tolerance):
    """affine_forward matches the reference"""
    for x_shape, m in AFFINE_PROBLEMS:
        x, w, b = affine_inputs(rng, x_shape, m)
        out, _ = as_tuple('affine_forward(x, w, b)',
                          worker.call_checked(f'{LAYERS}:affine_forward', x, w, b, keep=(1,)), 2)
        expect_close(f'affine_forward out for x of shape {x_shape}', out, ref.affine_forward(x, w, b)[0], tolerance)


@pytest.mark.points('Q8.3', 1)
def test_affine_backward(worker, ref, rng, tolerance):
    """affine_backward matches the reference"""
    for x_shape, m in AFFINE_PROBLEMS:
        x, w, b = affine_inputs(rng, x_shape, m)
        dout = rng.standard_normal((x_shape[0], m))
        _, cache = as_tuple('affine_forward(x, w, b)', worker.call(f'{LAYERS}:affine_forward', x, w, b, keep=(1,)), 2)
        grads = as_tuple('affine_backward(dout, cache)',
                         worker.call_checked(f'{LAYERS}:affine_backward', dout, cache), 3)
        expected = ref.affine_backward(dout, ref.affine_forward(x, w, b)[1])
        for name, got, want in zip(('dx', 'dw', 'db'), grads, expected):
            expect_close(f'affine_backward {name} for x of shape {x_shape}', got, want, tolerance)


@pytest.mark.points('Q8.3', 0.5)
def test_relu_forward(worker, ref, rng, tolerance):
    """relu_forward matches the reference"""
    for shape in [(4, 5), (2, 3, 4, 1), (1,)]:
        x = rng.standard_normal(shape)
        out, _ = as_tuple('relu_forward(x)', worker.call_checked(f'{LAYERS}:relu_forward', x, keep=(1,)), 2)
        expect_close(f'relu_forward out for x of shape {shape}', out, ref.relu_forward(x)[0], tolerance)


@pytest.mark.points('Q8.3', 0.5)
def test_relu_backward(worker, ref, rng, tolerance):
    """relu_backward matches the reference"""
    for shape in [(4, 5), (2, 3, 4, 1)]:
        x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
        _, cache = as_tuple('relu_forward(x)', worker.call(f'{LAYERS}:relu_forward', x, keep=(1,)), 2)
        dx = worker.call_checked(f'{LAYERS}:relu_backward', dout, cache)
        expect_close(f'relu_backward dx for x of shape {shape}', dx,
                     ref.relu_backward(dout, ref.relu_forward(x)[1]), tolerance)


def conv_label(x_shape, w_shape, stride, pad):
    return f'x {x_shape}, w {w_shape}, stride {stride}, pad {pad}'


def pool_label(x_shape, ph, pw, stride):
    return f'x {x_shape}, pool {ph}x{pw}, stride {stride}'


@pytest.fixture
def cases(settings, record_property):
    return Cases(settings['partial_credit'], record_property)


@pytest.mark.points('Q8.3', 1.5)
def test_conv_forward_naive(worker, ref, rng, tolerance, cases):
    """conv_forward_naive matches the reference (the notebook's shapes, strides, padding, non-square)"""
    def case(x_shape, filters, stride, pad):
        x, w, b, conv_param = conv_inputs(rng, x_shape, filters, stride, pad)
        got = worker.call_checked(f'{LAYERS}:conv_forward_naive', x, w, b, conv_param, keep=(1,))
        out, _ = as_tuple('conv_forward_naive(x, w, b, conv_param)', got, 2)
        expect_close(f'conv_forward_naive out for {conv_label(x_shape, w.shape, stride, pad)}',
                     out, ref.conv_forward_naive(x, w, b, conv_param)[0], tolerance)
    for problem in [NOTEBOOK_CONV_FORWARD, *CONV_PROBLEMS]:
        cases.run(conv_label(*problem), lambda: case(*problem), notebook=problem == NOTEBOOK_CONV_FORWARD)
    cases.finish()


@pytest.mark.points('Q8.3', 2.5)
def test_conv_backward_naive(worker, ref, rng, tolerance, cases):
    """conv_backward_naive matches the reference (the notebook's shapes, strides, padding, non-square)"""
    def case(x_shape, filters, stride, pad):
        x, w, b, conv_param = conv_inputs(rng, x_shape, filters, stride, pad)
        expected_out, ref_cache = ref.conv_forward_naive(x, w, b, conv_param)
        dout = rng.standard_normal(expected_out.shape)
        _, cache = as_tuple('conv_forward_naive(x, w, b, conv_param)',
                            worker.call(f'{LAYERS}:conv_forward_naive', x, w, b, conv_param, keep=(1,)), 2)
        grads = as_tuple('conv_backward_naive(dout, cache)',
                         worker.call_checked(f'{LAYERS}:conv_backward_naive', dout, cache), 3)
        for name, got, want in zip(('dx', 'dw', 'db'), grads, ref.conv_backward_naive(dout, ref_cache)):
            expect_close(f'conv_backward_naive {name} for {conv_label(x_shape, w.shape, stride, pad)}',
                         got, want, tolerance)
    for problem in [NOTEBOOK_CONV_BACKWARD, *CONV_PROBLEMS]:
        cases.run(conv_label(*problem), lambda: case(*problem), notebook=problem == NOTEBOOK_CONV_BACKWARD)
    cases.finish()


@pytest.mark.points('Q8.3', 1)
def test_max_pool_forward_naive(worker, ref, rng, tolerance, cases):
    """max_pool_forward_naive matches the reference (the notebook's shapes, non-square, overlapping windows)"""
    def case(x_shape, ph, pw, stride):
        x = rng.standard_normal(x_shape)
        pool_param = {'pool_height': ph, 'pool_width': pw, 'stride': stride}
        out, _ = as_tuple('max_pool_forward_naive(x, pool_param)',
                          worker.call_checked(f'{LAYERS}:max_pool_forward_naive', x, pool_param, keep=(1,)), 2)
        expect_close(f'max_pool_forward_naive out for {pool_label(x_shape, ph, pw, stride)}',
                     out, ref.max_pool_forward_naive(x, pool_param)[0], tolerance)
    for problem in [NOTEBOOK_POOL_FORWARD, *POOL_PROBLEMS, OVERLAPPING_POOL]:
        cases.run(pool_label(*problem), lambda: case(*problem), notebook=problem == NOTEBOOK_POOL_FORWARD)
    cases.finish()


@pytest.mark.points('Q8.3', 2)
def test_max_pool_backward_naive(worker, ref, rng, tolerance, cases):
    """max_pool_backward_naive matches the reference (the notebook's shapes, non-square windows)"""
    def case(x_shape, ph, pw, stride):
        x = rng.standard_normal(x_shape)
        pool_param = {'pool_height': ph, 'pool_width': pw, 'stride': stride}
        expected_out, ref_cache = ref.max_pool_forward_naive(x, pool_param)
        dout = rng.standard_normal(expected_out.shape)
        _, cache = as_tuple('max_pool_forward_naive(x, pool_param)',
                            worker.call(f'{LAYERS}:max_pool_forward_naive', x, pool_param, keep=(1,)), 2)
        dx = worker.call_checked(f'{LAYERS}:max_pool_backward_naive', dout, cache)
        expect_close(f'max_pool_backward_naive dx for {pool_label(x_shape, ph, pw, stride)}',
                     dx, ref.max_pool_backward_naive(dout, ref_cache), tolerance)
    for problem in [NOTEBOOK_POOL_BACKWARD, *POOL_PROBLEMS]:
        cases.run(pool_label(*problem), lambda: case(*problem), notebook=problem == NOTEBOOK_POOL_BACKWARD)
    cases.finish()
