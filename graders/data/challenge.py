"""The Q8.8 challenge set: unlabelled images for students, held-back labels for the grader.

`build_challenge` turns labelled images (CIFAR-10's public `test_batch` by default, any labelled
CIFAR-format batch, or staff's own folder of images: `hw1grade challenge build --from DIR`, format in
graders/data/heldout.py `load_image_folder`) into
- `<out>/students/test_images.npy`: uint8 (N, 32, 32, 3), in an order drawn with the course secret and
  each image transformed in label-preserving ways (mirror, shift of up to 1 pixel, mild noise:
  graders/data/heldout.py), so that neither an image's position nor its exact pixels find its public label;
- `<out>/grader/challenge_labels.json`: the label of every image id, the ids of the public
  leaderboard split (a fraction drawn with the secret, 10% by default) and the sha256 of the images
  file, which ties the labels to exactly those images. Only the trusted grader reads it; it never
  enters a sandbox or a student's hands.
The same source, course secret and settings always give the same files, so a course can rebuild them;
without a course secret the public demo secret is used and the labels file says so (`demo_secret`).
A student can still find a transformed public test image by an approximate search over the public
batch: that is detected (the Q8.8 cross-check with the submitted MyModel), not prevented, unless the
course builds the challenge from images of its own.
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

from graders.data import cifar10, heldout
from graders.engine import untrusted
from graders.engine.outcome import SubmissionError, UserError

IMAGES_FILE = "test_images.npy"
LABELS_FILE = "challenge_labels.json"
# The rubric question the challenge checks count towards (graders/part2/test_q8_8_challenge.py) and the
# figures they record with `record_scores`, which the leaderboard of results.json reads back
# (graders/classroom/leaderboard.py): named once, here, for the producer and the reader.
QUESTION = "Q8.8"
PUBLIC_ACCURACY, ACCURACY = "public_accuracy", "accuracy"
DEMO_NOTE = ("the challenge's order and transforms come from the public demo secret: anyone can rebuild "
             "them, so its accuracies prove nothing against a student who looks labels up")


@dataclass(frozen=True)
class ChallengeLabels:
    """What the grader knows about the challenge: labels (N,) int64 and the public ids (sorted)."""
    labels: np.ndarray
    public_ids: np.ndarray
    images_sha256: str
    demo_secret: bool = False

    @property
    def n_images(self) -> int:
        return len(self.labels)


def _source(source: Path | heldout.HeldOut) -> tuple[heldout.HeldOut, str]:
    """Labelled images from a CIFAR-format batch file, a staff folder (labels.csv), or as given."""
    if isinstance(source, heldout.HeldOut):
        return source, "images"
    source = Path(source)
    if source.is_dir():
        return heldout.load_image_folder(source), source.name
    return heldout.HeldOut(*cifar10.load_batch(source)), source.name


def build_challenge(source: Path | heldout.HeldOut, out: Path, secret: heldout.CourseSecret | None = None,
                    public_fraction: float = 0.1, settings: dict | None = None) -> tuple[Path, Path]:
    """Write the students' images and the grader's labels from labelled images (see the module's doc).

    secret: the course secret (default: the demo secret); settings: the rubric's, for [heldout]
    transform, max_shift and noise_std. Returns (images path, labels path)."""
    if not 0 < public_fraction <= 1:
        raise ValueError(f"public_fraction must be in (0, 1], not {public_fraction}")
    secret = secret or heldout.CourseSecret()
    pool, name = _source(source)
    options = heldout.settings_of(settings)
    drawn = heldout.draw(pool, len(pool.labels), secret.rng("challenge", "order"), options["transform"],
                         options["max_shift"], options["noise_std"])
    images, labels = drawn.images, drawn.labels
    n_public = max(1, round(public_fraction * len(labels)))
    public_ids = np.sort(secret.rng("challenge", "public").choice(len(labels), n_public, replace=False))

    students, grader = Path(out) / "students", Path(out) / "grader"
    students.mkdir(parents=True, exist_ok=True)
    grader.mkdir(parents=True, exist_ok=True)
    images_path = students / IMAGES_FILE
    np.save(images_path, images, allow_pickle=False)
    labels_path = grader / LABELS_FILE
    labels_path.write_text(json.dumps({
        "source": name,
        "secret": secret.fingerprint,
        "demo_secret": secret.demo,
        "transform": {k: options[k] for k in ("transform", "max_shift", "noise_std")},
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
    return ChallengeLabels(labels, np.sort(public_ids), str(raw["images_sha256"]), bool(raw.get("demo_secret")))


def images_beside(labels_path: Path, challenge: ChallengeLabels) -> np.ndarray | None:
    """The challenge images build_challenge wrote beside `labels_path` (../students/test_images.npy), if
    they are there and are the ones the labels were made for (sha256); else None. The grader's own file."""
    path = Path(labels_path).parent.parent / "students" / IMAGES_FILE
    if not path.is_file() or cifar10.file_digest(path) != challenge.images_sha256:
        return None
    images = np.load(path, allow_pickle=False)
    ok = images.dtype == np.uint8 and images.shape == (challenge.n_images, 32, 32, 3)
    return images if ok else None


class PredictionsError(SubmissionError, ValueError):
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


def record_scores(record, scores: tuple[float, float]) -> None:
    """Record a challenge check's (public, full) accuracy with pytest's `record_property`, under the names
    the leaderboard reads."""
    public, full = scores
    record(PUBLIC_ACCURACY, round(public, 4))
    record(ACCURACY, round(full, 4))


def predictions_file(root: Path) -> Path | None:
    """The submission's predictions.csv (any case), or None (listed by `untrusted.entries`: links and
    special files are no predictions file)."""
    return next((Path(root) / e.name for e in untrusted.entries(root) if e.name.lower() == "predictions.csv"
                 and e.kind == untrusted.FILE), None)


def submitted_predictions(root: Path, n_images: int) -> np.ndarray:
    """The labels (n_images,) the submission's predictions.csv gives; PredictionsError when it is unusable."""
    path = predictions_file(root)
    try:
        data = untrusted.read_file(root, (path.name,), PREDICTIONS_BYTES + 1, truncate=True) if path else None
    except untrusted.UnsafeFile:   # replaced by a link or a special file since it was listed
        data = None
    if data is None:
        raise PredictionsError("predictions.csv is missing (python test.py --model mymodel.pt writes it)")
    if len(data) > PREDICTIONS_BYTES:
        raise PredictionsError(f"predictions.csv is over {PREDICTIONS_BYTES >> 20} MB")
    return read_predictions(data.decode("utf-8", "replace"), n_images)


def score_predictions(root: Path, challenge: ChallengeLabels) -> tuple[float, float]:
    """(public, full) accuracy of the submission's predictions.csv; PredictionsError when it is unusable."""
    return accuracies(submitted_predictions(root, challenge.n_images), challenge)


def cache_name(secret: heldout.CourseSecret, settings: dict | None = None) -> str:
    """The cache folder of a challenge: the secret's fingerprint and the transform settings."""
    options = heldout.settings_of(settings)
    return f"{secret.fingerprint}-" + "-".join(f"{k}{options[k]}" for k in ("transform", "max_shift", "noise_std"))


def default_labels(cifar_dir: Path, secret: heldout.CourseSecret | None = None, settings: dict | None = None) -> Path:
    """The labels file of the challenge built from CIFAR-10's test batch with the course secret (default:
    $HW1_COURSE_SECRET / $HW1_COURSE_SECRET_FILE / rubric [heldout] secret_file, else the demo secret),
    made once in the hw1grade cache (beside the extracted CIFAR-10, under the secret's fingerprint) and
    reused; its images are in ../students/."""
    secret = secret or heldout.course_secret(settings)
    home = cifar10.resolve_cache_dir().parent / "challenge" / cache_name(secret, settings)
    labels = home / "grader" / LABELS_FILE
    if not labels.is_file():
        home.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=home.parent))
        try:
            build_challenge(Path(cifar_dir) / cifar10.TEST_BATCH, scratch, secret, settings=settings)
            try:
                scratch.rename(home)
            except OSError:  # built meanwhile by another grader: theirs is the same
                pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return labels


