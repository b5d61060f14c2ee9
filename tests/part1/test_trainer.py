"""Q8.2: ClassifierTrainer's update rules, epochs, learning-rate decay and best model.

Most tests train a "model" whose loss_function is defined here, so that every
gradient, and therefore every parameter value, can be computed by hand.
"""
import numpy as np
import pytest

from cs231n.classifier_trainer import ClassifierTrainer
from cs231n.classifiers.neural_net import two_layer_net

LR, MOMENTUM = 0.1, 0.9
G = {'W': np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]]), 'b': np.array([-0.5, 4.0])}


def start():
    return {'W': np.arange(6.0).reshape(2, 3), 'b': np.array([1.0, -1.0])}


class Recorder:
    """loss_function(X, model, y=None, reg=0.0) of a model with parameters W and b.

    With y, returns (loss, grads) where grads come from `grad_fn(model)` and
    the loss is the linear sum(G * params), so that it tracks the parameters;
    without y, returns constant scores. Every training call is recorded."""

    def __init__(self, grad_fn=lambda model: G):
        self.grad_fn = grad_fn
        self.calls = []

    def __call__(self, X, model, y=None, reg=0.0):
        if y is None:
            return np.zeros((X.shape[0], 2))
        self.calls.append((X.copy(), np.array(y).copy(), reg))
        loss = sum(np.sum(G[k] * model[k]) for k in model)
        grads = self.grad_fn(model)
        return loss, {k: np.array(v, dtype=float) for k, v in grads.items()}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((10, 3)), np.arange(10) % 2


def train(data, loss_function, model, **kwargs):
    X, y = data
    settings = dict(learning_rate=LR, momentum=MOMENTUM, learning_rate_decay=1.0,
                    sample_batches=False, num_epochs=1)
    settings.update(kwargs)
    trainer = ClassifierTrainer()
    assert trainer.step_cache == {}
    return trainer.train(X, y, X, y, model, loss_function, **settings)


def constant_gradient_params(update, steps):
    """Parameters after `steps` updates with the constant gradient G, worked out by hand."""
    model = start()
    for k, g in G.items():
        if update == 'sgd':
            # x_n = x_0 - n lr g
            model[k] = model[k] - steps * LR * g
        elif update == 'momentum':
            # v_1 = -lr g, v_2 = -(1 + m) lr g, v_3 = -(1 + m + m^2) lr g; x_n = x_0 + v_1 + ... + v_n
            total = [0, 1, 2 + MOMENTUM, 3 + 2 * MOMENTUM + MOMENTUM ** 2][steps]
            model[k] = model[k] - total * LR * g
        else:
            # cache_n = (1 - 0.99^n) g^2; x_n = x_0 - sum over j of lr g / sqrt(cache_j + 1e-8)
            model[k] = model[k] - sum(LR * g / np.sqrt((1 - 0.99 ** j) * g ** 2 + 1e-8)
                                      for j in range(1, steps + 1))
    return model


@pytest.mark.parametrize('steps', [1, 2, 3])
@pytest.mark.parametrize('update', ['sgd', 'momentum', 'rmsprop'])
def test_update_with_constant_gradient(data, update, steps):
    model = start()
    _, history, _, _ = train(data, Recorder(), model, update=update, num_epochs=steps)
    expected = constant_gradient_params(update, steps)
    for k in G:
        np.testing.assert_allclose(model[k], expected[k], rtol=1e-12, atol=1e-12)
    # The loss is recorded before each update: it is that of the previous parameters.
    before = [start()] + [constant_gradient_params(update, n) for n in range(1, steps)]
    np.testing.assert_allclose(history, [sum(np.sum(G[k] * p[k]) for k in G) for p in before],
                               rtol=1e-12)


def quadratic_grads(model):
    """Gradient of sum(x**2 + x) for each parameter: it changes at every step."""
    return {k: 2 * v + 1 for k, v in model.items()}


@pytest.mark.parametrize('update', ['sgd', 'momentum', 'rmsprop'])
def test_update_with_changing_gradient(data, update):
    expected, state = start(), {k: 0.0 for k in G}
    for steps in (1, 2, 3):
        for k, x in expected.items():
            dx = 2 * x + 1
            if update == 'sgd':
                expected[k] = x - LR * dx
            elif update == 'momentum':
                state[k] = MOMENTUM * state[k] - LR * dx
                expected[k] = x + state[k]
            else:
                state[k] = 0.99 * state[k] + 0.01 * dx ** 2
                expected[k] = x - LR * dx / np.sqrt(state[k] + 1e-8)
        model = start()
        train(data, Recorder(quadratic_grads), model, update=update, num_epochs=steps)
        for k in G:
            np.testing.assert_allclose(model[k], expected[k], rtol=1e-12, atol=1e-12)


