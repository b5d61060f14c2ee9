"""Q8.2 Two-layer network: classifiers/neural_net.py and the trainer's momentum and RMSProp updates.

The network's regularization is pinned to 0.5 * reg * (sum(W1**2) + sum(W2**2)) by the notebook's
expected loss. The trainer is run with the submission's own two_layer_net on full batches
(sample_batches=False), so its loss history is deterministic and compared with the reference's, in
every standard form of the rule: RMSProp with eps inside the square root (the assignment's) or outside
it (CS231n's own notes) are both correct.
"""

import numpy as np
import pytest

from graders.engine.checks import as_array, as_scalar, as_tuple, expect_close, rel_error
from graders.engine.plugin import fail
from graders.part1.problems import random_two_layer_problem, toy_two_layer_problem
from graders.part1.reference import part1, trainer_forms

NET = 'cs231n.classifiers.neural_net:two_layer_net'
TRAINER = 'cs231n.classifier_trainer:ClassifierTrainer'
PARAMS = ('W1', 'b1', 'W2', 'b2')
# Loss histories of 40-100 steps compound rounding differences of correct code (loops or vectorized).
HISTORY_TOLERANCE = 1e-4


@pytest.fixture
def ref():
    return part1('cs231n.classifiers.neural_net')


def problems(rng):
    """The notebook's toy problem and two fresh ones (one of a single example)."""
    yield 'the toy problem', *toy_two_layer_problem()
    yield 'a fresh problem', *random_two_layer_problem(rng)
    yield 'a fresh problem of one example', *random_two_layer_problem(rng, n=1, d=5, h=3, c=6)


@pytest.mark.points('Q8.2', 1)
def test_scores(worker, ref, rng, tolerance):
    """two_layer_net(X, model) returns the scores (N, C)"""
    for label, X, y, model in problems(rng):
        expect_close(f'scores on {label}', worker.call_checked(NET, X, model), ref.two_layer_net(X, model), tolerance)


@pytest.mark.points('Q8.2', 1)
def test_loss(worker, ref, rng, tolerance):
    """two_layer_net(X, model, y, reg) returns the loss with 0.5 * reg * (|W1|^2 + |W2|^2)"""
    for label, X, y, model in problems(rng):
        for reg in (0.0, 0.1, 2.0):
            loss, _ = as_tuple('two_layer_net(X, model, y, reg)', worker.call_checked(NET, X, model, y, reg), 2)
            expect_close(f'loss on {label} with reg={reg}', np.asarray(as_scalar('loss', loss)),
                         np.asarray(ref.two_layer_net(X, model, y, reg)[0]), tolerance)


@pytest.mark.points('Q8.2', 1)
def test_gradients(worker, ref, rng, tolerance):
    """two_layer_net's gradients match the reference for W1, b1, W2, b2"""
    for label, X, y, model in problems(rng):
        for reg in (0.0, 0.7):
            _, grads = as_tuple('two_layer_net(X, model, y, reg)', worker.call(NET, X, model, y, reg), 2)
            if not isinstance(grads, dict) or set(grads) != set(PARAMS):
                fail(f'grads must be a dict with keys {", ".join(PARAMS)}, got '
                     f'{sorted(grads) if isinstance(grads, dict) else type(grads).__name__}')
            expected = ref.two_layer_net(X, model, y, reg)[1]
            for name in PARAMS:
                expect_close(f'grads[{name!r}] on {label} with reg={reg}', grads[name], expected[name], tolerance)


def compare_training(worker, rng, update, momentum):
    """Train the toy problem and a fresh one with `update`; the loss histories must match the
    reference's, in one of the standard forms of the rule (the same form for both problems)."""
    net_ref = part1('cs231n.classifiers.neural_net').two_layer_net
    loss_function = worker.function(NET)
    runs = [('the toy problem', *toy_two_layer_problem(), 0.001, 1e-1, 1.0, 100),
            ('a fresh problem', *random_two_layer_problem(rng, n=12), 0.01, 3e-2, 0.9, 40)]
    forms = trainer_forms(update)
    for label, X, y, model, reg, lr, decay, epochs in runs:
        options = dict(reg=reg, learning_rate=lr, momentum=momentum, learning_rate_decay=decay,
                       update=update, sample_batches=False, num_epochs=epochs)
        trainer = worker.call(TRAINER)
        result = as_tuple(f'ClassifierTrainer.train(..., update={update!r})',
                          worker.call_method(trainer, 'train', X, y, X, y, model, loss_function, **options), 4)
        history = np.array([as_scalar('loss_history entry', v) for v in result[1]])
        expected = {form: np.array(cls().train(X, y, X, y, {k: v.copy() for k, v in model.items()},
                                               net_ref, **options)[1])
                    for form, cls in forms.items()}
        first = next(iter(expected.values()))
        as_array(f'loss_history on {label}', history, first.shape)
        matching = [form for form, values in expected.items()
                    if rel_error(history, values) <= HISTORY_TOLERANCE]
        if not matching:
            expect_close(f'loss_history with update={update!r} on {label} (final loss {first[-1]:.6f})',
                         history, first, HISTORY_TOLERANCE)
        forms = {form: forms[form] for form in matching}   # the next problem must follow the same form


@pytest.mark.points('Q8.2', 1)
def test_momentum(worker, rng):
    """ClassifierTrainer with update='momentum' follows v = momentum * v - lr * dx"""
    compare_training(worker, rng, 'momentum', 0.9)


@pytest.mark.points('Q8.2', 1)
def test_rmsprop(worker, rng):
    """ClassifierTrainer with update='rmsprop' follows cache = 0.99 cache + 0.01 dx^2"""
    compare_training(worker, rng, 'rmsprop', 0.0)


@pytest.mark.points('Q8.2', 1)
def test_cifar10_accuracy(worker, cifar_task):
    """A two-layer net trained by the grader with the submission's trainer reaches the rubric's accuracy"""
    task = cifar_task('two_layer_net')
    X_train, y_train, X_heldout = task.rows()
    run = task.run
    model = worker.call('cs231n.classifiers.neural_net:init_two_layer_model', X_train.shape[1], run['hidden_size'], 10)
    trainer = worker.call(TRAINER)
    # Validation data for the trainer's model selection: the last training images, labels known.
    n_val = 1000
    result = as_tuple('ClassifierTrainer.train(...)', worker.call_method(
        trainer, 'train', X_train[:-n_val], y_train[:-n_val], X_train[-n_val:], y_train[-n_val:], model,
        worker.function(NET), reg=run['reg'], learning_rate=run['learning_rate'],
        momentum=run['momentum'], learning_rate_decay=run['learning_rate_decay'], update='momentum',
        num_epochs=run['num_epochs'], batch_size=run['batch_size'], timeout=task.timeout), 4)
    task.show_curves('loss', {'loss': result[1]})
    task.show_curves('accuracy', {'training': result[2], 'validation': result[3]}, 'epoch')
    scores = as_array('two_layer_net(X, best_model)', worker.call(NET, X_heldout, result[0]), (len(X_heldout), 10))
    task.expect_accuracy(np.argmax(scores, axis=1))
