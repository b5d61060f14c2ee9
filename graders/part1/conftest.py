"""Fixtures of the Part 1 checks: grader-controlled CIFAR-10 runs.

The sandbox receives training images and labels and the held-out images; the held-out labels stay
in this process, which scores the predictions that come back. The held-out images are drawn per grade
with the course secret and transformed (graders/data/heldout.py), so their public labels cannot be looked
up; an accuracy above the run's plausibility ceiling (rubric `ceiling`) earns nothing and is flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from graders.data import cifar10, heldout
from graders.engine import pictures
from graders.engine.checks import as_array
from graders.engine.outcome import GraderError
from graders.engine.plugin import PICTURE, fail


@dataclass
class CifarTask:
    """One grader-controlled run: its settings (a table of rubric.toml) and its data."""
    name: str
    run: dict
    train_images: np.ndarray      # (N, 32, 32, 3) float64
    train_labels: np.ndarray      # (N,)
    heldout_images: np.ndarray    # (M, 32, 32, 3) float64
    heldout_labels: np.ndarray    # (M,), never sent to the sandbox
    record: Callable[[str, object], None]   # pytest's record_property: the figure goes to the report
    timeout: float = 600.0
    notes: list[str] | None = None          # the report's notes: where a review flag goes

    def _centered(self):
        mean = self.train_images.mean(axis=0)
        return self.train_images - mean, self.heldout_images - mean

    def columns(self):
        """softmax.ipynb's layout: X (3073, N) with a row of ones, examples as columns."""
        train, heldout = self._centered()
        def to_columns(images):
            flat = images.reshape(len(images), -1)
            return np.hstack([flat, np.ones((len(images), 1))]).T.copy()
        return to_columns(train), self.train_labels, to_columns(heldout)

    def rows(self):
        """two_layer_net.ipynb's layout: X (N, 3072)."""
        train, heldout = self._centered()
        return train.reshape(len(train), -1), self.train_labels, heldout.reshape(len(heldout), -1)

    def images(self):
        """convnet.ipynb's layout: X (N, 3, 32, 32)."""
        train, heldout = self._centered()
        return train.transpose(0, 3, 1, 2).copy(), self.train_labels, heldout.transpose(0, 3, 1, 2).copy()

    def show_curves(self, what: str, series: dict, x_label: str = 'iteration') -> None:
        """A chart of the run's curves in the report beside the check (no points; never fails): the
        numbers the submission's training returned, checked and drawn here (graders/engine/pictures.py)."""
        self.record(PICTURE, pictures.curves(f"{self.name}: {what} in the grader's CIFAR-10 run", series, x_label))

    def expect_accuracy(self, predictions) -> float:
        """Score the predictions here, in the trusted process; fail below the rubric's threshold."""
        labels = as_array('predictions on the held-out images', predictions, self.heldout_labels.shape, kind='iuf')
        accuracy = float(np.mean(labels == self.heldout_labels))
        self.record('accuracy', round(accuracy, 4))
        threshold = self.run['threshold']
        heldout.implausible(accuracy, self.run, f'{self.name}: accuracy {accuracy:.3f} on {len(labels)} '
                            'held-out CIFAR-10 images', self.notes)
        if accuracy < threshold:
            fail(f'{self.name}: accuracy {accuracy:.3f} on {len(labels)} held-out CIFAR-10 images, '
                 f'below the {threshold:.2f} that correct code reaches with the grader\'s settings')
        return accuracy


@pytest.fixture(scope='session')
def course_secret(settings, context_notes) -> heldout.CourseSecret:
    """The course secret of the held-out draws (graders/data/heldout.py); a note says when it is the demo one."""
    try:
        secret = heldout.course_secret(settings)
    except heldout.SecretError as err:
        raise GraderError(f'the grader\'s course secret is unusable: {err}') from None
    if secret.demo and heldout.DEMO_NOTE not in context_notes:
        context_notes.append(heldout.DEMO_NOTE)
    return secret


@pytest.fixture(scope='session')
def heldout_pool(settings, cifar_batches) -> heldout.HeldOut:
    """Where held-out images are drawn from: rubric [heldout] images (staff's own folder), else
    CIFAR-10's public test batch."""
    folder = heldout.settings_of(settings)['images']
    if not folder:
        return heldout.HeldOut(cifar_batches[2], cifar_batches[3])
    try:
        return heldout.load_image_folder(folder)
    except heldout.ImagesError as err:
        raise GraderError(f'the grader\'s held-out images are unusable: {err}') from None


@pytest.fixture(scope='session')
def draw_heldout(settings, course_secret, heldout_pool, submission_digest):
    """`draw_heldout(run name, n, seed)` -> HeldOut: this submission's held-out images of one run."""
    def draw(run: str, n: int, seed: int = 0) -> heldout.HeldOut:
        return heldout.draw_for_grade(settings, course_secret, heldout_pool, run, n, submission_digest, seed)
    return draw


@pytest.fixture
def tolerance(settings) -> float:
    """The relative error every comparison with the reference allows (rubric [tolerances])."""
    return settings['tolerances']['relative_error']


@pytest.fixture(scope='session')
def cifar_batches(cifar10_dir):
    """(train images, train labels, test images, test labels) from the real archive, uint8 images."""
    try:
        return cifar10.load_batches(cifar10_dir)
    except cifar10.DataError as err:
        fail(f'the CIFAR-10 data in {cifar10_dir} cannot be read: {err}')


@pytest.fixture
def cifar_task(settings, cifar_batches, draw_heldout, worker, record_property, context_notes):
    """`cifar_task(name)` -> CifarTask for the rubric's [cifar10.<name>] run: the first training images,
    held-out images drawn for this submission; the worker's numpy random state is seeded so that a
    regrade replays the same run."""
    def make(name: str) -> CifarTask:
        run = settings['cifar10'][name]
        train_x, train_y, _, _ = cifar_batches
        n, m = run['train_images'], run['heldout_images']
        seed = int(run.get('seed', 0))
        held = draw_heldout(f'cifar10.{name}', m, seed)
        worker.call('numpy.random:seed', seed)
        return CifarTask(name, run, train_x[:n].astype(np.float64), train_y[:n].astype(np.int64),
                         held.images.astype(np.float64), held.labels, record_property,
                         float(run.get('timeout', 600)), context_notes)
    return make


@pytest.fixture(scope='session')
def extension(sandbox, submission, context_notes, build_cache, budget):
    """The submission's Cython extension, built inside the sandbox from its own .pyx; the checks that
    need the fast layers fail with the build's message when it does not build (with the budget's
    verdict when the grading budget cut the build short)."""
    from graders.engine.bridge import BudgetExhausted
    from graders.part1.build import BUILD_TIMEOUT, build_extension
    timeout, _ = budget.cap(BUILD_TIMEOUT) if budget is not None else (BUILD_TIMEOUT, False)
    build = build_extension(submission, sandbox, cache_dir=build_cache, timeout=max(timeout, 1.0))
    context_notes.extend(build.notes)
    if not build.ok and budget is not None and budget.exhausted:
        raise BudgetExhausted(budget.stop())
    if not build.ok:
        fail(f'the Cython extension (cs231n/im2col_cython.pyx) did not build: {build.message}')
    return build
