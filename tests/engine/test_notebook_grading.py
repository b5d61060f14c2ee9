"""Submitted notebooks executed in the sandbox: failing cells, timeouts, containment, withheld test
labels, claimed vs measured, the reference and the starter notebooks."""
import json
import os
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fixtures import tiny_cifar
from graders.data import cifar10
from graders.engine.sandbox import Sandbox
from graders.inside.run_notebook import SUMMARY_FORMAT
from graders.notebooks import grading as ng
from graders.notebooks import summary as summary_module
from graders.notebooks.figures import HW1GRADE
from graders.notebooks.runner import PROBES, TEST_PREDICTIONS, probes_without_test_labels
from tests.helpers import ROOT, host_processes_with, notebook, summary

REFERENCE = ROOT / 'reference' / '1_cs231n'
STUDENT = ROOT / 'student' / '1_cs231n'


def submission(folder: Path, notebooks: dict) -> Path:
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)
    return folder


def require_bubblewrap(folder: Path):
    box = Sandbox(folder)
    if box.isolation != 'bubblewrap' and not os.environ.get('CI'):
        pytest.skip(box.warning)
    assert box.isolation == 'bubblewrap', box.warning


def by_name(reports):
    return {r['name']: r for r in reports}


@pytest.fixture(scope='module')
def tiny_cifar_dir(tmp_path_factory):
    """A cifar-10-batches-py with 20 images per batch, in a cache of its own."""
    base = tmp_path_factory.mktemp('tiny-cifar')
    archive = tiny_cifar.write_tiny_cifar_archive(base / 'cifar-10-python.tar.gz')
    return cifar10.ensure_cifar10(archive, cache_dir=base / 'cache')


# -- synthetic notebooks in the sandbox ----------------------------------------------------------

HOSTILE = '''
import json, os, pickle, socket
findings = {{}}
def attempt(name, action):
    try:
        action()
        findings[name] = True
    except Exception as e:
        findings[name] = False
attempt('real_test_labels', lambda: open({real_test_batch!r}, 'rb').read(1))
attempt('repository', lambda: open({readme!r}).read(1))
attempt('network', lambda: socket.create_connection(('1.1.1.1', 53), timeout=3))
attempt('write_data', lambda: open('/opt/data/cifar-10-batches-py/test_batch', 'ab').write(b'x'))
attempt('write_notebooks', lambda: open('/opt/notebooks/hostile.ipynb', 'w').write('{{}}'))
with open('cs231n/datasets/cifar-10-batches-py/test_batch', 'rb') as f:
    batch = pickle.load(f, encoding='latin1')
findings['labels'] = sorted(set(batch['labels']))
findings['keys'] = sorted(batch)
findings['images'] = list(batch['data'].shape)
with open('findings.json', 'w') as f:
    json.dump(findings, f)
'''


@pytest.fixture(scope='module')
def synthetic_run(tmp_path_factory, tiny_cifar_dir):
    """One grading run of four small notebooks: one failing, one hostile, one with an endless cell
    (named layers.ipynb, so that the layers probes are asked for), one that kills its runner."""
    root = submission(tmp_path_factory.mktemp('synthetic') / 'sub', {
        'failing.ipynb': notebook('a = 1', 'raise ValueError("boom")', 'b = a + 1',
                                  outputs={0: ['test accuracy: 0.42\n']}),
        'hostile.ipynb': notebook(HOSTILE.format(real_test_batch=str(tiny_cifar_dir / 'test_batch'),
                                                 readme=str(ROOT / 'README.md'))),
        'layers.ipynb': notebook('backward_errors = {"affine_dx": 1e-9}', 'while True:\n    pass',
                                 'speedups = {}'),
        'killer.ipynb': notebook('import os, signal', 'os.kill(os.getppid(), signal.SIGKILL)', 'x = 1'),
    })
    require_bubblewrap(root)
    reports = ng.run_submission_notebooks(root, names=('failing.ipynb', 'hostile.ipynb', 'layers.ipynb',
                                                                'killer.ipynb'),
                                          budget_s=120, timeout_per_cell=5, cifar_dir=tiny_cifar_dir)
    return root, by_name(reports)


@pytest.mark.notebook
def test_the_failing_cell_is_reported_with_its_error(synthetic_run):
    _, reports = synthetic_run
    report = reports['failing.ipynb']
    assert report['status'] == 'error in cell 2'
    first = report['errors'][0]
    assert first.startswith('cell 2 (a cell the student wrote or changed): ValueError: boom')
    assert 'the cell begins: raise ValueError("boom")' in first
    assert 'code cells 3 did not run' in report['errors'][1]
    # The claim comes from the saved output, which was never executed.
    assert report['claimed'] == 'test accuracy 0.420'
    assert report['measured'] == 'nothing measured' and report['flags'] == []


