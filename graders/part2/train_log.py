"""Parse the logs that Part 2's train.py writes (trusted side: plain text in, numbers out).

A log is what `run_<model>.sh` tees: progress lines
    Train Epoch: 1 [6400/49000 (13%)]<TAB>Train Loss: 1.912831<TAB>Val Loss: 1.853004<TAB>Val Acc: 35.3125
and, when training finished, the test line
    test set: Average loss: 1.2345, Accuracy: 5123/10000 (51%)
Students' logs also carry warnings, tracebacks, `tensor(...)` values and truncation; whatever does
not parse is ignored, and a missing test line is reported as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMBER = r'(?:tensor\()?([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\)?'
PROGRESS = re.compile(
    r'Train Epoch: (\d+) \[(\d+)/(\d+) \((\d+)%\)\]\s+'
    rf'Train Loss: {NUMBER}\s+Val Loss: {NUMBER}\s+Val Acc: {NUMBER}')
TEST = re.compile(r'test set: Average loss: ([-+\d.eE]+|nan), Accuracy: (\d+)/(\d+) \((\d+)%\)')


@dataclass
class Step:
    """One progress line: epochs done (a fraction within the epoch) and the three logged values."""
    epoch: float
    train_loss: float
    val_loss: float
    val_acc: float


@dataclass
class TrainLog:
    """A parsed log: the progress steps in order, and the final test result if the log has one."""
    steps: list[Step] = field(default_factory=list)
    test_correct: int | None = None
    test_total: int | None = None

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy as a fraction in [0, 1], or None if training did not finish."""
        if self.test_correct is None or not self.test_total:
            return None
        return self.test_correct / self.test_total


def parse_train_log(text: str) -> TrainLog:
    """Read every progress line and the last test line of a train.py log."""
    log = TrainLog()
    for line in text.splitlines():
        if m := PROGRESS.search(line):
            epoch, seen, total = int(m[1]), int(m[2]), int(m[3])
            log.steps.append(Step(epoch - 1 + seen / max(total, 1), float(m[5]), float(m[6]), float(m[7])))
        elif m := TEST.search(line):
            log.test_correct, log.test_total = int(m[2]), int(m[3])
    return log
