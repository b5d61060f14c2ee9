"""train.py, test.py and the two Part 2 notebooks, run for real on the tiny fixture data."""
import csv
import re

import pytest
import torch

from graders.notebooks.runner import execute_notebook
from graders.part2.train_log import parse_train_log
from tests.helpers import SMOKE_FLAGS, assert_png_has_content, run_ok, train

TRAIN_LINE = re.compile(r'^Train Epoch: (\d+) \[(\d+)/(\d+) \((\d+)%\)\]\tTrain Loss: (\d+\.\d{6})\t'
                        r'Val Loss: (\d+\.\d{6})\tVal Acc: (\d+(?:\.\d+)?)$')
TEST_LINE = re.compile(r'^test set: Average loss: \d+\.\d{4}, Accuracy: (\d+)/(\d+) \((\d+)%\)$')



@pytest.mark.slow
@pytest.mark.parametrize('model', list(SMOKE_FLAGS))
def test_train_logs_in_the_starter_format_and_saves_the_model(tiny_workdir, model):
    lines = train(tiny_workdir, model).splitlines()
    progress = [TRAIN_LINE.match(line) for line in lines if line.startswith('Train Epoch')]
    assert progress and all(progress), 'every progress line must match the starter format'
    assert [int(m[2]) for m in progress] == [25 * i for i in range(len(progress))]
    assert all(int(m[3]) == 100 for m in progress), 'train split = 1100 - val_samples'
    last = [line for line in lines if line.strip()][-1]
    assert TEST_LINE.match(last), 'the log must end with the test set line'
    assert TEST_LINE.match(last)[2] == '60'
    model_obj = torch.load(tiny_workdir / f'{model}.pt', weights_only=False)
    assert model_obj(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.slow
def test_predictions_csv_has_one_row_per_challenge_image(tiny_workdir):
    train(tiny_workdir, 'softmax')
    for flags in ([], ['--flip-tta']):
        run_ok(tiny_workdir, 'python', 'test.py', '--model', 'softmax.pt', '--test-dir', 'data', *flags)
        with open(tiny_workdir / 'predictions.csv', newline='') as f:
            rows = list(csv.reader(f))
        assert rows[0] == ['image_id', 'label']
        assert [int(r[0]) for r in rows[1:]] == list(range(25))
        assert all(0 <= int(r[1]) <= 9 and len(r) == 2 for r in rows[1:])


@pytest.mark.slow
def test_notebooks_plot_every_trained_model(tiny_workdir):
    for model in ('softmax', 'convnet'):
        train(tiny_workdir, model)
    run = execute_notebook(tiny_workdir / 'softmax-classifier.ipynb', tiny_workdir,
                           probes={'parsed': '{m: len(log["epoch"]) for m, log in logs.items()}',
                                   'test_acc': '{m: log["test_acc"] for m, log in logs.items()}'})
    assert run.ok, run.errors
    # The notebook's parser reads back every line train.py wrote.
    for model in ('softmax', 'convnet'):
        log = (tiny_workdir / f'{model}.log').read_text().splitlines()
        assert run.probes['parsed'][model] == sum(1 for line in log if TRAIN_LINE.match(line))
        correct, total = next(TEST_LINE.match(line) for line in log if TEST_LINE.match(line)).group(1, 2)
        assert run.probes['test_acc'][model] == pytest.approx(100 * int(correct) / int(total))
        # The grader's own parser agrees with the notebook's.
        trusted = parse_train_log('\n'.join(log))
        assert len(trusted.steps) == run.probes['parsed'][model]
        assert 100 * trusted.test_accuracy == pytest.approx(run.probes['test_acc'][model])
        for plot in (f'{model}_lossvstrain.png', f'{model}_valaccuracy.png'):
            assert_png_has_content(tiny_workdir / plot)
    assert not (tiny_workdir / 'twolayernn_lossvstrain.png').exists()

    run = execute_notebook(tiny_workdir / 'filter-viz.ipynb', tiny_workdir,
                           probes={'shape': 'list(filters.shape)'})
    assert run.ok, run.errors
    assert run.probes['shape'] == [4, 5, 5, 3], 'the last model drawn is the convnet, 4 filters 5x5'
    for model in ('softmax', 'convnet'):
        assert_png_has_content(tiny_workdir / f'{model}_gridfilt.png')
