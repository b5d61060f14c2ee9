"""Q8.4 and the given sandwich layers: layer_utils.py and classifiers/convnet.py,
which run on the fast (im2col / Cython) layers."""
import numpy as np
import pytest

from cs231n.classifiers.convnet import init_two_layer_convnet, two_layer_convnet
from cs231n.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import affine_forward, conv_forward_naive, max_pool_forward_naive, relu_forward
from tests.helpers import TOL, gradient_error, rel_error, upstream_loss

POOL_2X2 = {'pool_height': 2, 'pool_width': 2, 'stride': 2}


# ---------------------------------------------------------------- layer_utils

def naive_conv_relu(x, w, b, conv_param):
    return relu_forward(conv_forward_naive(x, w, b, conv_param)[0])[0]


def check_sandwich(forward, backward, expected_out, inputs, seed=0):
    """Forward against the naive layers, backward against numeric gradients."""
    out, cache = forward(*inputs)
    assert rel_error(out, expected_out) < TOL
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    grads = backward(dout, cache)
    f = upstream_loss(lambda: forward(*inputs)[0], dout)
    for param, grad in zip(inputs, grads):          # the array inputs: x, w, b
        assert gradient_error(f, param, grad, max_checks=15, seed=seed) < TOL


def test_affine_relu():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 10)), rng.standard_normal(10)
    expected = np.maximum(0, x.reshape(2, 12).dot(w) + b)
    check_sandwich(affine_relu_forward, affine_relu_backward, expected, (x, w, b))


@pytest.mark.parametrize('x_shape, w_shape, stride, pad', [
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1),
    ((1, 2, 7, 7), (3, 2, 3, 3), 2, 0),
])
def test_conv_relu(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    conv_param = {'stride': stride, 'pad': pad}
    check_sandwich(conv_relu_forward, conv_relu_backward,
                   naive_conv_relu(x, w, b, conv_param), (x, w, b, conv_param))


@pytest.mark.parametrize('pool_param', [
    POOL_2X2,
    {'pool_height': 3, 'pool_width': 3, 'stride': 1},      # overlapping regions
])
def test_conv_relu_pool(pool_param):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)
    conv_param = {'stride': 1, 'pad': 1}
    expected = max_pool_forward_naive(naive_conv_relu(x, w, b, conv_param), pool_param)[0]
    check_sandwich(conv_relu_pool_forward, conv_relu_pool_backward, expected,
                   (x, w, b, conv_param, pool_param))


# ---------------------------------------------------------------- two-layer convnet

def test_init_default_shapes():
    np.random.seed(0)
    model = init_two_layer_convnet()
    assert model['W1'].shape == (32, 3, 5, 5) and model['b1'].shape == (32,)
    assert model['W2'].shape == (32 * 32 * 32 // 4, 10) and model['b2'].shape == (10,)
    assert model['W2'].std() == pytest.approx(1e-3, rel=0.05)
    np.testing.assert_array_equal(model['b1'], 0)
    np.testing.assert_array_equal(model['b2'], 0)


def test_init_custom_shapes():
    model = init_two_layer_convnet(weight_scale=0.1, bias_scale=0.5, input_shape=(3, 16, 16),
                                   num_classes=7, num_filters=3, filter_size=3)
    assert model['W1'].shape == (3, 3, 3, 3) and model['b1'].shape == (3,)
    assert model['W2'].shape == (3 * 16 * 16 // 4, 7) and model['b2'].shape == (7,)
    assert np.all(model['b2'] != 0)


def test_init_rejects_even_filters():
    with pytest.raises(AssertionError):
        init_two_layer_convnet(filter_size=4)


def gradient_problem(seed=0):
    """The notebook's check: 2 inputs of (3, 16, 16), 3 filters of 3x3, 10 classes."""
    np.random.seed(seed)
    X = np.random.randn(2, 3, 16, 16)
    y = np.random.randint(10, size=2)
    model = init_two_layer_convnet(weight_scale=0.1, bias_scale=0.1, input_shape=(3, 16, 16),
                                   num_filters=3, filter_size=3)
    return X, y, model


def test_scores_are_conv_relu_pool_affine():
    X, _, model = gradient_problem()
    hidden = max_pool_forward_naive(naive_conv_relu(X, model['W1'], model['b1'],
                                                    {'stride': 1, 'pad': 1}), POOL_2X2)[0]
    expected = affine_forward(hidden, model['W2'], model['b2'])[0]
    scores = two_layer_convnet(X, model)
    assert scores.shape == (2, 10)
    assert rel_error(scores, expected) < TOL


@pytest.mark.parametrize('reg', [0.0, 0.5])
def test_gradients_match_numeric(reg):
    X, y, model = gradient_problem()
    loss, grads = two_layer_convnet(X, model, y, reg=reg)
    assert sorted(grads) == sorted(model)
    f = lambda: two_layer_convnet(X, model, y, reg=reg)[0]     # noqa: E731
    for name in sorted(model):
        assert grads[name].shape == model[name].shape
        assert gradient_error(f, model[name], grads[name], max_checks=12) < TOL, name


def test_regularization_is_half_reg_times_sum_of_squared_weights():
    X, y, model = gradient_problem()
    extra = two_layer_convnet(X, model, y, reg=0.5)[0] - two_layer_convnet(X, model, y)[0]
    squares = np.sum(model['W1'] ** 2) + np.sum(model['W2'] ** 2)
    assert extra == pytest.approx(0.25 * squares, rel=1e-9)


def test_initial_loss_is_log_10():
    np.random.seed(1)
    X = np.random.randn(8, 3, 16, 16)
    y = np.random.randint(10, size=8)
    model = init_two_layer_convnet(input_shape=(3, 16, 16), num_filters=8)
    loss, _ = two_layer_convnet(X, model, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)
    assert two_layer_convnet(X, model, y, reg=1.0)[0] > loss
