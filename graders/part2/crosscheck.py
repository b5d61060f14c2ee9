"""The Q8.8 cross-check: does predictions.csv come from the MyModel the submission contains?

predictions.csv is data a student can write by any means, among them the public CIFAR-10 labels of the
challenge images found by an approximate search over the public test batch (the challenge's transforms
defeat an exact lookup only). Where the submission holds MyModel's weights (`mymodel_weights.pt`, a
state_dict train.py saves beside `mymodel.pt`: `torch.save(model.state_dict(), 'mymodel_weights.pt')`;
or a `mymodel.pt` that is a state_dict), MyModel is
built in the sandbox with the sizes run_mymodel.sh passes, the weights are loaded there with
torch.load(weights_only=True) (the trusted process never opens the file), and it predicts a sample of
the challenge images drawn with the course secret. The sandbox sees those images only; the labels stay
here. When predictions.csv disagrees with the model on more of the sample than rubric [challenge]
`max_disagreement`, the grade is flagged for manual review (points unchanged: a TA decides). Without
weights the report says that the cross-check could not be done.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from graders.engine.bridge import SandboxError
from graders.engine.checks import as_array
from graders.part2.models import PROBE, SPECS

WEIGHTS_FILES = ('mymodel_weights.pt', 'mymodel.pt')
MAX_WEIGHTS_BYTES = 100 << 20


@dataclass(frozen=True)
class CrossCheck:
    """What the cross-check found: a note for the report, and whether it flags the grade."""
    note: str
    flagged: bool = False
    disagreement: float | None = None


def weights_file(root: Path) -> Path | None:
    """The first of WEIGHTS_FILES that is a regular file (lstat: a link is not followed, nothing is opened)."""
    for name in WEIGHTS_FILES:
        try:
            info = os.lstat(Path(root) / name)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and 0 < info.st_size <= MAX_WEIGHTS_BYTES:
            return Path(root) / name
    return None


def sample_ids(n_images: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` challenge image ids (sorted) drawn with `rng` (the course secret's)."""
    return np.sort(rng.choice(n_images, min(size, n_images), replace=False))


def cross_check(worker, root: Path, flags: dict, images: np.ndarray, ids: np.ndarray, submitted: np.ndarray,
                labels: np.ndarray, max_disagreement: float) -> CrossCheck:
    """Compare predictions.csv (`submitted`, labels by image id) with the submitted MyModel on the challenge
    images `ids` (`images` all of them; `labels` the held labels, used here only for the note)."""
    path = weights_file(root)
    if path is None:
        return CrossCheck(f'predictions.csv could not be cross-checked against MyModel: the submission has no '
                          f'{WEIGHTS_FILES[0]} under {MAX_WEIGHTS_BYTES >> 20} MB (MyModel\'s state_dict: '
                          "torch.save(model.state_dict(), 'mymodel_weights.pt'))")
    spec = SPECS['mymodel']
    try:
        model = worker.call(f'{PROBE}:build_model', spec.module, spec.cls, spec.args(flags), 0)
        reply = worker.call(f'{PROBE}:predict_with_weights', model, path.name, images[ids], timeout=300)
        if type(reply) is not dict or set(reply) != {'plain', 'flip_tta'}:
            raise TypeError('the sandbox sent something else than the two predictions')
        predicted = {k: as_array(f'MyModel predictions ({k})', reply[k], ids.shape, kind='iu') for k in reply}
    except (Exception, pytest.fail.Exception) as err:  # noqa: BLE001  (a check of a check: a note, never a verdict)
        why = str(err) if isinstance(err, SandboxError) else f'{type(err).__name__}: {err}'
        return CrossCheck(f'predictions.csv could not be cross-checked against MyModel: loading {path.name} into '
                          f'{spec.signature(flags)} and predicting failed: {why[:600]}')
    mismatch = {k: float(np.mean(v != submitted[ids])) for k, v in predicted.items()}
    closest = min(mismatch, key=mismatch.get)
    rate = mismatch[closest]
    csv_accuracy = float(np.mean(submitted[ids] == labels[ids]))
    model_accuracy = float(np.mean(predicted[closest] == labels[ids]))
    figures = (f'{rate:.1%} of {len(ids)} sampled challenge images (predictions.csv scores {csv_accuracy:.3f} '
               f'there, MyModel with {path.name} {model_accuracy:.3f})')
    if rate > max_disagreement:
        return CrossCheck(f'manual review: predictions.csv disagrees with the submitted MyModel on {figures}, '
                          f'more than the {max_disagreement:.0%} allowed: it does not come from that model', True, rate)
    return CrossCheck(f'predictions.csv agrees with the submitted MyModel except on {figures}', False, rate)
