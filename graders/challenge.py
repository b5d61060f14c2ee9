"""The Q8.8 challenge set: unlabelled images for students, held-back labels for the grader.

`build_challenge` turns any labelled CIFAR-format batch (by default CIFAR-10's `test_batch`) into
- `<out>/students/test_images.npy`: uint8 (N, 32, 32, 3), in a seeded shuffled order, handed out;
- `<out>/grader/challenge_labels.json`: the label of every image id, the ids of the public
  leaderboard split (a seeded fraction, 10% by default) and the sha256 of the images file, which
  ties the labels to exactly those images. Only the trusted grader reads it; it never enters a
  sandbox or a student's hands.
The same batch, seed and fraction always give the same files, so a course can rebuild them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graders import cifar10, intake

IMAGES_FILE = "test_images.npy"
LABELS_FILE = "challenge_labels.json"


@dataclass(frozen=True)
class ChallengeLabels:
    """What the grader knows about the challenge: labels (N,) int64 and the public ids (sorted)."""
    labels: np.ndarray
    public_ids: np.ndarray
    images_sha256: str

    @property
    def n_images(self) -> int:
        return len(self.labels)


def build_challenge(batch: Path, out: Path, seed: int = 0, public_fraction: float = 0.1) -> tuple[Path, Path]:
    """Write the students' images and the grader's labels from one labelled batch file.

    Returns (images path, labels path)."""
    if not 0 < public_fraction <= 1:
        raise ValueError(f"public_fraction must be in (0, 1], not {public_fraction}")
    images, labels = cifar10.load_batch(Path(batch))
    rng = np.random.default_rng(seed)
    # Shuffled so that row i of the challenge is not row i of the public test batch.
    order = rng.permutation(len(labels))
    images, labels = images[order], labels[order]
    n_public = max(1, round(public_fraction * len(labels)))
    public_ids = np.sort(rng.choice(len(labels), n_public, replace=False))

    students, grader = Path(out) / "students", Path(out) / "grader"
    students.mkdir(parents=True, exist_ok=True)
    grader.mkdir(parents=True, exist_ok=True)
    images_path = students / IMAGES_FILE
    np.save(images_path, images, allow_pickle=False)
    labels_path = grader / LABELS_FILE
    labels_path.write_text(json.dumps({
        "source": Path(batch).name,
        "seed": seed,
        "public_fraction": public_fraction,
        "images_sha256": cifar10.file_digest(images_path),
        "labels": labels.tolist(),
        "public_ids": public_ids.tolist(),
    }))
    return images_path, labels_path


def load_labels(path: Path) -> ChallengeLabels:
    """Read and check a labels file written by `build_challenge`."""
    raw = json.loads(Path(path).read_text())
    labels = np.asarray(raw["labels"], dtype=np.int64)
    public_ids = np.asarray(raw["public_ids"], dtype=np.int64)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"{path}: labels must be a list of integers in 0..9")
    if public_ids.size == 0 or public_ids.min() < 0 or public_ids.max() >= len(labels) \
            or len(np.unique(public_ids)) != len(public_ids):
        raise ValueError(f"{path}: public_ids must be distinct image ids")
    return ChallengeLabels(labels, np.sort(public_ids), str(raw["images_sha256"]))


class PredictionsError(ValueError):
    """predictions.csv breaks the format; str() is the message for the student."""


PREDICTIONS_BYTES = 5 << 20
INTEGER = re.compile(r"^\s*[0-9]+\s*$")


def read_predictions(text: str, n_images: int) -> np.ndarray:
    """The labels (n_images,) int64 that predictions.csv gives, by image id.

    The file must be test.py's: the header `image_id,label`, then exactly one row `id,label` per
    image id 0..n_images-1 (any order), labels integers 0-9, nothing else. Raises PredictionsError
    naming the first problems found."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    while rows and not any(field.strip() for field in rows[-1]):
        rows.pop()
    if not rows or [field.strip() for field in rows[0]] != ["image_id", "label"]:
        got = ",".join(rows[0])[:80] if rows else "an empty file"
        raise PredictionsError(f"the first line must be the header image_id,label (got {got!r})")
    labels = np.full(n_images, -1, dtype=np.int64)
    bad, out_of_range, unknown, duplicated = [], [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not all(INTEGER.match(field) for field in row):
            bad.append(f"line {line}: {','.join(row)[:40]!r}")
            continue
        image_id, label = int(row[0]), int(row[1])
        if not 0 <= image_id < n_images:
            unknown.append(str(image_id))
        elif labels[image_id] >= 0:
            duplicated.append(str(image_id))
        elif not 0 <= label <= 9:
            out_of_range.append(f"{label} (image {image_id})")
        else:
            labels[image_id] = label
    missing = [str(i) for i in np.flatnonzero(labels < 0)] if not (bad or out_of_range) else []
    problems = [(f"{len(items)} {what}", items) for what, items in (
        ("lines that are not two integers id,label", bad), ("labels outside 0-9", out_of_range),
        (f"ids outside 0-{n_images - 1}", unknown), ("ids listed twice", duplicated),
        (f"of the {n_images} image ids missing", missing)) if items]
    if problems:
        raise PredictionsError("; ".join(f"{what} (e.g. {', '.join(items[:3])})" for what, items in problems))
    return labels


def accuracies(predicted: np.ndarray, challenge: ChallengeLabels) -> tuple[float, float]:
    """(accuracy on the public split, accuracy on all images) of labels by image id."""
    correct = predicted == challenge.labels
    return float(correct[challenge.public_ids].mean()), float(correct.mean())


def predictions_file(root: Path) -> Path | None:
    """The submission's predictions.csv (any case), or None."""
    return next((p for p in sorted(Path(root).iterdir()) if p.name.lower() == "predictions.csv" and p.is_file()
                 and not p.is_symlink()), None)


def score_predictions(root: Path, challenge: ChallengeLabels) -> tuple[float, float]:
    """(public, full) accuracy of the submission's predictions.csv; PredictionsError when it is unusable."""
    path = predictions_file(root)
    data = intake.read_submitted(path, PREDICTIONS_BYTES + 1) if path else None
    if data is None:
        raise PredictionsError("predictions.csv is missing (python test.py --model mymodel.pt writes it)")
    if len(data) > PREDICTIONS_BYTES:
        raise PredictionsError(f"predictions.csv is over {PREDICTIONS_BYTES >> 20} MB")
    return accuracies(read_predictions(data.decode("utf-8", "replace"), challenge.n_images), challenge)


DEFAULT_SEED = 0


def default_labels(cifar_dir: Path, seed: int = DEFAULT_SEED) -> Path:
    """The labels file of the challenge built from CIFAR-10's test batch with `seed`, made once in the
    hw1grade cache (beside the extracted CIFAR-10) and reused."""
    home = cifar10.resolve_cache_dir().parent / "challenge" / f"seed{seed}"
    labels = home / "grader" / LABELS_FILE
    if not labels.is_file():
        home.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=home.parent))
        try:
            build_challenge(Path(cifar_dir) / cifar10.TEST_BATCH, scratch, seed)
            try:
                scratch.rename(home)
            except OSError:  # built meanwhile by another grader: theirs is the same
                pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return labels


