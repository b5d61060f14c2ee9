"""Q8.6 Two-layer network in PyTorch: models/twolayernn.py, its log and plots.

TwoLayerNN(im_size, hidden_dim, n_classes) has exactly one hidden layer of hidden_dim units (the
size run_twolayernn.sh passes): Linear(3072 -> hidden_dim), a nonlinearity, Linear(hidden_dim -> 10)."""

import pytest

from graders.engine.plugin import fail
from graders.part2 import deliverables, models, training

SPEC = models.SPECS['twolayernn']


@pytest.mark.points('Q8.6', 0.4)
def test_forward(worker, rng, model_flags):
    """TwoLayerNN(im_size, hidden_dim, n_classes) maps a batch of images to scores (N, 10)"""
    models.expect_scores(worker, SPEC, model_flags(SPEC.name), models.random_images(rng))


@pytest.mark.points('Q8.6', 0.4)
def test_architecture(worker, rng, model_flags):
    """TwoLayerNN has one hidden layer of hidden_dim units with a nonlinearity before the output layer"""
    flags = model_flags(SPEC.name)
    problem = models.twolayer_problem(models.anatomy(worker, SPEC, flags, models.random_images(rng, 4)), flags)
    if problem:
        fail(problem)


@pytest.mark.points('Q8.6', 0.6)
def test_training(worker, model_flags, settings, training_data, record_property, measured, context_notes):
    """TwoLayerNN trained by the grader on CIFAR-10 reaches the calibrated accuracy on held-out images"""
    training.train_and_score(worker, SPEC, model_flags(SPEC.name), settings['part2_training'][SPEC.name],
                           training_data(SPEC.name), record_property, measured, context_notes)


@pytest.mark.points('Q8.6', 0.3)
def test_log(submission, files, record_property, measured, context_notes, settings):
    """twolayernn.log is a complete train.py log ending with the test set line"""
    deliverables.check_log(submission, files, SPEC.name, record_property, measured, context_notes,
                           settings)


@pytest.mark.points('Q8.6', 0.3)
def test_plots(worker, files, record_property, context_notes):
    """twolayernn_lossvstrain.png, twolayernn_valaccuracy.png and twolayernn_gridfilt.png are real, non-blank images"""
    deliverables.check_plots(worker, files, SPEC.name, record_property, context_notes)
