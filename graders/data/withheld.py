"""CIFAR-10 with its test labels withheld: what the sandbox gets when a submission's notebooks run.

Threat model: a notebook runs submitted code with the data set mounted; if the test labels were in it,
a notebook could print (or a submission could hard-code) any test accuracy. The sandbox gets the real
training batches and the real test images, but a test_batch whose labels are all 0 (and without the
file names, which name the class); the notebook's test-set predictions come back as probes and are
scored in the trusted process against `real_test_labels`, which never enter the sandbox.
"""

from __future__ import annotations

import fcntl
import json
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

from graders.data import cifar10

WITHHELD_STAMP = 'stamp.json'


def withheld_cifar10(source: Path | None = None) -> Path:
    """A cifar-10-batches-py folder for the sandbox: the real training batches and batches.meta, and
    a test_batch with the real test images whose labels are all 0 (no file names either: CIFAR's
    name the class). Built once beside `source` (in the hw1grade cache for the default source) and
    rebuilt when the source's stamp changes.

    source: the real folder (default `cifar10.ensure_cifar10()`, which may raise cifar10.DataError).
    """
    source = (Path(source) if source is not None else cifar10.ensure_cifar10()).resolve()
    stamp = cifar10.read_stamp(source.parent) or {'source': str(source)}
    home = source.parent / 'withheld-test-labels'
    home.mkdir(parents=True, exist_ok=True)
    with open(home / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # graders running side by side build it once
        try:
            if json.loads((home / WITHHELD_STAMP).read_text()) == stamp and (home / cifar10.FOLDER).is_dir():
                return home / cifar10.FOLDER
        except (OSError, ValueError):
            pass
        return _build_withheld(source, home, stamp)


def _build_withheld(source: Path, home: Path, stamp: dict) -> Path:
    """Write home/cifar-10-batches-py (see withheld_cifar10) through a scratch folder, then its stamp."""
    target = home / cifar10.FOLDER
    with tempfile.TemporaryDirectory(dir=home, prefix='.build-') as scratch:
        built = Path(scratch) / cifar10.FOLDER
        built.mkdir()
        for name in (*cifar10.TRAIN_BATCHES, cifar10.META):
            shutil.copyfile(source / name, built / name)
        images, _ = cifar10.load_batch(source / cifar10.TEST_BATCH)
        data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))
        batch = {'batch_label': 'testing batch 1 of 1 (labels withheld by the grader)',
                 'data': data, 'labels': [0] * len(data)}
        with open(built / cifar10.TEST_BATCH, 'wb') as f:
            # Protocol 3: readable by every Python 3 loader, and its only globals are the numpy ones
            # graders.data.cifar10's restricted unpickler accepts (protocol 2 adds _codecs.encode for bytes).
            pickle.dump(batch, f, protocol=3)
        for path in [built, *built.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (home / WITHHELD_STAMP).unlink(missing_ok=True)
        if target.exists():
            shutil.rmtree(target)
        built.rename(target)
    (home / WITHHELD_STAMP).write_text(json.dumps(stamp))
    return target


def real_test_labels(source: Path | None = None) -> np.ndarray:
    """The real test labels (10000,), int64: read here, never sent to the sandbox."""
    source = Path(source) if source is not None else cifar10.ensure_cifar10()
    return cifar10.load_batch(source / cifar10.TEST_BATCH)[1]
