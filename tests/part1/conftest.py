"""Fixtures shared by the Part 1 tests."""
import pytest

from graders.part1.problems import toy_two_layer_problem


@pytest.fixture
def toy():
    """The two_layer_net notebook's toy problem: (X (5, 4), y (5,), model), see toy_two_layer_problem."""
    return toy_two_layer_problem()
