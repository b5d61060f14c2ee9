"""Part 2's collect_submission.sh and `hw1grade example build --parts 2`, in a working copy whose four models
were trained on the tiny fixture data, plotted by the two notebooks and used for the challenge predictions."""
import zipfile

import numpy as np
import pytest
from PIL import Image

from graders import cli
from graders.course.example import FIXED_DATE
from graders.course.part2_runs import MODELS, REFERENCE_PART2, predict_challenge, render_notebooks, run_in
from tests.helpers import assert_every_page_has_ink, listed_in, plant, require_programs, train, zip_names

PLOTS = [f'{model}_{plot}.png' for model in MODELS for plot in ('lossvstrain', 'valaccuracy', 'gridfilt')]
CODE = ['train.py', 'test.py', 'cifar10.py', 'challenge_data.py', 'vis_utils.py', 'models/__init__.py',
        'softmax-classifier.ipynb', 'filter-viz.ipynb']
DELIVERABLES = set(CODE + PLOTS + [f'models/{m}.py' for m in MODELS] + [f'run_{m}.sh' for m in MODELS]
                   + [f'{m}.log' for m in MODELS] + ['extra.md', 'predictions.csv', '2_pytorch.pdf',
                                                     'mymodel_weights.pt'])
# Stray files that must stay out of the zip (the working copy also has data/ and the trained *.pt).
JUNK = ('models/__pycache__/convnet.cpython-311.pyc', '.ipynb_checkpoints/filter-viz-checkpoint.ipynb',
        '2_pytorch.zip', 'notes.txt', '.git/HEAD', 'data/extra_batch')


@pytest.fixture(autouse=True)
def programs():
    require_programs()


def collect(workdir, shell):
    return run_in(workdir, shell, 'collect_submission.sh', timeout=600)


@pytest.mark.slow
def test_part2_zip_holds_every_deliverable_and_nothing_else(tiny_workdir, tmp_path, capsys):
    for model in MODELS:
        train(tiny_workdir, model)
    runs = render_notebooks(tiny_workdir)
    assert all(run.ok for run in runs.values()), {name: run.errors for name, run in runs.items()}
    predict_challenge(tiny_workdir, 'mymodel')
    if not (tiny_workdir / 'extra.md').exists():
        (tiny_workdir / 'extra.md').write_text('# Extra\nName, email, best accuracy, what was tried.\n')
    plant(tiny_workdir, *JUNK)
    assert list(tiny_workdir.glob('*.pt'))

    proc = collect(tiny_workdir, 'bash')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'WARNING' not in proc.stderr
    names = zip_names(tiny_workdir / '2_pytorch.zip')
    assert set(names) == DELIVERABLES, f'extra: {set(names) - DELIVERABLES}; missing: {DELIVERABLES - set(names)}'
    with zipfile.ZipFile(tiny_workdir / '2_pytorch.zip') as z:
        # vis_utils.py is a symlink in the reference: the zip holds the file itself.
        assert z.read('vis_utils.py') == (REFERENCE_PART2 / 'vis_utils.py').resolve().read_bytes()
        assert (z.getinfo('vis_utils.py').external_attr >> 16) & 0o170000 == 0o100000
    assert assert_every_page_has_ink(tiny_workdir / '2_pytorch.pdf', tmp_path / 'pages') == len(PLOTS)

    assert cli.main(['example', 'build', '--parts', '2', '--part2-from', str(tiny_workdir),
                     '--out', str(tmp_path / 'examples')]) == 0
    built = tmp_path / 'examples' / '2_pytorch.zip'
    assert f'wrote {built}' in capsys.readouterr().out
    assert zip_names(built) == sorted(DELIVERABLES)
    extra = REFERENCE_PART2 / 'extra.md' if (REFERENCE_PART2 / 'extra.md').exists() else tiny_workdir / 'extra.md'
    with zipfile.ZipFile(built) as z:
        assert {info.date_time for info in z.infolist()} == {FIXED_DATE}
        assert z.read('extra.md') == extra.read_bytes(), "the reference's write-up"
        assert z.read('mymodel.log') == (tiny_workdir / 'mymodel.log').read_bytes()


def test_missing_part2_deliverables_are_listed_and_the_zip_is_still_made(tiny_workdir):
    (tiny_workdir / 'extra.md').unlink(missing_ok=True)
    (tiny_workdir / 'run_mymodel.sh').unlink()
    # A log cut short before its test line, and a single plot.
    (tiny_workdir / 'softmax.log').write_text('Train Epoch: 1 [0/100 (0%)]\tTrain Loss: 2.302585\t'
                                              'Val Loss: 2.302585\tVal Acc: 10.0\n')
    gradient = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    Image.fromarray(gradient).save(tiny_workdir / 'convnet_gridfilt.png')

    proc = collect(tiny_workdir, 'sh')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'WARNING: 2_pytorch.zip was made, but these deliverables are missing or incomplete:' in proc.stderr
    assert listed_in(proc.stderr, 'missing') == (
        {'extra.md', 'predictions.csv', 'run_mymodel.sh', 'twolayernn.log', 'convnet.log', 'mymodel.log'}
        | set(PLOTS) - {'convnet_gridfilt.png', 'mymodel_gridfilt.png'}), 'MyModel needs no filter grid'
    assert listed_in(proc.stderr, 'incomplete') == {'softmax.log'}
    names = set(zip_names(tiny_workdir / '2_pytorch.zip'))
    assert names == (set(CODE) | {f'models/{m}.py' for m in MODELS}
                     | {'run_softmax.sh', 'run_twolayernn.sh', 'run_convnet.sh', 'softmax.log',
                        'convnet_gridfilt.png', '2_pytorch.pdf'})
