"""Two zoo members through the real training checks on real CIFAR-10 (the issue's two stories: a
TwoLayerNN with the 10 hidden units its script passes, and a sigmoid LeNet that plain SGD leaves at
chance). The whole zoo over three seeds is benchmarks/calibrate_part2.py's table; the zoo's
architecture and frozen-layer verdicts are tests/grading/test_part2_rules.py's (fast, in-process)."""
from pathlib import Path

import pytest

from fixtures import part2_zoo as zoo
from graders.engine.grade import grade

REFERENCE = Path(__file__).resolve().parents[2] / 'reference' / '2_pytorch'
MEMBERS = (zoo.by_name('twolayernn: hidden_dim 10, ReLU'), zoo.by_name('convnet: LeNet with sigmoid activations'))


@pytest.mark.slow
@pytest.mark.cifar
def test_small_and_sigmoid_models_pass_the_grader_s_training(cifar10_dir, tmp_path):
    tree = zoo.build_tree(REFERENCE, tmp_path / '2_pytorch', MEMBERS)
    graded = grade(tree, part=2, select='(test_q8_6 or test_q8_7) and (test_forward or test_architecture '
                   'or test_training)', notebooks=False, companions=(), find_cifar10=lambda: cifar10_dir)
    outcome = {(s.check.question, s.check.name): s.check for s in graded.scored}
    assert len(outcome) == 6
    failed = {key: check.message for key, check in outcome.items() if not check.passed}
    assert failed == {}
    for member in MEMBERS:
        training = outcome[(member.question, 'test_training')]
        assert training.measured['accuracy'] >= 0.2 and 'steps of 32' in training.measured['recipe']
