"""The README's main job: the bundled example submission (the reference, packaged by its own
collect_submission.sh) graded in full, hidden CIFAR-10 runs and notebooks included, earns 13/13."""
from pathlib import Path

import pytest

from graders import cli
from tests.helpers import results_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'examples' / '1_cs231n.zip'


@pytest.mark.slow
@pytest.mark.cifar
def test_the_bundled_example_earns_full_marks(cifar10_dir, tmp_path, capsys):
    assert cli.main(['grade', str(EXAMPLE), '--out', str(tmp_path)]) == 0
    summary = capsys.readouterr().out
    document = results_of(tmp_path)
    failed = [f'{t["number"]} {t["name"]}: {t["output"]}' for t in document['tests'] if t['status'] != 'passed']
    assert not failed, '\n'.join(failed)
    assert document['score'] == 13
    assert sum(t['max_score'] for t in document['tests']) == pytest.approx(13)
    # Every hidden check ran (the TA's grade is the full grade) and reports what it measured.
    hidden = [t for t in document['tests'] if t['visibility'] == 'after_published']
    assert len(hidden) == 3 and all('accuracy' in t['output'] for t in hidden)
    # The notebooks ran in the sandbox, for the report.
    assert 'notebooks (executed in the sandbox' in summary
    for name in ('softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb', 'convnet.ipynb'):
        line = next(line for line in summary.splitlines() if line.strip().startswith(name))
        assert ' ok' in line, line
    assert (tmp_path / 'report.html').read_text().count('class="pass"') == len(document['tests'])


@pytest.mark.slow
@pytest.mark.cifar
def test_the_bundled_part2_example_earns_full_marks(cifar10_dir, tmp_path, capsys):
    """The reference Part 2 run, zipped by its collect script: 16/16 with the grader's training runs."""
    assert cli.main(['grade', str(ROOT / 'examples' / '2_pytorch.zip'), '--out', str(tmp_path)]) == 0
    document = results_of(tmp_path)
    failed = [f'{t["number"]} {t["name"]}: {t["output"]}' for t in document['tests'] if t['status'] != 'passed']
    assert not failed, '\n'.join(failed)
    assert document['score'] == 16
    board = {entry['name']: entry['value'] for entry in document['leaderboard']}
    assert board['Accuracy (all challenge images)'] >= 0.85   # the reference MyModel's own bar
    assert set(board) == {'Public accuracy (10% split)', 'Accuracy (all challenge images)'}
