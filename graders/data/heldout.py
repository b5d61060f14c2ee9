"""Held-out images whose labels a submission cannot look up: the course secret, the per-grade draw and
the label-preserving transforms.

Threat model. CIFAR-10's test batch and its labels are public, and so is this repository (rubric,
seeds, run sizes). A submission that skips learning can return the public label of every image it is
scored on, provided it can tell which public image it is looking at: by position (the first N test
images, in order) or by its pixels (an exact hash of the image, or of the image the grader's centring
leaves recoverable). So
- which images are scored is drawn at random per grade from a **course secret** that is not in the
  repository, mixed with the submission's digest (a regrade of the same bytes replays the draw, a new
  submission gets a new one): position tells nothing;
- every drawn image is transformed in ways that keep its label (a horizontal flip, a shift of up to
  one pixel with the edge pixels repeated, mild Gaussian noise), so no exact lookup of a public image
  matches: pixels tell nothing exact.
What stays possible is an approximate search (nearest neighbour over the 10,000 public test images and
their flips and shifts) where the held-out images come from the public test batch: that is detected,
not prevented (the plausibility ceilings of rubric.toml, the Q8.8 cross-check with the submitted
MyModel), unless staff draw from images of their own (`[heldout] images`, `challenge build --from`).

The secret, in order: $HW1_COURSE_SECRET (the text itself), $HW1_COURSE_SECRET_FILE or rubric
`[heldout] secret_file` (a file holding it). Without one, a demo secret written below is used (students'
self-check, `make demo`, CI): the results then say that the draw is not secret.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graders.engine.outcome import Note, UserError

SECRET_ENV = 'HW1_COURSE_SECRET'
SECRET_FILE_ENV = 'HW1_COURSE_SECRET_FILE'
DEMO_SECRET = b'hw1grade demo secret: public, in the repository, NOT a secret'
DEMO_NOTE = ('held-out images drawn with the demo secret (no course secret configured: set HW1_COURSE_SECRET '
             'or HW1_COURSE_SECRET_FILE): the draw is public, so these accuracies prove nothing against a '
             'student who looks labels up')
MIN_SECRET_BYTES = 16
# Label-preserving perturbations (defaults of rubric [heldout]); benchmarks/calibrate_heldout.py shows
# that the reference keeps its accuracy under them.
MAX_SHIFT = 1
NOISE_STD = 2.0
LABELS_CSV = 'labels.csv'
CLASS_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class SecretError(UserError, ValueError):
    """A configured course secret cannot be used; str() says which and why (a grader's failure)."""


@dataclass(frozen=True)
class CourseSecret:
    """The course secret (bytes, never printed) and where it came from."""
    value: bytes = DEMO_SECRET
    source: str = 'demo'

    @property
    def demo(self) -> bool:
        return self.value == DEMO_SECRET

    @property
    def fingerprint(self) -> str:
        """A short name of the secret that reveals nothing of it (which secret built a challenge)."""
        return hmac.new(self.value, b'fingerprint', hashlib.sha256).hexdigest()[:16]

    def rng(self, purpose: str, *parts: object) -> np.random.Generator:
        """A generator that only the holder of the secret can replay, one stream per (purpose, parts)."""
        message = '\x1f'.join(map(str, (purpose, *parts))).encode()
        digest = hmac.new(self.value, message, hashlib.sha256).digest()
        return np.random.default_rng(np.frombuffer(digest, dtype='<u4').astype(np.uint64).tolist())


def secret_from_file(path: Path, source: str) -> CourseSecret:
    """The secret held in the file `path` (surrounding whitespace dropped); `source` names the setting."""
    try:
        value = Path(path).expanduser().read_bytes().strip()
    except OSError as err:
        raise SecretError(f'the course secret file {path} ({source}) cannot be read: {err.strerror}') from None
    if len(value) < MIN_SECRET_BYTES:
        raise SecretError(f'the course secret in {path} ({source}) is shorter than {MIN_SECRET_BYTES} bytes')
    return CourseSecret(value, str(path))


def course_secret(settings: dict | None = None) -> CourseSecret:
    """The course secret: $HW1_COURSE_SECRET, $HW1_COURSE_SECRET_FILE, rubric [heldout] secret_file, else
    the demo secret. A configured secret that is unusable raises SecretError (never a silent demo)."""
    text = os.environ.get(SECRET_ENV)
    if text:
        if len(text.encode()) < MIN_SECRET_BYTES:
            raise SecretError(f'${SECRET_ENV} is shorter than {MIN_SECRET_BYTES} bytes')
        return CourseSecret(text.encode(), f'${SECRET_ENV}')
    path = os.environ.get(SECRET_FILE_ENV)
    if path:
        return secret_from_file(Path(path), f'${SECRET_FILE_ENV}')
    path = ((settings or {}).get('heldout') or {}).get('secret_file') or ''
    if path:
        return secret_from_file(Path(path), 'rubric [heldout] secret_file')
    return CourseSecret()


def perturb(images: np.ndarray, rng: np.random.Generator, max_shift: int = MAX_SHIFT,
            noise_std: float = NOISE_STD) -> np.ndarray:
    """Label-preserving copies of uint8 images (N, 32, 32, 3): each mirrored left-right with probability
    1/2, shifted by up to `max_shift` pixels in each direction (the edge pixels repeated into the gap),
    plus Gaussian noise of `noise_std` grey levels, rounded and clipped to 0..255."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f'perturb needs uint8 images (N, H, W, 3), not {images.dtype} {images.shape}')
    n, h, w, _ = images.shape
    flips = rng.random(n) < 0.5
    shifts = rng.integers(-max_shift, max_shift + 1, size=(n, 2))
    out = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
    if max_shift:
        padded = np.pad(out, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), mode='edge')
        rows = max_shift - shifts[:, 0, None] + np.arange(h)[None, :]       # (n, h)
        cols = max_shift - shifts[:, 1, None] + np.arange(w)[None, :]       # (n, w)
        out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    noisy = out.astype(np.float64) + rng.normal(0.0, noise_std, size=out.shape) if noise_std else out
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class HeldOut:
    """Images (N, 32, 32, 3) uint8 and their labels (N,) int64; the labels stay in the trusted process."""
    images: np.ndarray
    labels: np.ndarray


def draw(pool: HeldOut, n: int, rng: np.random.Generator, transform: bool = True,
         max_shift: int = MAX_SHIFT, noise_std: float = NOISE_STD) -> HeldOut:
    """`n` images of `pool` chosen at random without replacement (all of it, shuffled, when n >= its
    size), perturbed unless `transform` is False."""
    n = min(int(n), len(pool.labels))
    chosen = rng.choice(len(pool.labels), n, replace=False)
    images = pool.images[chosen]
    if transform:
        images = perturb(images, rng, max_shift, noise_std)
    return HeldOut(np.ascontiguousarray(images), pool.labels[chosen].astype(np.int64))


def settings_of(settings: dict | None) -> dict:
    """rubric [heldout] with its defaults: transform, max_shift, noise_std, images."""
    table = dict((settings or {}).get('heldout') or {})
    return {'transform': bool(table.get('transform', True)), 'max_shift': int(table.get('max_shift', MAX_SHIFT)),
            'noise_std': float(table.get('noise_std', NOISE_STD)), 'images': str(table.get('images') or '')}


def draw_for_grade(settings: dict | None, secret: CourseSecret, pool: HeldOut, run: str, n: int,
                   submission_key: str, seed: int = 0) -> HeldOut:
    """The held-out set of one grader-controlled run (`run`, e.g. 'cifar10.softmax') for one submission
    (`submission_key`: its digest), drawn from `pool` with the course secret and transformed as rubric
    [heldout] says. `seed` is the run's own seed (calibration varies it)."""
    options = settings_of(settings)
    rng = secret.rng('heldout', run, submission_key, seed)
    return draw(pool, n, rng, options['transform'], options['max_shift'], options['noise_std'])


def implausible(accuracy: float, run: dict, what: str, notes: list[str] | None) -> None:
    """Fail (zero) and flag for review an accuracy above the run's plausibility ceiling (rubric `ceiling`:
    what the reference reaches with the grader's settings, plus a wide margin): such a figure comes from
    labels looked up, not learnt."""
    from graders.engine.plugin import fail
    ceiling = run.get('ceiling')
    if ceiling is None or accuracy <= ceiling:
        return
    message = (f'{what} is above {ceiling:.2f}, more than this model can learn with the grader\'s settings '
               '(the public test labels looked up?)')
    if notes is not None:
        notes.append(Note.review(f'manual review: {message}'))
    fail(f'{message}: no points; flagged for manual review by the TAs')


class ImagesError(UserError, ValueError):
    """A staff folder of images cannot be used; str() says what to fix."""


def _label(text: str, where: str) -> int:
    value = text.strip()
    if value.isdigit() and 0 <= int(value) <= 9:
        return int(value)
    if value.lower() in CLASS_NAMES:
        return CLASS_NAMES.index(value.lower())
    raise ImagesError(f'{where}: the label {value!r} is neither 0-9 nor a CIFAR-10 class name')


def load_image_folder(folder: Path) -> HeldOut:
    """Staff's own labelled images: `folder/labels.csv` with the header `file,label`, one row per image;
    `file` is a path relative to the folder of a 32x32 image Pillow reads (PNG, JPEG, ...; converted
    to RGB), `label` an integer 0-9 or a CIFAR-10 class name (airplane ... truck). Staff's files, read
    in the trusted process."""
    from PIL import Image
    folder = Path(folder)
    table = folder / LABELS_CSV
    try:
        rows = list(csv.reader(table.read_text(encoding='utf-8-sig').splitlines()))
    except OSError as err:
        raise ImagesError(f'{table}: cannot be read ({err.strerror}); the folder needs {LABELS_CSV} '
                          'with the header file,label') from None
    if not rows or [c.strip().lower() for c in rows[0]] != ['file', 'label']:
        raise ImagesError(f'{table}: the first line must be the header file,label')
    images, labels = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f'{table.name} line {line}'
        if len(row) != 2:
            raise ImagesError(f'{where}: expected two fields file,label, got {len(row)}')
        path = (folder / row[0].strip()).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            raise ImagesError(f'{where}: {row[0].strip()!r} is not a file inside {folder}')
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert('RGB'))
        except OSError as err:
            raise ImagesError(f'{where}: {row[0].strip()} is not an image Pillow reads ({err})') from None
        if pixels.shape != (32, 32, 3):
            raise ImagesError(f'{where}: {row[0].strip()} is {pixels.shape[1]}x{pixels.shape[0]}, not 32x32')
        images.append(pixels)
        labels.append(_label(row[1], where))
    if not labels:
        raise ImagesError(f'{table}: no images listed')
    return HeldOut(np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))