def test_unknown_update_raises(data):
    with pytest.raises(ValueError):
        train(data, Recorder(), start(), update='adam')


@pytest.mark.parametrize('N, batch_size, num_epochs', [(10, 3, 2), (10, 5, 3), (10, 10, 1)])
def test_minibatch_epochs(N, batch_size, num_epochs):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((N, 4)), rng.integers(3, size=N)
    loss_fn = Recorder()
    _, history, _, _ = train((X, y), loss_fn, start(), update='sgd', sample_batches=True,
                             batch_size=batch_size, num_epochs=num_epochs, reg=0.25)
    steps = num_epochs * (N // batch_size)
    assert len(loss_fn.calls) == len(history) == steps
    for X_batch, y_batch, reg in loss_fn.calls:
        assert X_batch.shape == (batch_size, 4) and y_batch.shape == (batch_size,)
        assert reg == 0.25
        for row, label in zip(X_batch, y_batch, strict=True):
            i = np.flatnonzero((X == row).all(axis=1))
            assert len(i) == 1 and y[i[0]] == label


@pytest.mark.parametrize('num_epochs', [1, 4])
def test_full_batch_is_one_step_per_epoch(data, num_epochs):
    X, y = data
    loss_fn = Recorder()
    _, history, _, _ = train(data, loss_fn, start(), update='sgd', num_epochs=num_epochs,
                             batch_size=3)
    assert len(loss_fn.calls) == len(history) == num_epochs
    for X_batch, y_batch, _ in loss_fn.calls:
        np.testing.assert_array_equal(X_batch, X)
        np.testing.assert_array_equal(y_batch, y)


def test_learning_rate_decays_once_per_epoch():
    """3 minibatch steps per epoch, constant gradient: with sgd each step moves
    the linear loss by -lr * sum(G**2), so the losses reveal every learning rate."""
    X, y = np.zeros((6, 2)), np.zeros(6, dtype=int)
    model = start()
    _, history, _, _ = train((X, y), Recorder(), model, update='sgd', sample_batches=True,
                             batch_size=2, num_epochs=3, learning_rate_decay=0.5)
    g2 = sum(np.sum(g ** 2) for g in G.values())
    rates = -np.diff(history) / g2
    np.testing.assert_allclose(rates, [LR] * 3 + [LR / 2] * 3 + [LR / 4] * 2, rtol=1e-9)
    for k in G:    # and the last step, which no recorded loss shows
        np.testing.assert_allclose(model[k], start()[k] - (3 + 1.5 + 0.75) * LR * G[k])


def test_best_model_is_a_copy_of_the_best_validation_parameters():
    """x moves 1, 2, 3, 4, 5 (sgd, lr 1, gradient -1); class 1 wins only at x = 2.
    Validation labels are all 1, training labels all 0: the best model is chosen
    by validation accuracy alone."""
    def loss_function(X, model, y=None, reg=0.0):
        x = model['x'][0]
        if y is None:
            return np.tile([0.0, 0.5 - (x - 2) ** 2], (X.shape[0], 1))
        return -x, {'x': np.array([-1.0])}

    X = np.zeros((4, 1))
    model = {'x': np.array([0.0])}
    best, history, train_acc, val_acc = ClassifierTrainer().train(
        X, np.zeros(4, dtype=int), X, np.ones(4, dtype=int), model, loss_function,
        learning_rate=1.0, update='sgd', sample_batches=False, num_epochs=5,
        learning_rate_decay=1.0)
    assert history == [0.0, -1.0, -2.0, -3.0, -4.0]
    assert list(val_acc) == [0, 1, 0, 0, 0] and list(train_acc) == [1, 0, 1, 1, 1]
    assert model['x'][0] == 5.0 and best['x'][0] == 2.0
    assert best['x'] is not model['x']
    model['x'][0] = 100.0
    assert best['x'][0] == 2.0


@pytest.mark.parametrize('update, final_loss', [('momentum', 0.494394), ('rmsprop', 0.439368)])
def test_toy_problem_final_loss(toy, update, final_loss):
    X, y, model = toy
    _, history, _, _ = ClassifierTrainer().train(
        X, y, X, y, model, two_layer_net, reg=0.001, learning_rate=1e-1, momentum=0.9,
        learning_rate_decay=1, update=update, sample_batches=False, num_epochs=100)
    assert len(history) == 100
    assert abs(history[-1] - final_loss) < 1e-6
