"""Q8.7 Convolutional network in PyTorch: models/convnet.py, its log and plots.

CNN(im_size, hidden_dim, kernel_size, n_classes) is free in its architecture, but must run
a convolution somewhere; one that ignores the kernel_size run_convnet.sh passes gets a note."""

import pytest

from graders.engine.plugin import fail
from graders.part2 import deliverables, models, training

SPEC = models.SPECS['convnet']


@pytest.mark.points('Q8.7', 0.4)
def test_forward(worker, rng, model_flags):
    """CNN(im_size, hidden_dim, kernel_size, n_classes) maps a batch of images to scores (N, 10)"""
    models.expect_scores(worker, SPEC, model_flags(SPEC.name), models.random_images(rng))


@pytest.mark.points('Q8.7', 0.4)
def test_architecture(worker, rng, model_flags, context_notes):
    """CNN convolves the images (a Conv2d runs in forward)"""
    flags = model_flags(SPEC.name)
    problem, note = models.convnet_problem(models.anatomy(worker, SPEC, flags, models.random_images(rng, 4)), flags)
    if note and note not in context_notes:
        context_notes.append(note)
    if problem:
        fail(problem)


@pytest.mark.points('Q8.7', 0.6)
def test_training(worker, model_flags, settings, training_data, record_property, measured, context_notes):
    """CNN trained by the grader on CIFAR-10 reaches the calibrated accuracy on held-out images"""
    training.train_and_score(worker, SPEC, model_flags(SPEC.name), settings['part2_training'][SPEC.name],
                           training_data(SPEC.name), record_property, measured, context_notes)


@pytest.mark.points('Q8.7', 0.3)
def test_log(submission, files, record_property, measured, context_notes, settings):
    """convnet.log is a complete train.py log ending with the test set line"""
    deliverables.check_log(submission, files, SPEC.name, record_property, measured, context_notes,
                           settings)


@pytest.mark.points('Q8.7', 0.3)
def test_plots(worker, files, record_property, context_notes):
    """convnet_lossvstrain.png, convnet_valaccuracy.png and convnet_gridfilt.png (or conv_*, cnn_*...) are real, non-blank images"""  # noqa: E501 (the check's title: one line)
    deliverables.check_plots(worker, files, SPEC.name, record_property, context_notes)
