"""Q8.5 Softmax classifier in PyTorch: models/softmax.py, its log and plots, and 2_pytorch.pdf.

Softmax(im_size, n_classes) must be one affine map from the 3072 pixels to the 10 scores (a softmax
applied inside forward is accepted: the loss is then taken of its logarithm)."""

import pytest

from graders.engine.plugin import fail
from graders.part2 import deliverables, models, training

SPEC = models.SPECS['softmax']


@pytest.mark.points('Q8.5', 0.4)
def test_forward(worker, rng, model_flags):
    """Softmax(im_size, n_classes) maps a batch of images to scores (N, 10)"""
    models.expect_scores(worker, SPEC, model_flags(SPEC.name), models.random_images(rng))


@pytest.mark.points('Q8.5', 0.4)
def test_architecture(worker, rng, model_flags):
    """Softmax is a single affine map from the 3072 pixels to 10 scores (no hidden layer)"""
    anatomy = models.anatomy(worker, SPEC, model_flags(SPEC.name), models.random_images(rng, 4))
    problem = models.softmax_problem(anatomy)
    if problem:
        fail(problem)


@pytest.mark.points('Q8.5', 0.6)
def test_training(worker, model_flags, settings, training_data, record_property, measured, context_notes):
    """Softmax trained by the grader on CIFAR-10 reaches the calibrated accuracy on held-out images"""
    training.train_and_score(worker, SPEC, model_flags(SPEC.name), settings['part2_training'][SPEC.name],
                           training_data(SPEC.name), record_property, measured, context_notes)


@pytest.mark.points('Q8.5', 0.2)
def test_log(submission, files, record_property, measured, context_notes, settings):
    """softmax.log is a complete train.py log ending with the test set line"""
    deliverables.check_log(submission, files, SPEC.name, record_property, measured, context_notes,
                           settings)


@pytest.mark.points('Q8.5', 0.2)
def test_plots(worker, files, record_property, context_notes):
    """softmax_lossvstrain.png, softmax_valaccuracy.png and softmax_gridfilt.png are real, non-blank images"""
    deliverables.check_plots(worker, files, SPEC.name, record_property, context_notes)


@pytest.mark.points('Q8.5', 0.2)
def test_pdf(worker, submission, files, record_property):
    """2_pytorch.pdf (in the zip or uploaded beside it) renders and shows the plots"""
    deliverables.check_pdf(worker, submission, files, record_property)
