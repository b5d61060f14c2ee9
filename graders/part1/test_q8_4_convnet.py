"""Q8.4 ConvNet on CIFAR-10: the given two_layer_convnet run on the submission's layers and trainer.

The convnet itself is given code; what it exercises is the submission's affine and ReLU layers, the
fast layers built from its Cython extension, and its trainer. The trainer runs with update='sgd'
(given code) so that a broken momentum branch costs points in Q8.2 only.
"""

import numpy as np
import pytest

from graders.engine.checks import as_array, as_scalar, as_tuple, expect_close
from graders.engine.plugin import fail
from graders.part1.reference import part1

CONVNET = 'cs231n.classifiers.convnet'
NET = f'{CONVNET}:two_layer_convnet'
TRAINER = 'cs231n.classifier_trainer:ClassifierTrainer'


@pytest.fixture
def ref():
    return part1(CONVNET)


def init_model(worker, **options):
    model = worker.call(f'{CONVNET}:init_two_layer_convnet', **options)
    if not isinstance(model, dict) or set(model) != {'W1', 'b1', 'W2', 'b2'}:
        fail(f'init_two_layer_convnet must return a dict of W1, b1, W2, b2, got {type(model).__name__}')
    return model


@pytest.mark.points('Q8.4', 1)
def test_initial_loss(worker, ref, rng, extension, tolerance):
    """The convnet's loss on its initial weights matches the reference (about log 10)"""
    model = init_model(worker, input_shape=(3, 16, 16), num_filters=8, filter_size=5)
    X = rng.standard_normal((6, 3, 16, 16))
    y = rng.integers(0, 10, size=6)
    for reg in (0.0, 1.0):
        loss, _ = as_tuple('two_layer_convnet(X, model, y, reg)', worker.call(NET, X, model, y, reg), 2)
        expect_close(f'initial loss with reg={reg}', np.asarray(as_scalar('loss', loss)),
                     np.asarray(ref.two_layer_convnet(X, model, y, reg)[0]), tolerance)


@pytest.mark.points('Q8.4', 1)
def test_gradients(worker, ref, rng, extension, tolerance):
    """The convnet's gradients (2 inputs of 3x16x16, 3 filters of 3x3) match the reference"""
    model = init_model(worker, input_shape=(3, 16, 16), num_filters=3, filter_size=3, weight_scale=0.1)
    X = rng.standard_normal((2, 3, 16, 16))
    y = rng.integers(0, 10, size=2)
    _, grads = as_tuple('two_layer_convnet(X, model, y, reg)', worker.call(NET, X, model, y, 0.3), 2)
    expected = ref.two_layer_convnet(X, model, y, 0.3)[1]
    if not isinstance(grads, dict) or set(grads) != set(expected):
        fail('two_layer_convnet must return grads for W1, b1, W2, b2')
    for name in ('W1', 'b1', 'W2', 'b2'):
        expect_close(f'grads[{name!r}]', grads[name], expected[name], tolerance)


@pytest.mark.points('Q8.4', 1)
def test_overfit_small_set(worker, extension, cifar_task, record_property):
    """Training on 50 CIFAR-10 images reaches at least 0.9 training accuracy"""
    task = cifar_task('convnet_overfit')
    X, y, _ = task.images()
    run = task.run
    model = init_model(worker, filter_size=run['filter_size'], num_filters=run['num_filters'])
    result = as_tuple('ClassifierTrainer.train(...)', worker.call_method(
        worker.call(TRAINER), 'train', X, y, X, y, model, worker.function(NET), reg=run['reg'],
        learning_rate=run['learning_rate'], update='sgd', num_epochs=run['num_epochs'],
        batch_size=run['batch_size'], timeout=task.timeout), 4)
    task.show_curves('loss', {'loss': result[1]})
    train_accuracy = [as_scalar('train_acc_history entry', a) for a in result[2]]
    record_property('training_accuracy', round(max(train_accuracy, default=0.0), 4))
    if not train_accuracy or max(train_accuracy) < run['threshold']:
        fail(f'training accuracy on 50 images reached only {max(train_accuracy, default=0):.2f} '
             f'(expected at least {run["threshold"]})')


@pytest.mark.points('Q8.4', 1)
def test_cifar10_accuracy(worker, extension, cifar_task):
    """The convnet trained by the grader for a bounded run reaches the rubric's held-out accuracy"""
    task = cifar_task('convnet')
    X_train, y_train, X_heldout = task.images()
    run = task.run
    n_val = 200
    model = init_model(worker, filter_size=run['filter_size'], num_filters=run['num_filters'])
    result = as_tuple('ClassifierTrainer.train(...)', worker.call_method(
        worker.call(TRAINER), 'train', X_train[:-n_val], y_train[:-n_val], X_train[-n_val:], y_train[-n_val:],
        model, worker.function(NET), reg=run['reg'], learning_rate=run['learning_rate'], update='sgd',
        num_epochs=run['num_epochs'], batch_size=run['batch_size'], timeout=task.timeout), 4)
    task.show_curves('loss', {'loss': result[1]})
    task.show_curves('accuracy', {'training': result[2], 'validation': result[3]}, 'epoch')
    scores = as_array('two_layer_convnet(X, best_model)',
                      worker.call(NET, X_heldout, result[0]), (len(X_heldout), 10))
    task.expect_accuracy(np.argmax(scores, axis=1))
