"""The rules inside the Part 1 verdicts, without a sandbox: partial credit by case, and the
regularization convention read where the two conventions cannot be told apart by the loss."""
import numpy as np
import pytest

from graders.engine.bridge import CallTimeout, SubmissionRaised
from graders.engine.checks import Cases
from graders.engine.plugin import PARTIAL_CREDIT, fail
from graders.part1 import problems as q81


def run_cases(outcomes, share=0.5):
    """outcomes: (notebook?, what the case does) -> (recorded properties, failure message or None)."""
    recorded = {}
    cases = Cases({'notebook_share': share}, recorded.__setitem__)
    for i, (notebook, action) in enumerate(outcomes):
        cases.run(f'case {i}', action, notebook=notebook)
    try:
        cases.finish()
    except pytest.fail.Exception as failed:
        return recorded, str(failed)
    return recorded, None


def ok():
    pass


def wrong():
    fail('dx for stride 2: relative error 1e-01')


def raises():
    raise SubmissionRaised('`conv_backward_naive`', 'TypeError', 'slice indices must be integers', '')


def test_the_notebooks_case_weighs_its_share_and_the_others_share_the_rest():
    recorded, message = run_cases([(True, ok), (False, ok), (False, wrong), (False, raises), (False, ok)])
    assert recorded[PARTIAL_CREDIT] == pytest.approx(0.5 + 0.5 * 2 / 4)
    assert message.startswith('2 of 5 cases failed (the 3 others earn their share')
    assert 'stride 2' in message and 'TypeError' in message


def test_all_cases_passing_is_a_pass_and_all_failing_earns_nothing():
    assert run_cases([(True, ok), (False, ok)]) == ({}, None)
    recorded, message = run_cases([(True, raises), (False, raises)])
    assert recorded[PARTIAL_CREDIT] == 0 and message.startswith('all 2 cases failed, each with:')


def test_after_a_timeout_the_remaining_cases_are_not_run():
    ran = []

    def spin():
        raise CallTimeout('`max_pool_backward_naive` did not finish within 10 s and was stopped')
    recorded, message = run_cases([(True, ok), (False, spin), (False, lambda: ran.append(1))])
    assert ran == [] and 'not run (an earlier case timed out or crashed)' in message
    assert recorded[PARTIAL_CREDIT] == pytest.approx(0.5)


def test_a_grader_error_is_not_a_failed_case():
    with pytest.raises(ZeroDivisionError):
        Cases({'notebook_share': 0.5}, print).run('case', lambda: 1 / 0)


def test_near_equal_losses_match_both_conventions_so_the_convention_is_read_elsewhere():
    """At the notebook's initial weight scale the two conventions' losses agree within the tolerance:
    a first-match detection would hold a half-convention gradient to the full one. The telling problem
    separates them by far more than the tolerance, with scores of order 1."""
    rng = np.random.default_rng(0)
    W, X, y = q81.problem(rng, 3, 5, 2, 1e-4)
    half_loss = q81.conventions(W, X, y, 0.37)['0.5 * reg * sum(W**2)'][0]
    assert len(q81.matching_conventions(half_loss, W, X, y, 0.37)) == 2
    assert q81.matching_conventions(half_loss, W, X, y, 0.37)[0] == '0.5 * reg * sum(W**2)'   # nearest first
    W, X, y = q81.telling_problem(rng)
    losses = {k: v[0] for k, v in q81.conventions(W, X, y, 0.37).items()}
    assert abs(losses['reg * sum(W**2)'] - losses['0.5 * reg * sum(W**2)']) > 1
    for name, loss in losses.items():
        assert q81.matching_conventions(loss, W, X, y, 0.37) == [name]
    scores = W.dot(X)
    probs = np.exp(scores - scores.max(0)) / np.exp(scores - scores.max(0)).sum(0)
    assert probs.min() > 1e-4   # no saturated softmax: log(p + 1e-10) changes the loss by < 1e-6