def challenge_build(args) -> int:
    """`hw1grade challenge build`: make the challenge files from a batch, a staff folder, or (default)
    CIFAR-10's test batch, with the course secret."""
    from graders.engine.rubric import load_rubric
    settings = load_rubric().settings
    secret = heldout.secret_from_file(Path(args.secret_file), "--secret-file") if args.secret_file \
        else heldout.course_secret(settings)   # a heldout.SecretError is the user's (exit 2)
    if args.source:
        source = Path(args.source)
        if not source.is_dir():
            raise UserError(f"--from {source}: not a folder (it needs {heldout.LABELS_CSV} and the images)")
    else:
        source = Path(args.batch) if args.batch else cifar10.ensure_cifar10() / cifar10.TEST_BATCH
    # a heldout.ImagesError (staff's folder of images) is the user's (exit 2)
    images_path, labels_path = build_challenge(source, Path(args.out), secret, args.public_fraction, settings)
    labels = load_labels(labels_path)
    print(f"{labels.n_images} challenge images for students: {images_path}")
    print(f"labels for the grader only ({len(labels.public_ids)} public ids): {labels_path}")
    if secret.demo:
        print("built with the public demo secret: set HW1_COURSE_SECRET or pass --secret-file for a course")
    return 0


def add_challenge_commands(subparsers) -> None:
    """The `challenge` group: `hw1grade challenge build`."""
    group = subparsers.add_parser("challenge", help="the Q8.8 challenge set")
    commands = group.add_subparsers(metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build", help="make test_images.npy for students and the held-back labels for the grader",
        description=__doc__.split("\n\n")[1])
    source = build.add_mutually_exclusive_group()
    source.add_argument("--batch", metavar="PATH",
                        help="a labelled CIFAR-format batch file (default: test_batch of the cached CIFAR-10)")
    source.add_argument("--from", dest="source", metavar="DIR",
                        help="staff's own images: DIR/labels.csv with the header file,label, one row per 32x32 "
                             "image file in DIR (PNG, JPEG...), label 0-9 or a CIFAR-10 class name")
    build.add_argument("--out", metavar="DIR", default="out/challenge",
                       help="writes DIR/students/ and DIR/grader/ (default: out/challenge)")
    build.add_argument("--secret-file", metavar="PATH",
                       help="the course secret (default: $HW1_COURSE_SECRET, $HW1_COURSE_SECRET_FILE, "
                            "rubric [heldout] secret_file, else the public demo secret)")
    build.add_argument("--public-fraction", type=float, default=0.1,
                       help="share of the images on the public leaderboard (default 0.1)")
    build.set_defaults(handler=challenge_build)
