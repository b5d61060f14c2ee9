"""Decoding untrusted images, in the sandbox only: a submission's plots (part2_probe.image_stats) and the
figures its notebooks drew (run_notebook.py), turned into numbers and plain pixel arrays.

Bounded, so that a crafted file costs its own check and nothing else: an image declaring more than
MAX_IMAGE_PIXELS is refused from its header, before its pixels are decompressed (Pillow's
decompression-bomb guard, its warning band included). A thumbnail is at most MAX_THUMBNAIL_SIDE pixels a
side, uint8 RGB: what the trusted side turns into the report's pictures (graders/engine/pictures.py
checks it again and encodes the PNG itself; the file's own bytes never leave the sandbox).

numpy at import; Pillow inside the functions. Imported as `image_decode` by the sandboxed scripts (their
folder, graders/inside/, is on their sys.path).
"""

import warnings

import numpy as np

MAX_IMAGE_PIXELS = 40_000_000   # larger images are refused (decompression bombs)
MAX_THUMBNAIL_SIDE = 256        # pixels a side of a thumbnail sent back for the report


def pixel_stats(image) -> dict:
    """{'width', 'height', 'std' (of its grayscale pixels)} of a decoded Pillow image."""
    gray = np.asarray(image.convert('L'), dtype=np.float64)
    return {'width': int(image.width), 'height': int(image.height), 'std': float(gray.std())}


def thumbnail_pixels(image, side: int) -> np.ndarray:
    """A decoded Pillow image scaled to fit side x side (never enlarged; at most MAX_THUMBNAIL_SIDE), on
    white where it is transparent, as an (h, w, 3) uint8 array."""
    from PIL import Image
    side = max(1, min(int(side), MAX_THUMBNAIL_SIDE))
    small = image.copy()
    small.thumbnail((side, side))
    if small.mode in ('RGBA', 'LA', 'P', 'PA'):
        rgba = small.convert('RGBA')
        small = Image.alpha_composite(Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba)
    return np.ascontiguousarray(np.asarray(small.convert('RGB'), dtype=np.uint8))


def decode(source, thumbnail: int = 0) -> dict:
    """Decode an image (a path or a binary file object): {'format', 'width', 'height', 'std'}, with
    `thumbnail` > 0 also 'thumbnail' (`thumbnail_pixels`); ValueError for one that declares more than
    MAX_IMAGE_PIXELS (checked from its header, before decoding)."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit: refuse those too.
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image.verify()
            if hasattr(source, 'seek'):
                source.seek(0)
            with Image.open(source) as image:
                image.load()
                stats = dict(pixel_stats(image), format=str(image.format))
                if thumbnail > 0:
                    stats['thumbnail'] = thumbnail_pixels(image, thumbnail)
                return stats
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError('it declares more pixels than a plot could need (over %d: %s)'
                         % (MAX_IMAGE_PIXELS, err)) from None
