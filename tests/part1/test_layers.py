"""cs231n/layers.py: forward values against independent implementations,
backward passes against numeric gradients, and no mutation of the inputs."""
import copy
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cs231n import gradient_check as gc
from cs231n.layers import (
    affine_backward,
    affine_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from tests.helpers import TOL, gradient_error, rel_error, slow_examples, upstream_loss

seeds = st.integers(0, 2**32 - 1)


def assert_unchanged(before, after):
    """Arrays, dicts and tuples in `after` equal their copies in `before`."""
    assert type(before) is type(after)
    if isinstance(before, np.ndarray):
        np.testing.assert_array_equal(after, before)
    elif isinstance(before, (tuple, list)):
        for b, a in zip(before, after, strict=True):
            assert_unchanged(b, a)
    else:
        assert after == before


def run_layer(forward, backward, inputs, dout_seed=0):
    """Forward then backward on random dout; checks that nothing given to the
    layer changed, and returns (out, grads, dout)."""
    saved = copy.deepcopy(inputs)
    out, cache = forward(*inputs)
    dout = np.random.default_rng(dout_seed).standard_normal(out.shape)
    saved_dout = dout.copy()
    grads = backward(dout, cache)
    assert_unchanged(saved, inputs)
    assert_unchanged(saved_dout, dout)
    return out, grads, dout


# ---------------------------------------------------------------- affine

def affine_by_loops(x, w, b):
    rows = x.reshape(x.shape[0], -1)
    out = np.zeros((x.shape[0], w.shape[1]))
    for n in range(x.shape[0]):
        for m in range(w.shape[1]):
            out[n, m] = sum(rows[n, d] * w[d, m] for d in range(w.shape[0])) + b[m]
    return out


@given(N=st.integers(1, 3), dims=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       M=st.integers(1, 4), seed=seeds)
def test_affine_forward_and_backward(N, dims, M, seed):
    rng = np.random.default_rng(seed)
    D = int(np.prod(dims))
    x = rng.standard_normal((N, *dims))
    w = rng.standard_normal((D, M))
    b = rng.standard_normal(M)

    out, (dx, dw, db), dout = run_layer(affine_forward, affine_backward, (x, w, b), seed)

    assert out.shape == (N, M)
    assert rel_error(out, affine_by_loops(x, w, b)) < TOL
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    f = upstream_loss(lambda: affine_forward(x, w, b)[0], dout)
    for param, grad in ((x, dx), (w, dw), (b, db)):
        assert gradient_error(f, param, grad) < TOL


def test_affine_cache_is_its_inputs():
    x, w, b = np.ones((2, 3, 2)), np.ones((6, 4)), np.zeros(4)
    _, cache = affine_forward(x, w, b)
    assert all(a is b_ for a, b_ in zip(cache, (x, w, b), strict=True))


# ---------------------------------------------------------------- relu

@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=seeds)
def test_relu_forward_and_backward(shape, seed):
    rng = np.random.default_rng(seed)
    # Values at least 0.1 away from the kink at zero.
    x = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)

    out, dx, dout = run_layer(relu_forward, relu_backward, (x,), seed)

    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.0))
    np.testing.assert_array_equal(dx, np.where(x > 0, dout, 0.0))
    f = upstream_loss(lambda: relu_forward(x)[0], dout)
    assert gradient_error(f, x, dx) < TOL


# ---------------------------------------------------------------- convolution

def conv_output_size(size, kernel, stride, pad):
    return 1 + (size + 2 * pad - kernel) // stride


