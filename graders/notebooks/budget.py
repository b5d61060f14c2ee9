"""How long a submission's notebooks may run: one budget each, derived from the reference's measured
time, and one for all of them (`graders.notebooks.grading` runs them within it).

A submitted notebook is student code on a shared machine: without a budget a hyperparameter search of
hundreds of training runs (real 2019 submissions have them) holds a grading slot for hours. With it,
the notebook's cells stop at its budget, the figures printed before are still reported, and
`budget_line` says so to the TA and the student.
"""

from __future__ import annotations

from collections.abc import Sequence

# Budgets derived from the reference's measured time: the reference's notebooks run in the sandbox,
# two at once on 2 busy cores (layers 4 s, softmax 21 s, two_layer_net 83 s, convnet 144 s; 149 s in
# all). Each notebook's cells may take BUDGET_SLACK times its reference's time (a loaded machine, a
# student's slower but correct loops), plus the kernel's start and the probes; the budget of all of
# them is that schedule run `parallel` at a time. A student's long tuning cell (hundreds of runs) is
# stopped at its notebook's budget with a line saying so, and the other notebooks keep theirs.
REFERENCE_SECONDS = {'layers.ipynb': 4.0, 'softmax.ipynb': 21.0, 'two_layer_net.ipynb': 83.0, 'convnet.ipynb': 144.0}
BUDGET_SLACK = 3.0
# The least any notebook's cells get (a kernel's imports alone take seconds on a loaded machine).
MIN_CELLS_BUDGET = 90.0
# Seconds any one cell may run: run_notebook.DEFAULT_TIMEOUT_PER_CELL (the budget usually ends a long cell first).
# Seconds a submission's probes may take after its cells (predictions on 1000 test images), and the
# kernel's start and shutdown around them: reserved out of each notebook's share of the budget. (Our own
# reference notebooks, run without a budget, give their probes run_notebook.DEFAULT_PROBE_TIMEOUT.)
SUBMISSION_PROBE_SECONDS = 30
KERNEL_MARGIN = 15
# A notebook that would start with less than this left of the budget is not started.
MIN_START = 20.0

# Cheapest first, but convnet (the longest) before two_layer_net so that it starts within seconds.
# Reference runs in the sandbox, two at once on 2 busy cores: layers 4 s, softmax 21 s,
# two_layer_net 83 s, convnet 144 s; 149 s in all.
RUN_ORDER = ('layers.ipynb', 'softmax.ipynb', 'convnet.ipynb', 'two_layer_net.ipynb')


def notebook_budget(name: str) -> float:
    """Wall-clock seconds one notebook may take, kernel and probes included (an unknown name: the
    longest reference notebook's)."""
    reference = REFERENCE_SECONDS.get(name, max(REFERENCE_SECONDS.values()))
    return max(MIN_CELLS_BUDGET, BUDGET_SLACK * reference) + KERNEL_MARGIN + SUBMISSION_PROBE_SECONDS


def schedule_seconds(names: Sequence[str], parallel: int = 2) -> float:
    """How long `names` take at their budgets, run `parallel` at a time in RUN_ORDER (as the pool does)."""
    lanes = [0.0] * max(1, parallel)
    for name in sorted(names, key=lambda n: RUN_ORDER.index(n) if n in RUN_ORDER else len(RUN_ORDER)):
        lanes[lanes.index(min(lanes))] += notebook_budget(name)
    return max(lanes)


# Seconds for all the notebooks of one submission, kernel starts and probes included.
DEFAULT_BUDGET = schedule_seconds(RUN_ORDER)


def budget_line(name: str) -> str:
    """Why a notebook was stopped, for the TA and the student."""
    reference = REFERENCE_SECONDS.get(name)
    basis = (f"the reference's {name} runs in about {reference:g} s on 2 cores and a submission's gets "
             f'{BUDGET_SLACK:g} times that' if reference else f'{name} is not one of the homework\'s notebooks')
    return (f'stopped by the time budget ({notebook_budget(name):g} s for this notebook: {basis}); a long '
            'hyperparameter search (hundreds of training runs) does not fit in the grader\'s run: the '
            'figures printed before it are still reported')
