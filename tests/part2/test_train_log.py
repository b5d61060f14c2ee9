"""The trusted parser of train.py logs, on clean and messy logs."""
import pytest

from graders.part2.train_log import parse_train_log

CLEAN = (
    'Train Epoch: 1 [0/49000 (0%)]\tTrain Loss: 2.302585\tVal Loss: 2.301000\tVal Acc: 10.3125\n'
    'Train Epoch: 1 [24500/49000 (50%)]\tTrain Loss: 1.700000\tVal Loss: 1.650000\tVal Acc: 41.25\n'
    'Train Epoch: 2 [0/49000 (0%)]\tTrain Loss: 1.500000\tVal Loss: 1.550000\tVal Acc: 45.0\n'
    '\n'
    'test set: Average loss: 1.5012, Accuracy: 4623/10000 (46%)\n'
    '\n'
)


def test_clean_log():
    log = parse_train_log(CLEAN)
    assert [s.epoch for s in log.steps] == [0.0, 0.5, 1.0]
    assert [s.val_acc for s in log.steps] == [10.3125, 41.25, 45.0]
    assert log.steps[1].train_loss == 1.7 and log.steps[1].val_loss == 1.65
    assert log.test_accuracy == pytest.approx(0.4623)


def test_old_torch_tensor_values_and_noise_are_read():
    messy = ('UserWarning: volatile was removed\n'
             'Train Epoch: 1 [0/49000 (0%)]\tTrain Loss: 2.302585\tVal Loss: 2.301000\tVal Acc: tensor(12.5000)\n'
             'Traceback (most recent call last):\n')
    log = parse_train_log(messy)
    assert [s.val_acc for s in log.steps] == [12.5]
    assert log.test_accuracy is None


def test_truncated_log_has_no_test_accuracy():
    truncated = CLEAN[:CLEAN.index('test set')] + 'test set: Average lo'
    log = parse_train_log(truncated)
    assert len(log.steps) == 3 and log.test_accuracy is None


def test_empty_log():
    log = parse_train_log('')
    assert log.steps == [] and log.test_accuracy is None
