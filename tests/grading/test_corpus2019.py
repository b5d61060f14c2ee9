"""The 2019-style corpus (fixtures/corpus2019.py): what real submissions of the official 2019 starter
look like, graded by the real engine. The correct one earns every point; the report notes what the
course environment and the bridge converted (np.matrix, np.int, inputs changed in place)."""
import pytest

from fixtures import corpus2019
from graders.engine.grade import grade
from tests.helpers import results_of

pytestmark = [pytest.mark.slow, pytest.mark.cifar]

NOTES = ('np.matrix returned: converted to a plain numpy array', 'np.int used: legacy numpy alias shimmed to int',
         'relu_backward` changed its input argument 1 in place: no points taken')


def test_the_correct_2019_style_submission_earns_13_of_13(tmp_path, build_cache, cifar10_dir):
    root = corpus2019.build('correct', tmp_path / '1_cs231n')
    graded = grade(root, out_dir=tmp_path / 'out', visible_only=True, notebooks=False, call_timeout=30,
                   build_cache=build_cache, find_cifar10=lambda: cifar10_dir)
    failed = {(s.check.question, s.check.name): s.check.message for s in graded.scored if not s.check.passed}
    assert failed == {}
    assert results_of(tmp_path / 'out')['score'] == 13
    for note in NOTES:
        assert sum(note in n for n in graded.notes) == 1, (note, graded.notes)


def test_the_correct_2019_style_notebooks_run_ok_with_measured_figures(tmp_path, cifar10_dir):
    """All four 2019-style notebooks run to their end in the sandbox with the course environment
    (six, the kitten cell's scipy.misc without the pictures, np.int, a Windows data path), and the
    report measures them without our variable names: printed figures, test accuracy scored here."""
    from graders.notebooks.grading import run_submission_notebooks
    root = corpus2019.build('correct', tmp_path / '1_cs231n')
    reports = {r['name']: r for r in run_submission_notebooks(root, cifar_dir=cifar10_dir)}
    for name, report in reports.items():
        assert report['status'] == 'ok' and report['starter'] == '2019', report
        assert 'printed: ' in report['measured'], report
    for name in ('softmax.ipynb', 'two_layer_net.ipynb', 'convnet.ipynb'):
        assert 'scored by the grader' in reports[name]['measured'], reports[name]
    assert 'test accuracy' not in reports['layers.ipynb']['measured']
    # claims (saved outputs) against the grader's run: the softmax claim is within the gap
    assert reports['softmax.ipynb']['claimed'] == 'test accuracy 0.334, validation accuracy 0.331'
    notes = [n for r in reports.values() for n in r['notes']]
    for expected in ('kitten.jpg is not in the submission', 'scipy.misc.imread used', 'a Windows-style path',
                     'np.int used'):
        assert any(n.startswith(expected) for n in notes), (expected, notes)
