"""Fixtures of the Part 2 checks: the submission's files, the sizes its run scripts ask for, the
grader's own measurements (shared between a question's checks), CIFAR-10 and the challenge labels.

Held-out and challenge labels stay in this process; the sandbox sees images only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graders.data import challenge
from graders.engine.outcome import Note
from graders.engine.plugin import fail

# The same real CIFAR-10 batches, course secret and held-out draws as Part 1 (graders/data/heldout.py).
from graders.part1.conftest import cifar_batches, course_secret, draw_heldout, heldout_pool  # noqa: F401
from graders.part2.crosscheck import CrossCheck, cross_check, sample_ids
from graders.part2.deliverables import submitted_files
from graders.part2.models import SPECS, script_flags


@pytest.fixture(scope='session')
def files(submission) -> list[str]:
    """The submission's files (relative paths), shallowest first."""
    return submitted_files(submission)


@pytest.fixture(scope='session')
def model_flags(submission, context_notes):
    """`model_flags(name)` -> the sizes run_<name>.sh passes to train.py (noted when defaulted)."""
    cache = {}

    def get(name: str) -> dict:
        if name not in cache:
            cache[name], notes = script_flags(submission, SPECS[name])
            context_notes.extend(n for n in notes if n not in context_notes)
        return cache[name]
    return get


@pytest.fixture(scope='session')
def measured() -> dict:
    """Model name -> accuracy the grader measured by training it (filled by the training checks, read
    by the log checks that run after them)."""
    return {}


@pytest.fixture(scope='session')
def training_data(settings, cifar_batches, draw_heldout):
    """`training_data(model)` -> (train images, train labels, held-out images, held-out labels) of the
    rubric's [part2_training.<model>] run: the first training images, and held-out images drawn for this
    submission with the course secret and transformed (their labels stay here)."""
    def get(name: str):
        run = settings['part2_training'][name]
        held = draw_heldout(f'part2_training.{name}', run['heldout_images'], int(run.get('seed', 0)))
        return cifar_batches[0], cifar_batches[1], held.images, held.labels
    return get


@pytest.fixture(scope='session')
def challenge_files(settings, request) -> tuple[challenge.ChallengeLabels, Path]:
    """(the held challenge labels, their path): rubric [challenge] labels, else the set built from
    CIFAR-10's test batch with the course secret into the hw1grade cache."""
    configured = settings['challenge'].get('labels') or ''
    try:
        if configured:
            path = Path(configured)
        else:
            secret = request.getfixturevalue('course_secret')
            path = challenge.default_labels(request.getfixturevalue('cifar10_dir'), secret, settings)
        return challenge.load_labels(path), path
    except (OSError, ValueError, KeyError) as err:
        fail(f'the grader has no usable challenge labels ({type(err).__name__}: {err})')


@pytest.fixture(scope='session')
def challenge_labels(challenge_files, context_notes) -> challenge.ChallengeLabels:
    """The held challenge labels (a note says when the challenge was built with the demo secret)."""
    labels = challenge_files[0]
    if labels.demo_secret and challenge.DEMO_NOTE not in context_notes:
        context_notes.append(challenge.DEMO_NOTE)
    return labels


@pytest.fixture(scope='session')
def challenge_predictions(submission, challenge_labels) -> np.ndarray:
    """predictions.csv's labels by image id; the checks using it fail with what is wrong with it."""
    try:
        return challenge.submitted_predictions(submission, challenge_labels.n_images)
    except challenge.PredictionsError as err:
        fail(f'predictions.csv cannot be scored: {err}')


@pytest.fixture(scope='session')
def challenge_scores(challenge_predictions, challenge_labels) -> tuple[float, float]:
    """(public, full) accuracy of predictions.csv."""
    return challenge.accuracies(challenge_predictions, challenge_labels)


@pytest.fixture(scope='module')
def challenge_crosscheck(worker, submission, settings, model_flags, challenge_files, challenge_predictions,
                         course_secret, submission_digest, context_notes) -> CrossCheck:
    """predictions.csv against the submitted MyModel's own predictions on a sample of the challenge
    (graders/part2/crosscheck.py); its note (a review flag when they disagree) goes to the report."""
    labels, path = challenge_files
    images = challenge.images_beside(path, labels)
    if images is None:
        result = CrossCheck('predictions.csv could not be cross-checked against MyModel: the grader has no '
                            f'challenge images beside {path.name} (../students/{challenge.IMAGES_FILE})')
    else:
        table = settings['challenge']
        ids = sample_ids(labels.n_images, int(table.get('crosscheck_images', 500)),
                         course_secret.rng('crosscheck', submission_digest))
        result = cross_check(worker, submission, model_flags('mymodel'), images, ids, challenge_predictions,
                             labels.labels, float(table.get('max_disagreement', 0.05)))
    # A disagreement is a review flag (CrossCheck.flagged). Kept even when a note of the same text is there
    # already: the submission's own notes (plain text) must not be able to stand in for it.
    note = Note.review(result.note) if result.flagged else Note(result.note)
    if not any(n == note and getattr(n, 'kind', None) is note.kind for n in context_notes):
        context_notes.append(note)
    return result