def conv_by_kernel_offsets(x, w, b, stride, pad):
    """Convolution summed over the kernel offsets (not over output pixels)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = conv_output_size(H, HH, stride, pad)
    W_out = conv_output_size(W, WW, stride, pad)
    padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    padded[:, :, pad:pad + H, pad:pad + W] = x
    out = np.zeros((N, F, H_out, W_out)) + b[None, :, None, None]
    for c in range(C):
        for di in range(HH):
            for dj in range(WW):
                # shifted[n, i, j] = padded[n, c, di + stride*i, dj + stride*j]
                shifted = padded[:, c, di:di + stride * (H_out - 1) + 1:stride,
                                 dj:dj + stride * (W_out - 1) + 1:stride]
                for f in range(F):
                    out[:, f] += w[f, c, di, dj] * shifted
    return out


@st.composite
def conv_problems(draw):
    """Valid convolution shapes: any stride 1-3, pad 0-3, kernel no larger than the padded input."""
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pad, stride = draw(st.integers(0, 3)), draw(st.integers(1, 3))
    H = draw(st.integers(max(1, HH - 2 * pad), 7))
    W = draw(st.integers(max(1, WW - 2 * pad), 7))
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (N, C, H, W), (F, C, HH, WW), {'stride': stride, 'pad': pad}, draw(seeds)


def check_conv(x_shape, w_shape, conv_param, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])

    out, (dx, dw, db), dout = run_layer(conv_forward_naive, conv_backward_naive,
                                        (x, w, b, conv_param), seed)

    stride, pad = conv_param['stride'], conv_param['pad']
    assert out.shape == (x_shape[0], w_shape[0],
                         conv_output_size(x_shape[2], w_shape[2], stride, pad),
                         conv_output_size(x_shape[3], w_shape[3], stride, pad))
    assert rel_error(out, conv_by_kernel_offsets(x, w, b, stride, pad)) < TOL
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    f = upstream_loss(lambda: conv_forward_naive(x, w, b, conv_param)[0], dout)
    for param, grad in ((x, dx), (w, dw), (b, db)):
        assert gradient_error(f, param, grad, max_checks=20, seed=seed) < TOL


@slow_examples
@given(conv_problems())
def test_conv_naive_random_shapes(problem):
    check_conv(*problem)


@pytest.mark.parametrize('x_shape, w_shape, stride, pad', [
    ((2, 3, 5, 7), (2, 3, 3, 2), 2, 1),     # H != W, HH != WW, rows left over by the stride
    ((1, 1, 4, 4), (1, 1, 4, 4), 1, 0),     # the kernel covers the whole input
    ((1, 2, 2, 3), (3, 2, 3, 3), 3, 2),     # padding wider than the input's margin
    ((2, 3, 4, 4), (3, 3, 4, 4), 2, 1),     # the notebook's check
])
def test_conv_naive_cases(x_shape, w_shape, stride, pad):
    check_conv(x_shape, w_shape, {'stride': stride, 'pad': pad}, seed=7)


def test_conv_forward_notebook_values():
    """The layers notebook's fixed problem: a linspace input and filters."""
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {'stride': 2, 'pad': 1})
    correct = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert out.shape == correct.shape
    np.testing.assert_allclose(out, correct, rtol=0, atol=1e-7)


# ---------------------------------------------------------------- max pooling

def pool_by_offsets(x, ph, pw, stride):
    """Max pooling as the running maximum over the offsets inside a region."""
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.full((N, C, H_out, W_out), -np.inf)
    for di in range(ph):
        for dj in range(pw):
            out = np.maximum(out, x[:, :, di:di + stride * (H_out - 1) + 1:stride,
                                    dj:dj + stride * (W_out - 1) + 1:stride])
    return out


@st.composite
def pool_problems(draw):
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(ph, 7)), draw(st.integers(pw, 7))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (N, C, H, W), {'pool_height': ph, 'pool_width': pw, 'stride': stride}, draw(seeds)


