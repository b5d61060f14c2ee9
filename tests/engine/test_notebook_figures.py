"""Reading notebooks as data (graders/notebooks/figures.py): which starter a notebook comes from, the
figures its outputs print (one parser for the claims and for the grader's own run), and whose cell
failed. The 2019-style notebooks are fixtures/corpus2019.py's."""
import nbformat
import pytest

from fixtures import corpus2019
from graders.notebooks import budget
from graders.notebooks import figures as nf
from graders.notebooks import grading as ng
from graders.notebooks.runner import NOTEBOOKS
from tests.helpers import ROOT


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp('corpus') / '1_cs231n'
    root.mkdir()
    corpus2019.write_notebooks(root)
    return {name: nbformat.read(root / name, as_version=4) for name in NOTEBOOKS}


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_each_starter_is_recognised(corpus, name):
    assert nf.recognise(name, corpus[name]) == nf.COURSE_2019
    for folder in ('student', 'reference'):   # ours: the starter, and the reference built on it
        assert nf.recognise(name, nbformat.read(ROOT / folder / '1_cs231n' / name, as_version=4)) == nf.HW1GRADE
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("hello")')])
    assert nf.recognise(name, other) == nf.UNKNOWN


def test_printed_figures_of_2019_style_outputs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('')])
    nb.cells[0].outputs = [nbformat.v4.new_output('stream', name='stdout', text=(
        'loss: 2.339\nsanity check: 2.302585\niteration 0 / 400: loss 786.5\n'
        'Final loss with momentum: 0.494394. We get: 0.494394\nW1 max relative error: 3.6e-09\n'
        'dx error:  1.2e-10\nSpeedup: 12.5x\nvalidation accuracy: 0.331000\nTest accuracy:  0.402\n'
        'Finished epoch 1 / 1: cost 2.1, train: 0.3, val 0.3, lr 1e-4\n'))]
    nb.cells.append(nbformat.v4.new_code_cell(''))
    nb.cells[1].outputs = [nbformat.v4.new_output('stream', name='stdout', text=(
        'dx error:  3.5e-09\nfinished optimization. best validation accuracy: 0.400000\n'))]
    assert nf.printed_figures(nb) == {
        'loss': 2.339, 'sanity check': 2.302585, 'final loss with momentum': 0.494394,
        'final loss with momentum, we get': 0.494394, 'w1 max relative error': 3.6e-09, 'dx error': 1.2e-10,
        'speedup': 12.5, 'validation accuracy': 0.331, 'test accuracy': 0.402, 'dx error (2)': 3.5e-09,
        'best validation accuracy': 0.4}
    # The same notebook's claims come from the same outputs.
    assert ng.claimed_accuracies(nb) == {'validation': 0.4, 'test': 0.402}


def test_the_first_failing_cell_is_told_the_starters_or_the_students(corpus):
    layers = corpus['layers.ipynb']
    kitten = next(i for i, c in enumerate(layers.cells) if 'from scipy.misc import imread' in c.source)
    assert nf.cell_origin('layers.ipynb', layers, kitten, nf.COURSE_2019) == 'starter'
    two_layer = corpus['two_layer_net.ipynb']
    tuning = next(i for i, c in enumerate(two_layer.cells) if 'best_val = -1' in c.source)
    assert nf.cell_origin('two_layer_net.ipynb', two_layer, tuning, nf.COURSE_2019) == 'student'
    ours = nbformat.read(ROOT / 'student' / '1_cs231n' / 'softmax.ipynb', as_version=4)
    first_code = next(i for i, c in enumerate(ours.cells) if c.cell_type == 'code')
    assert nf.cell_origin('softmax.ipynb', ours, first_code, nf.HW1GRADE) == 'starter'
    ours.cells[first_code].source += '\nprint("mine")'
    assert nf.cell_origin('softmax.ipynb', ours, first_code, nf.HW1GRADE) == 'student'


def test_budgets_follow_the_reference_times():
    for name, seconds in budget.REFERENCE_SECONDS.items():
        assert budget.notebook_budget(name) >= budget.BUDGET_SLACK * seconds
    assert budget.DEFAULT_BUDGET == budget.schedule_seconds(budget.RUN_ORDER) >= \
        sum(budget.REFERENCE_SECONDS.values()) / 2
    assert 'hundreds of training runs' in budget.budget_line('two_layer_net.ipynb')
    assert ng.DEFAULT_BUDGET == budget.DEFAULT_BUDGET


def test_a_long_tuning_cell_stopped_by_the_budget_says_so(corpus):
    """The runner's budget error in the student's tuning cell of a 2019 two_layer_net: the report says
    whose cell it is, why it stopped, and keeps what the cells before it printed."""
    nb = corpus['two_layer_net.ipynb']
    tuning = next(i for i, c in enumerate(nb.cells) if 'best_val = -1' in c.source)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == 'code']
    summary = ng.Summary(finished=True, fatal=None, seconds=290.0, code_cells=code,
                         executed=[i for i in code if i < tuning], running=None,
                         errors=[{'index': tuning, 'ename': 'CellTimeoutError', 'traceback': '',
                                  'evalue': "the notebook's time budget (249 s) ran out during this cell"}],
                         probes={}, probe_errors={}, budget_ran_out=True)
    executed = nbformat.from_dict(nb)
    report = ng.notebook_report('two_layer_net.ipynb', nb, {}, summary, None, starter=nf.COURSE_2019,
                                executed=executed)
    assert report['status'] == f'timed out at cell {tuning}'
    assert report['errors'][0].startswith(f'cell {tuning} (a cell the student wrote or changed): CellTimeoutError')
    assert any(e.startswith('stopped by the time budget') and 'hundreds of training runs' in e
               for e in report['errors'])
    assert report['measured'].startswith('printed: ')   # the saved "best validation accuracy" of the corpus