@pytest.mark.notebook
def test_an_endless_cell_times_out_and_the_probes_still_run(synthetic_run):
    _, reports = synthetic_run
    report = reports['layers.ipynb']
    assert report['status'] == 'timed out at cell 2'
    assert report['errors'][0].startswith('cell 2 (a cell the student wrote or changed): CellTimeoutError: '
                                          'the cell ran for more than 5 s\n')
    assert any('code cells 3 did not run' in e for e in report['errors'])
    # No cs231n/setup.py here: layers.ipynb needs the extension, and the report says why it is missing.
    assert any('the Cython extension did not build' in e for e in report['errors'])
    assert 'backward_errors={affine_dx 1.0e-09}' in report['measured']   # our probes, for an unknown notebook too


@pytest.mark.notebook
def test_a_runner_that_dies_says_where(synthetic_run):
    _, reports = synthetic_run
    report = reports['killer.ipynb']
    assert report['status'] == 'runner died at cell 2', report
    assert report['errors'][0].startswith("cell 2 (the student's): the notebook runner stopped during this cell: "
                                          'killed (SIGKILL)')


@pytest.mark.notebook
def test_a_hostile_notebook_is_contained_and_sees_no_test_labels(synthetic_run):
    root, reports = synthetic_run
    assert reports['hostile.ipynb']['status'] == 'ok', reports['hostile.ipynb']
    findings = json.loads((root / 'findings.json').read_text())
    assert findings == {'real_test_labels': False, 'repository': False, 'network': False,
                        'write_data': False, 'write_notebooks': False,
                        'labels': [0], 'keys': ['batch_label', 'data', 'labels'], 'images': [20, 3072]}


@pytest.mark.notebook
def test_a_notebook_that_freezes_its_runner_is_killed_with_its_processes(tmp_path, tiny_cifar_dir, monkeypatch):
    marker = 'hw1grade-orphan-%d' % os.getpid()
    root = submission(tmp_path / 'sub', {'frozen.ipynb': notebook(
        'import os, signal, subprocess, sys\n'
        f'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])',
        'os.kill(os.getppid(), signal.SIGSTOP)   # the runner stops: only the wall clock ends this',
        'x = 1')})
    require_bubblewrap(root)
    monkeypatch.setattr(ng, 'SUBMISSION_PROBE_SECONDS', 3)
    monkeypatch.setattr(ng, 'KERNEL_MARGIN', 3)
    started = time.monotonic()
    [report] = ng.run_submission_notebooks(root, names=('frozen.ipynb',), budget_s=25, cifar_dir=tiny_cifar_dir)
    assert time.monotonic() - started < 40
    assert report['status'] == 'timed out at cell 2', report
    assert any('the time budget for the notebooks ran out' in e for e in report['errors'])
    assert host_processes_with(marker) == []


def test_missing_and_broken_notebooks_are_statuses(tmp_path):
    root = tmp_path / 'sub'
    root.mkdir()
    (root / 'softmax.ipynb').write_text('{"cells": [')
    (root / 'layers.ipynb').symlink_to('/etc/passwd')
    reports = by_name(ng.run_submission_notebooks(root, names=('softmax.ipynb', 'two_layer_net.ipynb',
                                                                'layers.ipynb')))
    assert reports['softmax.ipynb']['status'] == 'not valid JSON'
    assert reports['two_layer_net.ipynb']['status'] == 'missing'
    assert reports['layers.ipynb']['status'] == 'unreadable'
    assert 'not a regular file' in reports['layers.ipynb']['errors'][0]


# -- the real notebooks ------------------------------------------------------------------------

