"""The README's main job: the bundled example submissions (the reference, packaged by their own
collect_submission.sh) graded in full, hidden CIFAR-10 runs and notebooks included, earn 13/13 and 16/16.

A full grade of each example runs once per test run: where tests/gradescope/test_autograder_e2e.py can
build /autograder (CI: root, a fresh machine), it grades both through run_autograder and makes the same
assertions (tests/helpers.py), so these skip; elsewhere (a laptop, not root) they grade them here, with
`hw1grade grade`.
"""
from pathlib import Path

import pytest

from graders import cli
from tests.helpers import (
    assert_part1_example_full_marks,
    assert_part2_example_full_marks,
    gradescope_e2e_blocker,
    results_of,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'examples' / '1_cs231n.zip'

pytestmark = [pytest.mark.slow, pytest.mark.cifar]


@pytest.fixture
def not_graded_by_the_bundle_test():
    if gradescope_e2e_blocker() is None:
        pytest.skip('graded in full through run_autograder by tests/gradescope/test_autograder_e2e.py here '
                    '(same assertions): one full grade per example and run')


def test_the_bundled_example_earns_full_marks(not_graded_by_the_bundle_test, cifar10_dir, tmp_path, capsys):
    assert cli.main(['grade', str(EXAMPLE), '--out', str(tmp_path)]) == 0
    document = results_of(tmp_path)
    assert_part1_example_full_marks(document)
    assert 'notebooks (executed in the sandbox' in capsys.readouterr().out   # the terminal summary
    assert (tmp_path / 'report.html').read_text().count('class="pass"') == len(document['tests'])


def test_the_bundled_part2_example_earns_full_marks(not_graded_by_the_bundle_test, cifar10_dir, tmp_path):
    """The reference Part 2 run, zipped by its collect script: 16/16 with the grader's training runs."""
    assert cli.main(['grade', str(ROOT / 'examples' / '2_pytorch.zip'), '--out', str(tmp_path)]) == 0
    assert_part2_example_full_marks(results_of(tmp_path))
