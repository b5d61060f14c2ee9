"""The four Part 1 reference notebooks run headlessly on real CIFAR-10 and reach the homework's figures.

Each notebook is executed once (top to bottom, cwd = reference/1_cs231n, as a student runs it); the
assertions read the probes of graders.notebooks.runner.PROBES, i.e. values evaluated in the kernel after the
last cell, never the notebook's text or printed output.
"""
import math
from pathlib import Path

import nbformat
import pytest

from graders.data.cifar10 import FOLDER, place
from graders.notebooks import runner as nbrun

ROOT = Path(__file__).resolve().parent.parent
PART1 = ROOT / 'reference' / '1_cs231n'
DATASETS = PART1 / 'cs231n' / 'datasets'

pytestmark = [pytest.mark.cifar, pytest.mark.slow]


@pytest.fixture(scope='session')
def linked_cifar10(cifar10_dir):
    """Make cs231n/datasets/cifar-10-batches-py (where the notebooks look) point at the real data."""
    link = DATASETS / FOLDER
    if link.is_symlink() and link.resolve() != Path(cifar10_dir).resolve():
        link.unlink()                      # stale or pointing elsewhere
    if not link.exists():
        place(Path(cifar10_dir), DATASETS)
    return link


@pytest.fixture(scope='module')
def executed(linked_cifar10, tmp_path_factory):
    """A function name -> NotebookRun that executes each notebook at most once per module."""
    out = tmp_path_factory.mktemp('executed_notebooks')
    runs = {}

    def get(name):
        if name not in runs:
            run = nbrun.execute_notebook(PART1 / name, cwd=PART1, timeout_per_cell=600,
                                         probes=nbrun.PROBES[name])
            nbformat.write(run.notebook, out / name)
            runs[name] = run
        return runs[name]

    return get


def probes_of(run):
    """The probe values of a run, failing with the notebook's errors if any probe is missing."""
    assert not run.probe_errors, f'{run.path.name}: probes failed: {run.probe_errors}; cell errors: ' \
                                 f'{[str(e) for e in run.errors]}'
    return run.probes


@pytest.mark.parametrize('name', nbrun.NOTEBOOKS)
def test_notebook_runs_without_errors(executed, name):
    run = executed(name)
    assert run.ok, f'{name}: ' + '; '.join(str(e) for e in run.errors)


def test_committed_notebooks_have_no_outputs():
    for name in nbrun.NOTEBOOKS:
        nb = nbformat.read(PART1 / name, as_version=4)
        nbformat.validate(nb)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == 'code':
                assert not cell.outputs and cell.execution_count is None, f'{name} cell {index} has outputs'


def test_softmax(executed):
    p = probes_of(executed('softmax.ipynb'))
    # W = randn(10, 3073) * 1e-4 on raw centered pixels gives scores with a std of about 0.35, which puts
    # the loss slightly above log(10) (2.33-2.44 over random draws), hence the tolerance.
    assert abs(p['initial_loss'] - (-math.log(0.1))) < 0.15
    assert max(p['grad_rel_errors_reg0']) < 1e-5
    assert max(p['grad_rel_errors_reg']) < 1e-5
    assert p['templates_shape'] == [10, 32, 32, 3]
    assert p['test_acc'] >= 0.35
    assert p['val_acc'] >= 0.35


def test_two_layer_net(executed):
    p = probes_of(executed('two_layer_net.ipynb'))
    assert p['max_score_diff'] < 1e-7
    assert p['toy_loss_diff'] < 1e-10
    assert set(p['grad_rel_errors']) == {'W1', 'b1', 'W2', 'b2'}
    assert max(p['grad_rel_errors'].values()) < 1e-6
    assert abs(p['momentum_final_loss'] - 0.494394) < 1e-6
    assert abs(p['rmsprop_final_loss'] - 0.439368) < 1e-6
    assert p['default_val_acc'] > 0.25           # about 0.37 after the 5 default epochs
    assert p['tuned_val_acc'] > 0.50
    assert p['test_acc'] > 0.45


def test_layers(executed):
    p = probes_of(executed('layers.ipynb'))
    expected_forward = {'affine', 'relu', 'conv', 'conv_rect', 'max_pool', 'max_pool_overlap'}
    expected_backward = {'affine_dx', 'affine_dw', 'affine_db', 'relu_dx', 'conv_dx', 'conv_dw', 'conv_db',
                         'conv_stride2_dx', 'conv_stride2_dw', 'max_pool_dx'}
    assert expected_forward <= set(p['forward_errors'])
    assert expected_backward <= set(p['backward_errors'])
    for name, err in {**p['forward_errors'], **p['backward_errors']}.items():
        assert err < 1e-6, f'{name}: relative error {err}'
    assert set(p['fast_vs_naive_diffs']) >= {'conv_forward', 'conv_backward_dx', 'conv_backward_dw',
                                             'conv_backward_db', 'max_pool_forward', 'max_pool_backward'}
    for name, diff in p['fast_vs_naive_diffs'].items():
        assert diff < 1e-9, f'{name}: fast and naive differ by {diff}'
    for name, speedup in p['speedups'].items():
        assert speedup > 1, f'{name}: the fast layer is not faster ({speedup:.2f}x)'
    assert p['demo_output_shape'] == [2, 2, 200, 200]


def test_convnet(executed):
    p = probes_of(executed('convnet.ipynb'))
    assert abs(p['initial_loss'] - math.log(10)) < 0.1
    assert p['initial_loss_reg'] > p['initial_loss']
    assert set(p['grad_rel_errors']) == {'W1', 'b1', 'W2', 'b2'}
    assert max(p['grad_rel_errors'].values()) < 1e-5
    assert p['overfit_train_acc'] >= 0.9
    assert p['filter_size'] == 7
    assert p['epoch_val_acc'] >= 0.45
