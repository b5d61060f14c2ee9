"""Q8.8 The experiment: MyModel's deliverables as the assignment lists them under Q8.8 (its log, loss
and validation accuracy plots, extra.md: 1 point), and the challenge: predictions.csv (written by test.py
with MyModel) scored here against the held labels, 4 points for beating chance by a margin, 5 for
beating the course staff's reference model (rubric [challenge]). The accuracies also go to the
leaderboard (public 10% split and all images).
Both challenge checks first cross-check predictions.csv against the submitted MyModel (graders/part2/crosscheck.py):
a disagreement is a review flag in the report, not a change of points."""

import pytest

from graders.data.challenge import QUESTION, record_scores
from graders.engine.plugin import fail
from graders.part2 import deliverables


@pytest.mark.points(QUESTION, 4)
def test_beats_chance(challenge_scores, challenge_crosscheck, settings, record_property):
    """predictions.csv beats chance on the challenge images by a margin"""
    record_scores(record_property, challenge_scores)
    bar = settings['challenge']['chance_accuracy']
    if not challenge_scores[1] > bar:
        fail(f'accuracy {challenge_scores[1]:.4f} on the challenge images: not above {bar:.2f} '
             '(chance is 0.10)')


@pytest.mark.points(QUESTION, 5)
def test_beats_reference(challenge_scores, challenge_crosscheck, settings, record_property):
    """predictions.csv beats the course staff's reference model on the challenge images"""
    record_scores(record_property, challenge_scores)
    bar = settings['challenge']['reference_accuracy']
    if not challenge_scores[1] > bar:
        fail(f'accuracy {challenge_scores[1]:.4f} on the challenge images: not above the reference '
             f'model\'s {bar:.2f}')


@pytest.mark.points('Q8.8', 0.5)
def test_mymodel_deliverables(worker, submission, files, record_property, measured, context_notes, settings):
    """mymodel.log is complete and MyModel's loss and validation accuracy plots are real, non-blank images"""
    deliverables.check_log(submission, files, 'mymodel', record_property, measured, context_notes,
                           settings)
    deliverables.check_plots(worker, files, 'mymodel', record_property, context_notes)


@pytest.mark.points('Q8.8', 0.5)
def test_extra(submission, files):
    """extra.md gives a name, an email, the best accuracy and what was tried"""
    deliverables.check_extra(submission, files)
