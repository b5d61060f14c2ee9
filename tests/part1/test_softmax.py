"""Q8.1: softmax_loss_vectorized (W is C x D, X is D x N) and the linear classifiers."""
import numpy as np
import pytest

from cs231n.classifiers.linear_classifier import LinearClassifier, Softmax
from cs231n.classifiers.softmax import softmax_loss_vectorized
from tests.helpers import TOL, gradient_error

shapes = pytest.mark.parametrize('C, D, N', [(2, 1, 1), (3, 5, 4), (10, 12, 30)])


def problem(C, D, N, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((C, D))
    X = rng.standard_normal((D, N))
    y = rng.integers(C, size=N)
    return W, X, y


def softmax_by_loops(W, X, y):
    """Mean cross-entropy, one example (column of X) at a time, no regularization."""
    total = 0.0
    for i in range(X.shape[1]):
        scores = [sum(W[c, d] * X[d, i] for d in range(X.shape[0])) for c in range(W.shape[0])]
        top = max(scores)
        total += -(scores[y[i]] - top) + np.log(sum(np.exp(s - top) for s in scores))
    return total / X.shape[1]


@shapes
def test_loss_matches_loops(C, D, N):
    W, X, y = problem(C, D, N)
    saved = W.copy(), X.copy(), y.copy()
    loss, dW = softmax_loss_vectorized(W, X, y, 0.0)
    for before, after in zip(saved, (W, X, y), strict=True):
        np.testing.assert_array_equal(after, before)
    assert loss == pytest.approx(softmax_by_loops(W, X, y), rel=1e-10)
    assert dW.shape == W.shape


@shapes
@pytest.mark.parametrize('reg', [1e-3, 1.0, 10.0])
def test_regularization_is_one_of_the_two_conventions(C, D, N, reg):
    """reg*sum(W**2) and 0.5*reg*sum(W**2) are both accepted (API.md)."""
    W, X, y = problem(C, D, N)
    extra = softmax_loss_vectorized(W, X, y, reg)[0] - softmax_loss_vectorized(W, X, y, 0.0)[0]
    penalty = reg * np.sum(W ** 2)
    assert extra == pytest.approx(penalty, rel=1e-9) or extra == pytest.approx(penalty / 2, rel=1e-9)


@shapes
@pytest.mark.parametrize('reg', [0.0, 1e-3, 1.0, 10.0])
def test_gradient_matches_numeric(C, D, N, reg):
    W, X, y = problem(C, D, N, seed=C + D + N)
    _, dW = softmax_loss_vectorized(W, X, y, reg)
    assert gradient_error(lambda: softmax_loss_vectorized(W, X, y, reg)[0], W, dW) < TOL


@pytest.mark.parametrize('C', [2, 10])
def test_loss_at_tiny_weights_is_log_C(C):
    W, X, y = problem(C, 3073, 50, scale=1e-4)
    loss, _ = softmax_loss_vectorized(W, X, y, 1e-5)
    assert loss == pytest.approx(np.log(C), abs=2e-2)


def test_huge_scores_stay_finite():
    W, X, y = problem(10, 20, 8, scale=1e3)
    with np.errstate(over='raise', invalid='raise', divide='raise'):   # not even a warning
        loss, dW = softmax_loss_vectorized(W, X, y, 0.0)
    assert np.isfinite(loss) and np.all(np.isfinite(dW))
    assert loss > 100                           # a confident, mostly wrong classifier


# ---------------------------------------------------------------- LinearClassifier

class Spy(LinearClassifier):
    """Records every minibatch; its loss is 0.5*|W|^2 so the step is known."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def loss(self, X_batch, y_batch, reg):
        self.batches.append((X_batch.copy(), y_batch.copy()))
        return 0.5 * np.sum(self.W ** 2), self.W.copy()


@pytest.fixture
def data():
    """D = 6 features (rows), N = 40 examples (columns), 4 classes."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 40))
    y = np.arange(40) % 4
    return X, y


def test_train_samples_minibatches_of_columns(data):
    X, y = data
    clf = Spy()
    history = clf.train(X, y, learning_rate=0.1, num_iters=7, batch_size=5)
    assert isinstance(history, list) and len(history) == 7
    assert len(clf.batches) == 7
    for X_batch, y_batch in clf.batches:
        assert X_batch.shape == (6, 5) and y_batch.shape == (5,)
        for column, label in zip(X_batch.T, y_batch, strict=True):
            # Each column is a column of X, with its own label.
            matches = np.flatnonzero((X.T == column).all(axis=1))
            assert len(matches) == 1 and y[matches[0]] == label


def test_train_takes_sgd_steps_and_records_losses(data):
    X, y = data
    clf = Spy()
    clf.W = W0 = np.ones((4, 6))
    history = clf.train(X, y, learning_rate=0.1, num_iters=3, batch_size=5)
    # Gradient W: each step multiplies W by 0.9; the loss is taken before the step.
    np.testing.assert_allclose(clf.W, 0.9 ** 3 * np.ones((4, 6)))
    np.testing.assert_allclose(history, [0.5 * 24 * 0.81 ** k for k in range(3)])
    assert clf.W.shape == W0.shape


def test_train_initializes_W_lazily(data):
    X, y = data
    clf = Spy()
    assert clf.W is None
    clf.train(X, y, learning_rate=0.0, num_iters=1, batch_size=5)
    assert clf.W.shape == (4, 6)                # (C, D) with C = max(y) + 1
    assert 0.0002 < clf.W.std() < 0.005         # randn * 0.001


def test_train_keeps_existing_W(data):
    X, y = data
    clf = Spy()
    clf.W = np.full((4, 6), 2.0)
    clf.train(X, y, learning_rate=0.0, num_iters=2, batch_size=5)
    np.testing.assert_array_equal(clf.W, 2.0)


def test_softmax_classifier_learns_separable_problem():
    rng = np.random.default_rng(2)
    centers = 4 * rng.standard_normal((3, 5))
    y = rng.integers(3, size=300)
    X = np.vstack([(centers[y] + 0.3 * rng.standard_normal((300, 5))).T,
                   np.ones((1, 300))])             # D x N with the bias row
    np.random.seed(0)
    clf = Softmax()
    history = clf.train(X, y, learning_rate=0.1, reg=1e-5, num_iters=200, batch_size=50)
    assert len(history) == 200
    assert np.mean(history[-20:]) < 0.2 * np.mean(history[:5])
    assert np.mean(clf.predict(X) == y) > 0.95


def test_predict_returns_argmax_labels():
    rng = np.random.default_rng(3)
    clf = LinearClassifier()
    clf.W = rng.standard_normal((5, 8))
    X = rng.standard_normal((8, 13))
    y_pred = clf.predict(X)
    assert y_pred.shape == (13,)
    assert np.issubdtype(y_pred.dtype, np.integer)
    np.testing.assert_array_equal(y_pred, np.argmax(clf.W.dot(X), axis=0))


def test_softmax_loss_method_uses_vectorized_loss(data):
    X, y = data
    clf = Softmax()
    clf.W = np.random.default_rng(4).standard_normal((4, 6))
    loss, grad = clf.loss(X, y, 0.1)
    ref_loss, ref_grad = softmax_loss_vectorized(clf.W, X, y, 0.1)
    assert loss == ref_loss
    np.testing.assert_array_equal(grad, ref_grad)
