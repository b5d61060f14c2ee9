"""Q8.5 Softmax classifier in PyTorch: models/softmax.py, its log and plots, and 2_pytorch.pdf.

Softmax(im_size, n_classes) must be one affine map from the 3072 pixels to the 10 scores (a softmax
applied inside forward is accepted: the loss is then taken of its logarithm)."""

import pytest

from graders.part2 import deliverables, models
from graders.plugin import fail

SPEC = models.SPECS['softmax']
PARAMETERS = (models.PIXELS * models.N_CLASSES + models.N_CLASSES, models.PIXELS * models.N_CLASSES)


@pytest.mark.points('Q8.5', 0.4)
def test_forward(worker, rng, model_flags):
    """Softmax(im_size, n_classes) maps a batch of images to scores (N, 10)"""
    models.expect_scores(worker, SPEC, model_flags(SPEC.name), models.random_images(rng))


@pytest.mark.points('Q8.5', 0.4)
def test_architecture(worker, rng, model_flags):
    """Softmax is a single affine map from the 3072 pixels to 10 scores (no hidden layer)"""
    anatomy = models.anatomy(worker, SPEC, model_flags(SPEC.name), models.random_images(rng, 4))
    linear = anatomy.of_type('Linear')
    one_map = (len(anatomy.layers) == 1 and len(linear) == 1 and linear[0].sizes['in_features'] == models.PIXELS
               and linear[0].sizes['out_features'] == models.N_CLASSES)
    if not one_map or anatomy.parameters not in PARAMETERS:
        fail(f'Softmax must be one affine map from the {models.PIXELS} pixels to {models.N_CLASSES} scores '
             f'({PARAMETERS[0]:,} parameters); yours has {anatomy.parameters:,} parameters and runs '
             f'{anatomy.summary()}')


@pytest.mark.points('Q8.5', 0.6)
def test_training(worker, model_flags, settings, training_data, record_property, measured, context_notes):
    """Softmax trained by the grader on CIFAR-10 reaches the calibrated accuracy on held-out images"""
    models.train_and_score(worker, SPEC, model_flags(SPEC.name), settings['part2_training'][SPEC.name],
                           training_data(SPEC.name), record_property, measured, context_notes)


@pytest.mark.points('Q8.5', 0.2)
def test_log(submission, files, record_property, measured, context_notes, settings):
    """softmax.log is a complete train.py log ending with the test set line"""
    deliverables.check_log(submission, files, SPEC.name, record_property, measured, context_notes,
                           settings['part2']['claim_gap'])


@pytest.mark.points('Q8.5', 0.2)
def test_plots(worker, files, record_property):
    """softmax_lossvstrain.png, softmax_valaccuracy.png and softmax_gridfilt.png are real, non-blank images"""
    deliverables.check_plots(worker, files, SPEC.name, record_property)


@pytest.mark.points('Q8.5', 0.2)
def test_pdf(worker, files):
    """2_pytorch.pdf renders and shows the plots"""
    deliverables.check_pdf(worker, files)
