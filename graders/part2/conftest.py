"""Fixtures of the Part 2 checks: the submission's files, the sizes its run scripts ask for, the
grader's own measurements (shared between a question's checks), CIFAR-10 and the challenge labels.

Held-out and challenge labels stay in this process; the sandbox sees images only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graders import challenge
# The same real CIFAR-10 batches, course secret and held-out draws as Part 1 (graders/heldout.py).
from graders.part1.conftest import cifar_batches, course_secret, draw_heldout, heldout_pool  # noqa: F401
from graders.part2.deliverables import submitted_files
from graders.part2.models import SPECS, script_flags
from graders.plugin import fail


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
def challenge_labels(settings, request) -> challenge.ChallengeLabels:
    """The held challenge labels: rubric [challenge] labels, else the set built from CIFAR-10's test
    batch into the hw1grade cache."""
    configured = settings['challenge'].get('labels') or ''
    try:
        path = Path(configured) if configured else challenge.default_labels(request.getfixturevalue('cifar10_dir'))
        return challenge.load_labels(path)
    except (OSError, ValueError, KeyError) as err:
        fail(f'the grader has no usable challenge labels ({type(err).__name__}: {err})')


@pytest.fixture(scope='session')
def challenge_scores(submission, challenge_labels) -> tuple[float, float]:
    """(public, full) accuracy of predictions.csv; the checks using it fail with what is wrong with it."""
    try:
        return challenge.score_predictions(submission, challenge_labels)
    except challenge.PredictionsError as err:
        fail(f'predictions.csv cannot be scored: {err}')