def challenge_build(args) -> int:
    """`hw1grade challenge build`: make the challenge files from a batch (default: CIFAR-10's test batch)."""
    batch = Path(args.batch) if args.batch else cifar10.ensure_cifar10() / cifar10.TEST_BATCH
    images_path, labels_path = build_challenge(batch, Path(args.out), args.seed, args.public_fraction)
    labels = load_labels(labels_path)
    print(f"{labels.n_images} challenge images for students: {images_path}")
    print(f"labels for the grader only ({len(labels.public_ids)} public ids): {labels_path}")
    return 0


def add_challenge_commands(subparsers) -> None:
    """The `challenge` group: `hw1grade challenge build`."""
    group = subparsers.add_parser("challenge", help="the Q8.8 challenge set")
    commands = group.add_subparsers(metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build", help="make test_images.npy for students and the held-back labels for the grader",
        description=__doc__.split("\n\n")[1])
    build.add_argument("--batch", metavar="PATH",
                       help="a labelled CIFAR-format batch file (default: test_batch of the cached CIFAR-10)")
    build.add_argument("--out", metavar="DIR", default="out/challenge",
                       help="writes DIR/students/ and DIR/grader/ (default: out/challenge)")
    build.add_argument("--seed", type=int, default=0, help="seed of the order and public split (default 0)")
    build.add_argument("--public-fraction", type=float, default=0.1,
                       help="share of the images on the public leaderboard (default 0.1)")
    build.set_defaults(handler=challenge_build)
