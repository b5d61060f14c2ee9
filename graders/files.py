"""Writing the grader's own files: whole or not at all, and zips that are the same bytes every time.

These write what the *grader* makes (results.json, a batch's status files and reports, the starter's
release zip, the example submissions, the Gradescope bundle). Files a submission or the sandbox wrote
are read and written only through `graders.engine.untrusted`, never here: nothing below guards
against links or special files at the target's name beyond what `os.replace` itself does.

- `atomic_path` / `write_atomic`: a temporary file in the target's folder, renamed over the target
  when it is complete (`os.replace`). A reader (a TA's browser, Gradescope, a resumed batch, another
  grader on the same out folder) sees the old file or the new one, never half of one; a grader killed
  mid-write leaves the old file and a stray `.<name>-*` temporary, never a truncated results.json.
- `deterministic_zip`: entries in the order the caller adds them (callers add in sorted order), each
  dated ZIP_DATE, marked as made on Unix with mode 644 or 755, deflated at level 9 (or stored, for
  data that is compressed already); so the same files give the same bytes, build after build and
  machine after machine, and a zip's checksum says whether its content changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The earliest date a zip entry can have (DOS time starts in 1980): no build date leaks into a zip.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755


@contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = FILE_MODE) -> Iterator[Path]:
    """A temporary name in `path`'s folder (made if missing) to write to; when the block ends without
    an error the file gets `mode` and replaces `path` in one rename, otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}-', dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, *, mode: int = FILE_MODE) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically (`atomic_path`); returns `path`."""
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(data.encode('utf-8') if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def deterministic_zip(path: str | os.PathLike) -> Iterator[ZipEntries]:
    """A zip written atomically at `path` whose bytes depend only on what is added, in that order:

        with deterministic_zip(out / 'x.zip') as archive:
            archive.add('a/run.sh', data, executable=True)
            archive.add_file('data/big.tar.gz', path, compress=False)
    """
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, 'w') as archive:
        yield ZipEntries(archive)


class ZipEntries:
    """Adds entries to an open zip, each one as `deterministic_zip` says."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive

    @staticmethod
    def _info(name: str, executable: bool, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
        info.create_system = 3                    # Unix, so that the mode below is read as one
        info.external_attr = (0o100000 | (EXECUTABLE_MODE if executable else FILE_MODE)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        # Level 9 for both writestr and open(info, 'w'), which take the level from the entry
        # (the attribute is `compress_level` from Python 3.13, `_compresslevel` before).
        setattr(info, 'compress_level' if hasattr(info, 'compress_level') else '_compresslevel',
                9 if compress else None)
        return info

    def add(self, name: str, data: bytes, *, executable: bool = False, compress: bool = True) -> None:
        """One file entry `name` holding `data`."""
        self.archive.writestr(self._info(name, executable, compress), data)

    def add_file(self, name: str, source: str | os.PathLike, *, executable: bool = False,
                 compress: bool = True) -> None:
        """One file entry `name` holding the bytes of the file `source`, streamed (large data sets)."""
        info = self._info(name, executable, compress)
        info.file_size = os.path.getsize(source)   # zipfile decides on zip64 from it
        with open(source, 'rb') as src, self.archive.open(info, 'w') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
