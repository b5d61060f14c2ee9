"""Q8.7 Convolutional network in PyTorch: models/convnet.py, its log and plots, and MyModel's log and plots.

CNN(im_size, hidden_dim, kernel_size, n_classes) is free in its architecture, but must convolve with
kernel_size x kernel_size filters somewhere (the size run_convnet.sh passes)."""

import pytest

from graders.part2 import deliverables, models
from graders.plugin import fail

SPEC = models.SPECS['convnet']


@pytest.mark.points('Q8.7', 0.4)
def test_forward(worker, rng, model_flags):
    """CNN(im_size, hidden_dim, kernel_size, n_classes) maps a batch of images to scores (N, 10)"""
    models.expect_scores(worker, SPEC, model_flags(SPEC.name), models.random_images(rng))


@pytest.mark.points('Q8.7', 0.4)
def test_architecture(worker, rng, model_flags):
    """CNN convolves with filters of the kernel_size that run_convnet.sh passes"""
    flags = model_flags(SPEC.name)
    k = flags['kernel_size']
    anatomy = models.anatomy(worker, SPEC, flags, models.random_images(rng, 4))
    convolutions = anatomy.of_type('Conv2d')
    if not any(layer.sizes['kernel_size'] == [k, k] for layer in convolutions):
        fail(f'{SPEC.signature(flags)} has no Conv2d with {k}x{k} filters; it runs {anatomy.summary()}')


@pytest.mark.points('Q8.7', 0.6)
def test_training(worker, model_flags, settings, training_data, record_property, measured, context_notes):
    """CNN trained by the grader on CIFAR-10 reaches the calibrated accuracy on held-out images"""
    models.train_and_score(worker, SPEC, model_flags(SPEC.name), settings['part2_training'][SPEC.name],
                           training_data(SPEC.name), record_property, measured, context_notes)


@pytest.mark.points('Q8.7', 0.2)
def test_log(submission, files, record_property, measured, context_notes, settings):
    """convnet.log is a complete train.py log ending with the test set line"""
    deliverables.check_log(submission, files, SPEC.name, record_property, measured, context_notes,
                           settings['part2']['claim_gap'])


@pytest.mark.points('Q8.7', 0.2)
def test_plots(worker, files, record_property):
    """convnet_lossvstrain.png, convnet_valaccuracy.png and convnet_gridfilt.png are real, non-blank images"""
    deliverables.check_plots(worker, files, SPEC.name, record_property)


@pytest.mark.points('Q8.7', 0.2)
def test_mymodel_deliverables(worker, submission, files, record_property, measured, context_notes, settings):
    """mymodel.log is complete and MyModel's three plots are real, non-blank images"""
    deliverables.check_log(submission, files, 'mymodel', record_property, measured, context_notes,
                           settings['part2']['claim_gap'])
    deliverables.check_plots(worker, files, 'mymodel', record_property)
