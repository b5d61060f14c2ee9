"""Q8.1 Softmax regression: cs231n/classifiers/softmax.py and linear_classifier.py.

W is C x D with the bias as its last column and X is D x N (examples are columns). Both
regularization conventions are correct: reg * sum(W**2) with gradient 2 * reg * W, and
0.5 * reg * sum(W**2) with gradient reg * W. What is wrong is a loss and a gradient that disagree.

Which convention a submission follows is read once, on a problem built to tell them apart (weights of
order 1, so the two losses differ by about 0.5 * reg * |W|^2 = 5, and inputs small enough that no
softmax saturates): with the notebook's tiny weights both conventions give losses within the tolerance
of each other, and the first one to match would hold the gradient to the wrong one. The numeric
gradient is taken in the same unsaturated regime, where the standard numerical guards (log(p + 1e-10),
clipped probabilities) change the loss by far less than the tolerance.
"""

import numpy as np
import pytest

from graders.engine.checks import as_array, as_scalar, as_tuple, expect_close, rel_error
from graders.engine.plugin import fail
from graders.part1.problems import conventions, matching_conventions, problem, telling_problem

LOSS = 'cs231n.classifiers.softmax:softmax_loss_vectorized'
SOFTMAX = 'cs231n.classifiers.linear_classifier:Softmax'
# C, D, N, weight scale: CIFAR-sized, small, one example, and the notebook's initial scale 1e-4 (there
# the two conventions' losses are within the tolerance of each other).
PROBLEMS = [(10, 3073, 40, 1e-3), (4, 7, 9, 1e-3), (3, 5, 1, 1e-3), (3, 5, 2, 1e-4)]
REGS = (0.0, 0.37)


def submitted_loss(worker, W, X, y, reg):
    loss, dW = as_tuple('softmax_loss_vectorized(W, X, y, reg)', worker.call_checked(LOSS, W, X, y, reg), 2)
    return as_scalar('loss', loss), as_array('dW', dW, W.shape)


def submission_convention(worker, rng) -> str:
    """The convention the submission's loss follows, read on a telling problem; fails if neither."""
    W, X, y = telling_problem(rng)
    reg = REGS[1]
    loss, _ = submitted_loss(worker, W, X, y, reg)
    found = matching_conventions(loss, W, X, y, reg)
    if not found:
        expected = ' or '.join(f'{v[0]:.8f} ({k})' for k, v in conventions(W, X, y, reg).items())
        fail(f'loss for C={W.shape[0]}, D={W.shape[1]}, N={X.shape[1]}, reg={reg} with weights of order 1: '
             f'expected {expected}, got {loss:.8f}, so the gradient cannot be checked')
    return found[0]


@pytest.mark.points('Q8.1', 1)
def test_loss(worker, rng):
    """softmax_loss_vectorized returns the cross-entropy loss plus regularization"""
    for c, d, n, scale in PROBLEMS:
        W, X, y = problem(rng, c, d, n, scale)
        for reg in REGS:
            loss, _ = submitted_loss(worker, W, X, y, reg)
            if not matching_conventions(loss, W, X, y, reg):
                expected = ' or '.join(f'{v[0]:.8f} ({k})' for k, v in conventions(W, X, y, reg).items())
                fail(f'loss for C={c}, D={d}, N={n}, reg={reg}: expected {expected}, got {loss:.8f}')


