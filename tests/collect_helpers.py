"""Helpers of the collect_submission.sh tests: the programs they need, rendered PDF pages, zip listings."""
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import notebook_to_pdf  # reference/1_cs231n is on sys.path

# What students need besides Python (CI installs them in .ci/run); pdftoppm is the tests' own.
PROGRAMS = ('zip', 'pdftoppm', 'pdftotext', 'pdfimages')


def require_programs():
    """Skip the test where zip, poppler-utils or a browser is missing, except under CI, where they must be there."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if notebook_to_pdf.find_browser() is None:
        missing.append('chromium')
    if missing:
        message = 'missing programs: ' + ', '.join(missing)
        if os.environ.get('CI'):
            pytest.fail('CI must install them (.ci/run): ' + message)
        pytest.skip(message)


def rendered_pages(pdf: Path, scratch: Path) -> list[np.ndarray]:
    """Every page of `pdf` as a grayscale image (H, W) of uint8, rendered by pdftoppm at 30 dpi."""
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(['pdftoppm', '-r', '30', '-gray', str(pdf), str(scratch / 'page')], check=True,
                   capture_output=True)
    return [np.asarray(Image.open(page)) for page in sorted(scratch.glob('page-*.pgm'))]


def assert_every_page_has_ink(pdf: Path, scratch: Path, min_pages: int = 1) -> int:
    """Fail unless pdf has at least min_pages pages and each shows something (not only white); return the count."""
    pages = rendered_pages(pdf, scratch)
    assert len(pages) >= min_pages, f'{pdf.name}: {len(pages)} pages'
    for number, page in enumerate(pages, 1):
        # A blank page is all white; one short line of text already darkens over a hundred pixels.
        assert np.count_nonzero(page < 200) >= 50, f'{pdf.name}: page {number} of {len(pages)} is blank'
    return len(pages)


def pdf_text(pdf: Path) -> str:
    return subprocess.run(['pdftotext', '-layout', str(pdf), '-'], check=True, capture_output=True,
                          text=True).stdout


def pdf_image_count(pdf: Path) -> int:
    """How many raster images the PDF embeds (the notebooks' plots)."""
    listing = subprocess.run(['pdfimages', '-list', str(pdf)], check=True, capture_output=True, text=True).stdout
    return max(0, len(listing.strip().splitlines()) - 2)  # two header lines


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, f'{path} has a corrupt entry'
        return z.namelist()


def listed_in(stderr: str, kind: str) -> set[str]:
    """The file names after `  kind: ` in the warning lines of collect_submission.sh."""
    marker = f'  {kind}: '
    return {line.split(marker, 1)[1].split(' ', 1)[0] for line in stderr.splitlines() if line.startswith(marker)}


def files_under(folder: Path) -> set[str]:
    """Relative paths of the regular files under folder (symlinks not followed)."""
    found = set()
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found.add(path.relative_to(folder).as_posix())
    return found


def plant(folder: Path, *paths: str) -> None:
    """Create each relative path under folder as a small file (parents included)."""
    for relative in paths:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'junk ' + relative.encode())
