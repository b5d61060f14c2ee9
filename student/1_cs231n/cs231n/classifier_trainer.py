"""Minibatch training of any model given as a dictionary of parameters."""
import numpy as np


class ClassifierTrainer:
    """Trains a classifier with SGD, SGD with momentum, or RMSProp."""

    def __init__(self):
        # Per-parameter state of the update rule: velocities for momentum,
        # running mean squared gradients for RMSProp.
        self.step_cache = {}

    def train(self, X, y, X_val, y_val, model, loss_function, reg=0.0,
              learning_rate=1e-2, momentum=0, learning_rate_decay=0.95,
              update='momentum', sample_batches=True, num_epochs=30,
              batch_size=100, acc_frequency=None, verbose=False):
        """
        Optimize the parameters of a model to minimize its loss.

        Inputs:
        - X: training data of shape (N, d_1, ..., d_k)
        - y: training labels of shape (N,)
        - X_val, y_val: validation data and labels, shaped like X and y
        - model: dictionary mapping parameter names to arrays; updated in place
        - loss_function: function such that loss_function(X, model, reg=reg)
          returns scores (N, C) and loss_function(X, model, y, reg) returns
          (loss, grads) with grads keyed like model
        - reg: regularization strength, passed to loss_function
        - learning_rate: initial step size
        - momentum: momentum coefficient, used when update == 'momentum'
        - learning_rate_decay: the learning rate is multiplied by this after
          each epoch
        - update: 'sgd', 'momentum' or 'rmsprop'
        - sample_batches: if True, each step uses a random minibatch of
          batch_size examples and an epoch is N // batch_size steps; if False,
          each step uses all the data and an epoch is a single step
        - num_epochs: number of epochs to train for
        - batch_size: number of examples in each minibatch
        - acc_frequency: if given, also measure accuracies every
          acc_frequency steps (they are always measured after each epoch)
        - verbose: if True, print progress

        Returns a tuple of:
        - best_model: copy of the parameters that reached the best
          validation accuracy
        - loss_history: list of the loss computed before each update
        - train_acc_history: list of training accuracies (on up to 1000
          training examples), one per measurement
        - val_acc_history: list of validation accuracies, one per measurement
        """
        N = X.shape[0]
        iterations_per_epoch = max(N // batch_size, 1) if sample_batches else 1
        num_iters = num_epochs * iterations_per_epoch

        epoch = 0
        best_val_acc = -1.0
        best_model = {}
        loss_history, train_acc_history, val_acc_history = [], [], []
        for it in range(num_iters):
            if sample_batches:
                batch = np.random.choice(N, batch_size)
                X_batch, y_batch = X[batch], y[batch]
            else:
                X_batch, y_batch = X, y

            loss, grads = loss_function(X_batch, model, y_batch, reg)
            loss_history.append(loss)

            for name in model:
                model[name] += self._step(name, grads[name], update,
                                          learning_rate, momentum)

            epoch_end = (it + 1) % iterations_per_epoch == 0
            acc_check = acc_frequency is not None and it % acc_frequency == 0
            if it == 0 or epoch_end or acc_check:
                if it > 0 and epoch_end:
                    epoch += 1
                    learning_rate *= learning_rate_decay

                train_acc = self._accuracy(X, y, model, loss_function, reg, limit=1000)
                val_acc = self._accuracy(X_val, y_val, model, loss_function, reg)
                train_acc_history.append(train_acc)
                val_acc_history.append(val_acc)
                if val_acc > best_val_acc:
                    best_val_acc = val_acc
                    best_model = {name: p.copy() for name, p in model.items()}

                if verbose:
                    print('Finished epoch %d / %d: cost %f, train: %f, val %f; lr: %e'
                          % (epoch, num_epochs, loss, train_acc, val_acc, learning_rate))

        if verbose:
            print('finished optimization. best validation accuracy: %f' % best_val_acc)
        return best_model, loss_history, train_acc_history, val_acc_history

    def _step(self, name, grad, update, learning_rate, momentum):
        """
        The change that one update rule makes to the parameter `name`.

        Inputs:
        - name: key of the parameter in the model (its state lives in step_cache)
        - grad: gradient of the loss with respect to that parameter
        - update: 'sgd', 'momentum' or 'rmsprop'
        - learning_rate, momentum: hyperparameters of the rule

        Returns:
        - dx: array shaped like grad, to be added to the parameter
        """
        if update == 'sgd':
            return -learning_rate * grad
        if update == 'momentum':
            # TODO: ClassifierTrainer.train: implement update='momentum' in _step (v = momentum * v - learning_rate * dx; x += v, velocities kept in self.step_cache)
            raise NotImplementedError("ClassifierTrainer.train: implement update='momentum' in _step (v = momentum * v - learning_rate * dx; x += v, velocities kept in self.step_cache)")
        if update == 'rmsprop':
            # TODO: ClassifierTrainer.train: implement update='rmsprop' in _step (cache = 0.99 * cache + 0.01 * dx**2; x -= learning_rate * dx / sqrt(cache + 1e-8), caches kept in self.step_cache)
            raise NotImplementedError("ClassifierTrainer.train: implement update='rmsprop' in _step (cache = 0.99 * cache + 0.01 * dx**2; x -= learning_rate * dx / sqrt(cache + 1e-8), caches kept in self.step_cache)")
        raise ValueError('Unrecognized update type "%s"' % update)

    @staticmethod
    def _accuracy(X, y, model, loss_function, reg, limit=None):
        """Fraction of correctly classified examples, on at most `limit` random ones."""
        if limit is not None and X.shape[0] > limit:
            subset = np.random.choice(X.shape[0], limit)
            X, y = X[subset], y[subset]
        scores = loss_function(X, model, reg=reg)
        return np.mean(np.argmax(scores, axis=1) == y)