def copy_part1(source: Path, dest: Path) -> Path:
    """A submission-like copy of a Part 1 folder with the Cython extension already built (as the
    checks leave it), without data."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(cifar10.FOLDER, 'build', '__pycache__'))
    for built in (REFERENCE / 'cs231n').glob('im2col_cython*.so'):
        shutil.copy(built, dest / 'cs231n' / built.name)
    return dest


@pytest.mark.slow
def test_the_reference_layers_notebook_runs_ok_with_its_probes(tmp_path, tiny_cifar_dir):
    root = copy_part1(REFERENCE, tmp_path / 'sub')
    require_bubblewrap(root)
    [report] = ng.run_submission_notebooks(root, names=('layers.ipynb',), budget_s=400, cifar_dir=tiny_cifar_dir)
    assert report['status'] == 'ok', report
    assert report['errors'] == []
    for figure in ('backward_errors=', 'fast_vs_naive_diffs=', 'speedups='):
        assert figure in report['measured']
    assert '=?' not in report['measured']


@pytest.mark.cifar
@pytest.mark.slow
def test_the_starter_notebooks_stop_at_their_first_stub(tmp_path, cifar10_dir):
    root = copy_part1(STUDENT, tmp_path / 'sub')
    require_bubblewrap(root)
    reports = by_name(ng.run_submission_notebooks(root, names=('softmax.ipynb', 'layers.ipynb'), budget_s=200,
                                                  cifar_dir=cifar10_dir))
    softmax, layers = reports['softmax.ipynb'], reports['layers.ipynb']
    assert softmax['status'] == 'error in cell 5', softmax
    # The failing cell is the starter's own: the report says so, and points at the code it calls.
    starter_cell = '(a cell of the starter, unchanged: look at the code it calls): '
    assert softmax['errors'][0].startswith('cell 5 ' + starter_cell + 'NotImplementedError: softmax_loss_vectorized')
    assert 'cs231n/classifiers/softmax.py' in softmax['errors'][0]
    assert 'did not run' in softmax['errors'][-1]
    assert layers['status'] == 'error in cell 3', layers
    assert layers['errors'][0].startswith('cell 3 ' + starter_cell + 'NotImplementedError: affine_forward')


# -- data without test labels ----------------------------------------------------------------------

@pytest.mark.cifar
def test_the_withheld_folder_has_real_images_and_zero_labels(cifar10_dir):
    withheld = ng.withheld_cifar10(cifar10_dir)
    assert withheld != Path(cifar10_dir).resolve()
    assert ng.withheld_cifar10(cifar10_dir) == withheld          # built once
    images, labels = cifar10.load_batch(withheld / cifar10.TEST_BATCH)
    real_images, real_labels = cifar10.load_batch(Path(cifar10_dir) / cifar10.TEST_BATCH)
    assert np.array_equal(images, real_images)
    assert labels.shape == real_labels.shape and not labels.any() and real_labels.any()
    with open(withheld / cifar10.TEST_BATCH, 'rb') as f:
        assert f.read(2) == b'\x80\x03'      # protocol 3: no globals beyond numpy's (see the writer)
    with open(withheld / cifar10.TEST_BATCH, 'rb') as f:
        assert 'filenames' not in pickle.load(f, encoding='latin1')
    for name in (*cifar10.TRAIN_BATCHES, cifar10.META):
        assert (withheld / name).read_bytes() == (Path(cifar10_dir) / name).read_bytes()
    assert np.array_equal(ng.real_test_labels(cifar10_dir), real_labels)


def test_the_sandbox_probes_never_read_the_test_labels():
    for name, probes in PROBES.items():
        inside = probes_without_test_labels(name)
        assert not any('y_test' in expr for expr in inside.values()), name
        assert ('test_predictions' in inside) == (name in TEST_PREDICTIONS)
        assert set(inside) - {'test_predictions'} == {k for k, v in probes.items() if 'y_test' not in v}


# -- claimed results ---------------------------------------------------------------------------------

@pytest.mark.parametrize('text, claims', [
    ('test accuracy: 0.38', {'test': 0.38}),
    ('Test accuracy:  0.512', {'test': 0.512}),
    ('validation accuracy: 0.49', {'validation': 0.49}),
    ('best validation accuracy: 0.512', {'validation': 0.512}),
    ('defaults: mean loss of the last 50 steps 2.1, validation accuracy 0.372', {'validation': 0.372}),
    ('final training accuracy on the 50 images: 0.98', {'training': 0.98}),
    ('val acc = 49.3%', {'validation': 0.493}),
    ('Accuracy on the test set: 41.2 %', {'test': 0.412}),
    ('training accuracy:   0.412 validation accuracy: 0.405', {'training': 0.412, 'validation': 0.405}),
    ('test accuracy: 0.30\ntest accuracy: 0.35', {'test': 0.35}),
    ('Finished epoch 1 / 5: cost 2.1, train: 0.34, val 0.35', {}),
    ('accuracy of 10 classes', {}),
])
def test_claimed_accuracies_in_printed_outputs(text, claims):
    assert ng.claimed_accuracies(notebook('pass', outputs={0: [text]})) == pytest.approx(claims)


def test_claims_read_plain_text_results_and_ignore_other_outputs():
    nb = notebook('acc', 'x')
    nb.cells[1].outputs = [nbformat.v4.new_output('execute_result', data={'text/plain': "'test accuracy 0.41'"},
                                                  execution_count=1)]
    nb.cells[2].outputs = [nbformat.v4.new_output('display_data', data={'text/html': 'test accuracy 0.99'})]
    assert ng.claimed_accuracies(nb) == {'test': 0.41}
    assert ng.claimed_accuracies({'cells': [{'cell_type': 'code', 'outputs': [None, {'output_type': 'stream',
                                                                                     'text': 5}]}]}) == {}


def test_claims_of_the_example_submission():
    with zipfile.ZipFile(ROOT / 'examples' / '1_cs231n.zip') as z:
        softmax = nbformat.reads(z.read('softmax.ipynb').decode(), as_version=4)
        convnet = nbformat.reads(z.read('convnet.ipynb').decode(), as_version=4)
    claims = ng.claimed_accuracies(softmax)
    assert set(claims) == {'training', 'validation', 'test'}
    assert 0.3 < claims['test'] < 0.5
    assert 0.4 < ng.claimed_accuracies(convnet)['validation'] < 0.7


# -- the runner's summary is untrusted ----------------------------------------------------------------

def test_a_valid_summary_keeps_only_the_probes_asked_for():
    parsed = ng.parse_summary(summary(), ['val_acc', 'test_predictions', 'initial_loss'])
    assert parsed.probes == {'val_acc': 0.4, 'test_predictions': [1, 2, 3]}
    assert parsed.errors[0]['ename'] == 'ValueError' and parsed.executed == [1, 2]


@pytest.mark.parametrize('raw', [
    b'', b'\xff\xfe', b'[1, 2]', b'{"format": 1}', summary(format=SUMMARY_FORMAT - 1), summary(extra=1),
    summary(finished='yes'), summary(budget_ran_out=1),
    summary(seconds=-1), summary(seconds=True), summary(code_cells=[1, -1]), summary(code_cells=[True]),
    summary(executed='1,2'), summary(running=1.5), summary(errors=[{'index': 2}]),
    summary(errors=[{'index': 2, 'ename': 1, 'evalue': '', 'traceback': ''}]), summary(probes=[]),
    summary(fatal=3), summary(probes={'val_acc': {'a': {'b': {'c': {'d': {'e': [1]}}}}}}),
    summary().replace(b'0.4', b'NaN'), summary().replace(b'0.4', b'1e999'), b'[' * 100000,
    summary().replace(b'0.4', b'9' * 5000),
])
def test_malformed_summaries_are_rejected(raw):
    with pytest.raises(ng.Untrusted):
        ng.parse_summary(raw, ['val_acc', 'test_predictions'])


def test_predictions_are_scored_here_and_checked():
    labels = np.array([3, 1, 4, 1, 5])
    assert summary_module.score_predictions([3, 1, 0, 0], labels) == (0.5, 4)
    for bad in ([], [1] * 6, [1.0, 2.0], [True, 1], [10], [-1], '31415', None):
        with pytest.raises(ng.Untrusted):
            summary_module.score_predictions(bad, labels)


def test_a_gap_between_claimed_and_measured_is_flagged():
    parsed = ng.parse_summary(summary(errors=[], executed=[1, 2, 3],
                                      probes={'val_acc': 0.41, 'test_predictions': [3, 1, 4, 1]}),
                              list(probes_without_test_labels('softmax.ipynb')))
    nb = notebook('a', 'b', 'c')
    report = ng.notebook_report('softmax.ipynb', nb, {'test': 0.52, 'validation': 0.40}, parsed,
                                np.array([3, 1, 4, 0, 9]), starter=HW1GRADE)
    assert report['status'] == 'ok' and report['claimed'] == 'test accuracy 0.520, validation accuracy 0.400'
    assert 'test accuracy 0.750 on the first 4 test images, scored by the grader' in report['measured']
    assert report['flags'] == ['claimed test accuracy 0.520, measured 0.750 (differ by more than 0.05)']
    assert 'FLAG' in report['measured']
    assert 'initial_loss' in report['errors'][0]       # a probe missing from a notebook that ran


def test_untrusted_files_are_read_without_following_links(tmp_path):
    """The notebooks' files are read by the one reader, graders.engine.untrusted; what it refuses is
    the `Untrusted` the notebook grading turns into a verdict."""
    read_file = ng.untrusted.read_file
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'ok.json').write_text('{}')
    (tmp_path / 'out' / 'big.json').write_text('x' * 100)
    (tmp_path / 'out' / 'link.json').symlink_to(tmp_path / 'out' / 'ok.json')
    (tmp_path / 'linked').symlink_to(tmp_path / 'out')
    os.mkfifo(tmp_path / 'out' / 'fifo.json')
    assert read_file(tmp_path, ('out', 'ok.json'), 10) == b'{}'
    assert read_file(tmp_path, ('out', 'absent.json'), 10) is None
    for rel in (('out', 'big.json'), ('out', 'link.json'), ('linked', 'ok.json'), ('out', 'fifo.json')):
        with pytest.raises(ng.Untrusted):
            read_file(tmp_path, rel, 10)
