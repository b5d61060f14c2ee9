"""Q8.2: the two-layer network written out by hand."""
import numpy as np
import pytest

from cs231n.classifiers.neural_net import init_two_layer_model, two_layer_net
from tests.helpers import TOL, gradient_error

PARAMS = ('W1', 'b1', 'W2', 'b2')


def test_init_shapes_scales_and_zero_biases():
    np.random.seed(0)
    model = init_two_layer_model(200, 50, 10)
    assert sorted(model) == sorted(PARAMS)
    assert model['W1'].shape == (200, 50) and model['W2'].shape == (50, 10)
    assert model['b1'].shape == (50,) and model['b2'].shape == (10,)
    np.testing.assert_array_equal(model['b1'], 0)
    np.testing.assert_array_equal(model['b2'], 0)
    for name in ('W1', 'W2'):                   # 1e-5 * randn
        assert abs(model[name].mean()) < 1e-6
        assert model[name].std() == pytest.approx(1e-5, rel=0.1)


def test_toy_scores(toy):
    X, _, model = toy
    scores = two_layer_net(X, model)
    correct = np.array([[-0.5328368, 0.20031504, 0.93346689],
                        [-0.59412164, 0.15498488, 0.9040914],
                        [-0.67658362, 0.08978957, 0.85616275],
                        [-0.77092643, 0.01339997, 0.79772637],
                        [-0.89110401, -0.08754544, 0.71601312]])
    assert scores.shape == (5, 3)
    np.testing.assert_allclose(scores, correct, rtol=0, atol=1e-7)


def test_toy_loss(toy):
    X, y, model = toy
    loss, _ = two_layer_net(X, model, y, reg=0.1)
    assert abs(loss - 1.38191946092) < 1e-10


def test_regularization_is_half_reg_times_sum_of_squared_weights(toy):
    X, y, model = toy
    extra = two_layer_net(X, model, y, reg=0.7)[0] - two_layer_net(X, model, y, reg=0.0)[0]
    squares = np.sum(model['W1'] ** 2) + np.sum(model['W2'] ** 2)
    assert extra == pytest.approx(0.5 * 0.7 * squares, rel=1e-12)


def test_toy_gradients(toy):
    X, y, model = toy
    _, grads = two_layer_net(X, model, y, reg=0.1)
    for name in PARAMS:
        f = lambda: two_layer_net(X, model, y, reg=0.1)[0]     # noqa: E731
        assert gradient_error(f, model[name], grads[name]) < TOL, name


def random_problem(N, D, H, C, seed):
    rng = np.random.default_rng(seed)
    model = {'W1': rng.standard_normal((D, H)), 'b1': rng.standard_normal(H),
             'W2': rng.standard_normal((H, C)), 'b2': rng.standard_normal(C)}
    return rng.standard_normal((N, D)), rng.integers(C, size=N), model


@pytest.mark.parametrize('reg', [0.0, 0.05, 1.0, 10.0])
@pytest.mark.parametrize('N, D, H, C', [(1, 3, 4, 2), (8, 5, 7, 3), (20, 6, 9, 10)])
def test_gradients_match_numeric(N, D, H, C, reg):
    X, y, model = random_problem(N, D, H, C, seed=N + D + H + C)
    saved = {name: p.copy() for name, p in model.items()}
    loss, grads = two_layer_net(X, model, y, reg=reg)
    for name in PARAMS:
        np.testing.assert_array_equal(model[name], saved[name])
        assert grads[name].shape == model[name].shape
        f = lambda: two_layer_net(X, model, y, reg=reg)[0]     # noqa: E731
        assert gradient_error(f, model[name], grads[name]) < TOL, name
    assert sorted(grads) == sorted(PARAMS)


def test_scores_are_affine_relu_affine():
    X, _, model = random_problem(6, 4, 5, 3, seed=1)
    hidden = np.maximum(X.dot(model['W1']) + model['b1'], 0)
    expected = hidden.dot(model['W2']) + model['b2']
    np.testing.assert_allclose(two_layer_net(X, model), expected, rtol=1e-12)


def test_loss_at_small_weights_is_log_C():
    np.random.seed(0)
    model = init_two_layer_model(30, 20, 10)
    X = np.random.randn(50, 30)
    y = np.random.randint(10, size=50)
    loss, _ = two_layer_net(X, model, y, reg=0.0)
    assert loss == pytest.approx(np.log(10), abs=1e-6)