def distinct_values(shape, rng):
    """Values one apart (no ties, so the maximum of each region is unique)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 1.0 - 10.0


def check_pool(x_shape, pool_param, seed):
    rng = np.random.default_rng(seed)
    x = distinct_values(x_shape, rng)

    out, dx, dout = run_layer(max_pool_forward_naive, max_pool_backward_naive,
                              (x, pool_param), seed)

    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x_shape
    assert out.shape == (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)
    np.testing.assert_array_equal(out, pool_by_offsets(x, ph, pw, stride))
    assert dx.shape == x.shape
    f = upstream_loss(lambda: max_pool_forward_naive(x, pool_param)[0], dout)
    assert gradient_error(f, x, dx, max_checks=40, seed=seed) < TOL


@slow_examples
@given(pool_problems())
def test_max_pool_naive_random_shapes(problem):
    check_pool(*problem)


@pytest.mark.parametrize('x_shape, ph, pw, stride', [
    ((2, 3, 4, 4), 2, 2, 2),     # the notebook's check
    ((1, 2, 5, 7), 2, 3, 1),     # non-square pool, overlapping regions
    ((2, 1, 7, 6), 3, 2, 2),     # stride smaller than the pool height
    ((1, 2, 6, 6), 1, 1, 3),     # stride larger than the pool: elements skipped
])
def test_max_pool_naive_cases(x_shape, ph, pw, stride):
    check_pool(x_shape, {'pool_height': ph, 'pool_width': pw, 'stride': stride}, seed=3)


def test_max_pool_backward_routes_to_each_maximum():
    x = np.array([[[[1., 5., 2.],
                    [4., 3., 0.],
                    [6., 8., 7.]]]])
    pool = {'pool_height': 2, 'pool_width': 2, 'stride': 1}
    out, cache = max_pool_forward_naive(x, pool)
    np.testing.assert_array_equal(out, [[[[5., 5.], [8., 8.]]]])
    dx = max_pool_backward_naive(np.array([[[[1., 10.], [100., 1000.]]]]), cache)
    # Overlapping regions that share a maximum add their gradients there.
    np.testing.assert_array_equal(dx, [[[[0., 11., 0.], [0., 0., 0.], [0., 1100., 0.]]]])


# ---------------------------------------------------------------- losses

def svm_by_loops(x, y):
    N, C = x.shape
    return sum(max(0.0, x[i, j] - x[i, y[i]] + 1.0)
               for i in range(N) for j in range(C) if j != y[i]) / N


def softmax_by_loops(x, y):
    return -sum(np.log(np.exp(x[i, y[i]]) / sum(np.exp(s) for s in x[i]))
                for i in range(x.shape[0])) / x.shape[0]


losses = pytest.mark.parametrize('loss_fn, by_loops', [
    (svm_loss, svm_by_loops), (softmax_loss, softmax_by_loops)], ids=['svm', 'softmax'])
sizes = pytest.mark.parametrize('N, C', [(1, 2), (1, 10), (7, 3), (20, 10)])


@losses
@sizes
def test_loss_value_and_gradient(loss_fn, by_loops, N, C):
    rng = np.random.default_rng(N * 100 + C)
    x = rng.standard_normal((N, C))
    y = rng.integers(C, size=N)
    x_saved, y_saved = x.copy(), y.copy()

    loss, dx = loss_fn(x, y)

    np.testing.assert_array_equal(x, x_saved)
    np.testing.assert_array_equal(y, y_saved)
    assert np.ndim(loss) == 0
    assert loss == pytest.approx(by_loops(x, y), rel=1e-12, abs=1e-12)
    assert dx.shape == x.shape
    assert gradient_error(lambda: loss_fn(x, y)[0], x, dx) < TOL


@sizes
def test_losses_at_small_scores(N, C):
    rng = np.random.default_rng(0)
    x = 1e-4 * rng.standard_normal((N, C))
    y = rng.integers(C, size=N)
    assert softmax_loss(x, y)[0] == pytest.approx(np.log(C), abs=1e-3)
    assert svm_loss(x, y)[0] == pytest.approx(C - 1, abs=1e-3)   # every margin is about 1


def test_softmax_loss_huge_scores_stay_finite():
    x = np.array([[1e4, -1e4, 0.0], [800.0, 1000.0, -1000.0]])
    loss, dx = softmax_loss(x, np.array([1, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(2e4 / 2)


# ---------------------------------------------------------------- gradient_check

class TestGradientCheck:
    """cs231n/gradient_check.py is given code that every notebook relies on."""

    @pytest.fixture
    def x(self):
        return np.random.default_rng(0).standard_normal((3, 4))

    @pytest.mark.parametrize('verbose', [False, True])
    def test_eval_numerical_gradient(self, x, verbose, capsys):
        saved = x.copy()
        grad = gc.eval_numerical_gradient(lambda z: np.sum(z ** 2), x, verbose=verbose)
        np.testing.assert_array_equal(x, saved)
        assert grad.shape == x.shape
        assert rel_error(grad, 2 * x) < 1e-8
        assert bool(capsys.readouterr().out) == verbose

    def test_eval_numerical_gradient_of_a_matrix_product(self, x):
        A = np.random.default_rng(1).standard_normal((5, 3))
        B = np.random.default_rng(2).standard_normal((4, 2))
        grad = gc.eval_numerical_gradient(lambda W: np.sum(A.dot(W).dot(B)), x, verbose=False)
        assert rel_error(grad, A.T.dot(np.ones((5, 2))).dot(B.T)) < 1e-8

    def test_eval_numerical_gradient_array(self, x):
        A = np.random.default_rng(1).standard_normal((5, 3))
        df = np.random.default_rng(2).standard_normal((5, 4))
        saved = x.copy()
        grad = gc.eval_numerical_gradient_array(lambda W: A.dot(W), x, df)
        np.testing.assert_array_equal(x, saved)
        assert rel_error(grad, A.T.dot(df)) < 1e-8
        # An elementwise function: each coordinate only moves its own output.
        grad = gc.eval_numerical_gradient_array(lambda z: z ** 3, x, df[:3])
        assert rel_error(grad, 3 * x ** 2 * df[:3]) < 1e-8

    @staticmethod
    def printed_errors(text):
        return [float(line.rsplit(':', 1)[1]) for line in text.splitlines()
                if 'relative error' in line]

    @pytest.mark.parametrize('factor, small', [(2.0, True), (2.5, False), (-2.0, False)])
    def test_grad_check_sparse(self, x, factor, small, capsys):
        random.seed(0)                          # grad_check_sparse draws with `random`
        saved = x.copy()
        returned = gc.grad_check_sparse(lambda z: np.sum(z ** 2), x, factor * x, 6)
        np.testing.assert_array_equal(x, saved)
        errors = self.printed_errors(capsys.readouterr().out)
        assert len(errors) == 6
        if returned is not None:
            assert np.allclose(returned, errors, rtol=1e-5)
        if small:
            assert max(errors) < 1e-7
        else:
            assert min(errors) > 1e-2