@pytest.mark.points('Q8.1', 1)
def test_gradient(worker, rng, settings, tolerance):
    """softmax_loss_vectorized's gradient matches its own loss (analytic and numeric)"""
    convention = submission_convention(worker, rng)
    for c, d, n, scale in PROBLEMS:
        W, X, y = problem(rng, c, d, n, scale)
        for reg in REGS:
            loss, dW = submitted_loss(worker, W, X, y, reg)
            if convention not in matching_conventions(loss, W, X, y, reg):
                fail(f'the loss for C={c}, D={d}, N={n}, reg={reg} does not follow {convention} (the convention '
                     'your loss follows elsewhere), so its gradient cannot be checked')
            expect_close(f'dW for C={c}, D={d}, N={n}, reg={reg} (loss uses {convention})',
                         dW, conventions(W, X, y, reg)[convention][1], tolerance)
    # The numeric gradient of the submission's own loss, on a few coordinates, with weights of order 1
    # (a wrong regularization factor is visible) and no saturated softmax.
    W, X, y = telling_problem(rng)
    reg, h = REGS[1], 1e-5
    _, dW = submitted_loss(worker, W, X, y, reg)
    for _ in range(6):
        i = tuple(int(rng.integers(s)) for s in W.shape)
        plus, minus = W.copy(), W.copy()
        plus[i] += h
        minus[i] -= h
        numeric = (submitted_loss(worker, plus, X, y, reg)[0] - submitted_loss(worker, minus, X, y, reg)[0]) / (2 * h)
        if rel_error(numeric, dW[i]) > settings['tolerances']['numeric_gradient']:
            fail(f'dW{list(i)} = {dW[i]:.8g} but the numeric gradient of your own loss there is {numeric:.8g}')


@pytest.mark.points('Q8.1', 1)
def test_train(worker, rng):
    """LinearClassifier.train initializes W (C x D), returns one loss per iteration, and the loss decreases"""
    c, d, n = 3, 21, 300
    centers = rng.standard_normal((c, d - 1)) * 3
    y = rng.integers(0, c, size=n)
    X = np.vstack([(centers[y] + rng.standard_normal((n, d - 1))).T, np.ones((1, n))])
    classifier = worker.call(SOFTMAX)
    history = worker.call_method(classifier, 'train', X, y, learning_rate=1e-2, reg=1e-5,
                                 num_iters=60, batch_size=50)
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != 60:
        got = len(history) if hasattr(history, '__len__') else repr(history)
        fail(f'train(..., num_iters=60) must return 60 losses, got {got}')
    losses = np.array([as_scalar(f'loss_history[{i}]', v) for i, v in enumerate(history)])
    as_array('self.W after train', worker.get_attr(classifier, 'W'), (c, d))
    if not losses[-10:].mean() < 0.5 * losses[:5].mean():
        fail(f'the loss did not decrease on an easy problem: first {losses[:5].mean():.3f}, '
             f'last {losses[-10:].mean():.3f}')


@pytest.mark.points('Q8.1', 1)
def test_predict(worker, rng):
    """LinearClassifier.predict returns integer labels of shape (N,): the argmax of W X"""
    W, X, _ = problem(rng, 10, 3073, 37)
    classifier = worker.call(SOFTMAX)
    worker.set_attr(classifier, 'W', W * 1e3)
    labels = as_array('predict(X)', worker.call_method(classifier, 'predict', X), (37,), kind='iuf')
    if labels.dtype.kind == 'f' and not np.all(labels == np.round(labels)):
        fail('predict(X) must return class labels (integers), not scores')
    expected = np.argmax((W * 1e3).dot(X), axis=0)
    wrong = int(np.sum(labels != expected))
    if wrong:
        fail(f'predict(X): {wrong} of 37 labels differ from the argmax of W.dot(X)')


@pytest.mark.points('Q8.1', 1)
def test_cifar10_accuracy(worker, cifar_task):
    """Softmax trained by the grader on CIFAR-10 reaches the rubric's accuracy on held-out images"""
    task = cifar_task('softmax')
    X_train, y_train, X_heldout = task.columns()
    classifier = worker.call(SOFTMAX)
    history = worker.call_method(classifier, 'train', X_train, y_train, learning_rate=task.run['learning_rate'],
                                 reg=task.run['reg'], num_iters=task.run['num_iters'],
                                 batch_size=task.run['batch_size'], timeout=task.timeout)
    task.show_curves('loss', {'loss': history})
    predictions = worker.call_method(classifier, 'predict', X_heldout)
    task.expect_accuracy(predictions)
