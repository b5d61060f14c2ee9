"""CIFAR-10 (python version): find the archive, extract it once into a cache, validate, place and load it.

The one entry point most code needs is `ensure_cifar10()`, which returns the path of a validated
`cifar-10-batches-py` folder. Every problem a user can cause (no data, a truncated or corrupt archive,
a wrong layout, a failed download) raises `DataError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import http.client
import json
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np

from graders.engine.outcome import UserError
from graders.files import atomic_path

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
REQUIRED_FILES = (*TRAIN_BATCHES, TEST_BATCH, META)
ARCHIVE_ENV = "HW1_CIFAR10_ARCHIVE"
CACHE_ENV = "HW1_CACHE_DIR"
STAMP = "stamp.json"

Log = Callable[[str], None]


class DataError(UserError):
    """A problem with the CIFAR-10 data that the user can fix; `str()` is one clear line."""


def _quiet(message: str) -> None:
    """The default `log`: say nothing."""


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds the extracted data: `cache_dir`, else $HW1_CACHE_DIR,
    else `${XDG_CACHE_HOME:-~/.cache}/hw1grade/cifar10`."""
    chosen = cache_dir or os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hw1grade" / "cifar10"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def download(url: str, dest: Path, md5: str = OFFICIAL_MD5, log: Log = _quiet) -> Path:
    """Download `url` to `dest` through a temporary file (`graders.files.atomic_path`); keep it only if its
    md5 is `md5`."""
    log(f"downloading {url} (about 163 MB)")
    digest = hashlib.md5()
    with atomic_path(dest) as part:   # removed unless the whole download checks out
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise DataError(
                f"no CIFAR-10 data: could not download {url} ({reason}); "
                f"pass a local cifar-10-python.tar.gz with --from PATH or set {ARCHIVE_ENV}"
            ) from None
        if digest.hexdigest() != md5:
            raise DataError(
                f"the download from {url} has md5 {digest.hexdigest()}, expected {md5} "
                "(incomplete or altered download); try again or pass a local copy with --from PATH"
            )
    return dest


