"""Linear classifiers trained with minibatch stochastic gradient descent."""
import numpy as np

from cs231n.classifiers.softmax import softmax_loss_vectorized


class LinearClassifier:

    def __init__(self):
        self.W = None

    def train(self, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
              batch_size=200, verbose=False):
        """
        Train this linear classifier with stochastic gradient descent.

        Inputs:
        - X: training data of shape (D, N), one example per column
        - y: training labels of shape (N,), with 0 <= y[i] < C for C classes
        - learning_rate: step size of each update
        - reg: regularization strength
        - num_iters: number of steps to take
        - batch_size: number of training examples in each step
        - verbose: if True, print progress during optimization

        Returns:
        - loss_history: list of the loss at each iteration (length num_iters)
        """
        dim, num_train = X.shape
        num_classes = np.max(y) + 1
        if self.W is None:
            # Small random weights, created on first use.
            self.W = np.random.randn(num_classes, dim) * 0.001

        loss_history = []
        for it in range(num_iters):
            # TODO: LinearClassifier.train: sample batch_size random examples into X_batch (dim, batch_size) and y_batch (batch_size,)
            raise NotImplementedError('LinearClassifier.train: sample batch_size random examples into X_batch (dim, batch_size) and y_batch (batch_size,)')

            loss, grad = self.loss(X_batch, y_batch, reg)
            loss_history.append(loss)
            # TODO: LinearClassifier.train: update the weights self.W with a gradient descent step
            raise NotImplementedError('LinearClassifier.train: update the weights self.W with a gradient descent step')

            if verbose and it % 100 == 0:
                print('iteration %d / %d: loss %f' % (it, num_iters, loss))

        return loss_history

    def predict(self, X):
        """
        Predict labels with the trained weights.

        Inputs:
        - X: data of shape (D, N), one example per column

        Returns:
        - y_pred: predicted labels of shape (N,), integers in [0, C)
        """
        # TODO: LinearClassifier.predict: predict the label of each column of X from the scores self.W.dot(X)
        raise NotImplementedError('LinearClassifier.predict: predict the label of each column of X from the scores self.W.dot(X)')
        return y_pred

    def loss(self, X_batch, y_batch, reg):
        """
        Compute the loss and its gradient; subclasses override this.

        Inputs:
        - X_batch: data of shape (D, batch_size), one example per column
        - y_batch: labels of shape (batch_size,)
        - reg: regularization strength

        Returns a tuple of:
        - loss: scalar
        - gradient with respect to self.W, an array of the same shape as W
        """
        raise NotImplementedError('a LinearClassifier subclass defines its loss')


class Softmax(LinearClassifier):
    """A linear classifier that uses the softmax (cross-entropy) loss."""

    def loss(self, X_batch, y_batch, reg):
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg)