def _check_member(member: tarfile.TarInfo) -> None:
    """Refuse tar members that could write outside the extraction folder or create special files."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise DataError(f"unsafe path {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"{member.name!r} is a link or special file")


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract the .tar.gz `archive` into the existing folder `dest` and return `dest/cifar-10-batches-py`.

    Members with absolute paths, `..`, links or device files are refused. Reading is one streaming
    pass, so a damaged archive fails part way: extract into a scratch folder and move the result."""
    data_filter = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with gzip.open(archive, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            for member in tar:
                _check_member(member)
                tar.extract(member, dest, **data_filter)
            while gz.read(1 << 20):  # to the very end, so that gzip checks the CRC and length
                pass
    except DataError as e:
        raise DataError(f"{archive}: refusing to extract it: {e}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{archive} is not a readable .tar.gz archive (truncated or corrupt?): {e}") from None
    return dest / FOLDER


# The only globals a CIFAR-10 batch refers to: numpy arrays of bytes. A pickle may call any global it
# names, so anything else is refused (data from a student's folder is read by `hw1grade check`).
ALLOWED_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype")}


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain data and numpy arrays, and can call nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: not CIFAR-10 data")
        return super().find_class(module, name)


def _unpickle(path: Path) -> object:
    """Load one of the course-provided pickles (written by Python 2, hence latin1), allowing only the
    numpy globals CIFAR-10 batches use."""
    try:
        with open(path, "rb") as f:
            return _DataUnpickler(f, encoding="latin1").load()
    except Exception as e:  # a damaged pickle can raise almost anything
        raise DataError(f"{path.name} is not a readable pickle ({type(e).__name__})") from None


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and check one batch file: images (n, 32, 32, 3) uint8 and labels (n,) int64 in 0..9."""
    batch = _unpickle(path)
    if not (isinstance(batch, dict) and "data" in batch and "labels" in batch):
        raise DataError(f"{path.name} is not a dict with 'data' and 'labels'")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path.name}: 'data' must be uint8 of shape (n, 3072), found {found}")
    n = len(data)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path.name}: 'labels' must be {n} integers, found shape {labels.shape} of {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path.name}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    images = data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def load_label_names(root: Path) -> list[str]:
    """The 10 class names from `batches.meta`."""
    meta = _unpickle(Path(root) / META)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not (isinstance(names, list) and len(names) == 10):
        raise DataError(f"{META} must hold a list of 10 'label_names'")
    return names


def validate_layout(root: Path) -> None:
    """Raise DataError unless `root` is a cifar-10-batches-py folder whose files all load and check out."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"no {FOLDER}/ folder at the top")
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise DataError(f"{FOLDER}/ lacks {', '.join(missing)}")
    load_label_names(root)
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        load_batch(root / name)


def load_batches(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load a cifar-10-batches-py folder as Xtr (N, 32, 32, 3) uint8, ytr (N,), Xte, yte (50000/10000 for the
    real data)."""
    train = [load_batch(Path(root) / name) for name in TRAIN_BATCHES]
    Xte, yte = load_batch(Path(root) / TEST_BATCH)
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), Xte, yte


def read_stamp(cache: Path) -> dict | None:
    """The stamp of the cache's extracted folder ({'sha256', 'archive'}), or None if there is no usable one."""
    try:
        stamp = json.loads((cache / STAMP).read_text())
    except (OSError, ValueError):
        return None
    complete = all((cache / FOLDER / name).is_file() for name in REQUIRED_FILES)
    return stamp if complete and isinstance(stamp, dict) and "sha256" in stamp else None


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cache, so concurrent fetches extract one after the other."""
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def extract_into_cache(archive: Path, cache: Path, log: Log = _quiet) -> Path:
    """Extract and validate `archive` into `cache/cifar-10-batches-py`, unless the stamp shows it is already there.

    The archive goes to a scratch folder first and replaces the cached folder only once it validates."""
    if not archive.is_file():
        raise DataError(f"no CIFAR-10 archive at {archive} (no such file)")
    sha256 = file_digest(archive)
    stamp = read_stamp(cache)
    if stamp and stamp["sha256"] == sha256:
        log(f"already extracted from this archive ({archive})")
        return cache / FOLDER
    log(f"extracting {archive} into {cache}")
    with tempfile.TemporaryDirectory(dir=cache, prefix=".extract-") as scratch:
        folder = safe_extract(archive, Path(scratch))
        try:
            validate_layout(folder)
        except DataError as e:
            raise DataError(f"{archive} does not have the CIFAR-10 layout: {e}") from None
        (cache / STAMP).unlink(missing_ok=True)
        target = cache / FOLDER
        if target.exists() or target.is_symlink():
            target.rename(Path(scratch) / "old")  # deleted with the scratch folder
        folder.rename(target)
    (cache / ".stamp.tmp").write_text(json.dumps({"sha256": sha256, "archive": str(archive)}))
    (cache / ".stamp.tmp").replace(cache / STAMP)
    return target


def ensure_cifar10(archive: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                   log: Log = _quiet) -> Path:
    """Return the path of a validated cifar-10-batches-py folder in the cache, getting it if needed.

    The source is, in order: `archive` (a local .tar.gz, accepted without the official md5), the
    archive named by $HW1_CIFAR10_ARCHIVE, what the cache already holds, and last the official
    download (checked against the official md5 and kept in the cache)."""
    cache = resolve_cache_dir(cache_dir)
    archive = archive or os.environ.get(ARCHIVE_ENV) or None
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {cache} ({e.strerror})") from None
    with _locked(cache):
        for leftover in cache.glob(".extract-*"):  # from an interrupted run
            shutil.rmtree(leftover, ignore_errors=True)
        if archive is None:
            if read_stamp(cache):
                log(f"using the data already in {cache}")
                return cache / FOLDER
            archive = cache / ARCHIVE_NAME
            if not archive.is_file():
                download(OFFICIAL_URL, archive, OFFICIAL_MD5, log)
        return extract_into_cache(Path(archive).expanduser(), cache, log)


def place(folder: Path, dest_dir: Path, copy: bool = False) -> Path:
    """Make `dest_dir/cifar-10-batches-py` a symlink to `folder` (or, with `copy`, a copy of it) and return it.

    A symlink already there, stale or not, is replaced; a real folder or file is never clobbered."""
    target = Path(dest_dir) / FOLDER
    if target.exists() and not target.is_symlink():
        raise DataError(f"{target} already exists and is not a symlink; remove it to have it replaced")
    Path(dest_dir).mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if copy:
        with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".copy-") as scratch:
            shutil.copytree(folder, Path(scratch) / FOLDER)
            (Path(scratch) / FOLDER).rename(target)
    else:
        target.symlink_to(Path(folder).resolve(), target_is_directory=True)
    return target
