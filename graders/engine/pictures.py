"""Pictures in the report: thumbnails of what a submission drew, charts of what the grader's runs measured.

Threat model. A submission's image files (Part 2's plots and filter grids) and its notebooks' figures
are untrusted bytes: a PNG can declare 60,000 x 60,000 pixels in a few hundred bytes (a decompression
bomb), a JPEG can carry whatever exploits an image library's parser, and an image put into the report
as it was submitted (a data: URI of the student's own bytes, an SVG with script) would run in the TA's
browser. So no submitted byte reaches the report: the sandbox decodes the image (graders/inside/
part2_probe.py `image_stats(..., thumbnail=N)`, with Pillow's bomb guard) and sends back a plain pixel
array, at most THUMBNAIL_SIDE pixels a side, uint8, three channels. That array is forgeable too (any
reply of the worker is), so `thumbnail` here checks its type, dtype and shape before anything else
and encodes the PNG itself (`encode_png`: zlib, no image library); a value that is not such an array
becomes a note, never a picture and never an exception.

The curves of the grader's own CIFAR-10 runs are numbers the submitted `train` returned: they are
checked to be a flat list of finite numbers (at most MAX_POINTS drawn) and drawn here as inline SVG
whose only text is the grader's own titles, escaped.

Nothing here decides a point: a picture that cannot be made is a note beside its check. The report
bounds what it embeds (graders/engine/report.py: REPORT_PICTURES, REPORT_PICTURE_BYTES), so report.html
stays one small file whatever a submission holds.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graders.engine.untrusted import clean_text

THUMBNAIL_SIDE = 256          # the sandbox scales an image to fit this square before sending its pixels
MAX_POINTS = 400              # points of a curve drawn (a longer series is sampled evenly)
MAX_SERIES_LENGTH = 1_000_000  # a "loss history" longer than this is not drawn
TITLE_CHARS, NOTE_CHARS = 200, 600
CHART_WIDTH, CHART_HEIGHT = 420, 180
COLOURS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd')


@dataclass(frozen=True)
class Picture:
    """One picture of the report: a PNG encoded here from checked pixels, or an SVG chart drawn here
    from checked numbers; `note` says why there is none (then both are empty)."""
    title: str
    png: bytes = b''
    svg: str = ''
    note: str = ''

    @property
    def size(self) -> int:
        """Bytes it adds to the report."""
        return len(self.png) * 4 // 3 + len(self.svg)

    def html(self) -> str:
        """A <figure> for the report: the picture with its caption, or the note (texts cleaned: a note
        may quote what the sandbox said)."""
        title = html.escape(_title(self.title))
        note = html.escape(clean_text(self.note, NOTE_CHARS))
        if self.png:
            body = (f'<img src="data:image/png;base64,{base64.b64encode(self.png).decode("ascii")}" '
                    f'alt="{title}">')
        elif self.svg:
            body = self.svg
        else:
            return f'<figure class="nopic"><figcaption>{title}: {note}</figcaption></figure>'
        return f'<figure>{body}<figcaption>{title}{": " + note if note else ""}</figcaption></figure>'


def _title(text: str) -> str:
    return clean_text(text, TITLE_CHARS)


# -- pixels from the sandbox -----------------------------------------------------------------------------

def check_pixels(value) -> np.ndarray:
    """`value` as an (h, w, 3) uint8 array with 1 <= h, w <= THUMBNAIL_SIDE; ValueError saying what it is
    otherwise (a forged reply may send anything)."""
    if type(value) is not np.ndarray:
        raise ValueError(f'the sandbox sent {type(value).__name__}, not a pixel array')
    if value.dtype != np.uint8 or value.ndim != 3 or value.shape[2] != 3:
        raise ValueError(f'the sandbox sent a {value.dtype} array of shape {value.shape}, not (h, w, 3) uint8')
    if not (1 <= value.shape[0] <= THUMBNAIL_SIDE and 1 <= value.shape[1] <= THUMBNAIL_SIDE):
        raise ValueError(f'the sandbox sent {value.shape[1]}x{value.shape[0]} pixels, more than the '
                         f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} asked for')
    return np.ascontiguousarray(value)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def encode_png(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of checked pixels (`check_pixels`), written here: no image library involved."""
    height, width, _ = pixels.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * 3)], axis=1)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header) + _chunk(b'IDAT', zlib.compress(rows.tobytes(), 6))
            + _chunk(b'IEND', b''))


def thumbnail(title: str, value) -> Picture:
    """The picture of pixels the sandbox decoded, or a note saying why there is none. Never raises."""
    try:
        return Picture(_title(title), png=encode_png(check_pixels(value)))
    except ValueError as err:
        return Picture(_title(title), note=f'no picture: {err}')


# -- curves of the grader's runs -------------------------------------------------------------------------

def check_series(value) -> np.ndarray:
    """A flat sequence of finite numbers (list, tuple or 1-D array) as float64; ValueError otherwise."""
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple)) and len(value) <= MAX_SERIES_LENGTH:
        if not all((isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
                   or (type(v) is np.ndarray and v.ndim == 0 and v.dtype.kind in 'iuf') for v in value):
            raise ValueError('it is not a list of numbers')
        array = np.array([float(v) for v in value]) if value else np.zeros(0)
    else:
        raise ValueError(f'it is a {type(value).__name__}, not a list of numbers')
    if array.ndim != 1 or array.dtype.kind not in 'iuf' or len(array) > MAX_SERIES_LENGTH:
        raise ValueError(f'it is a {array.dtype} array of shape {array.shape}, not a list of numbers')
    array = array.astype(np.float64)
    if not len(array):
        raise ValueError('it is empty')
    if not np.all(np.isfinite(array)):
        first = int(np.argmin(np.isfinite(array)))
        raise ValueError(f'entry {first} is {array[first]} (training diverged?)')
    return array


def _sampled(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of at most MAX_POINTS points, evenly spaced over the series, its last point included."""
    if len(values) <= MAX_POINTS:
        x = np.arange(len(values))
    else:
        x = np.unique(np.linspace(0, len(values) - 1, MAX_POINTS).round().astype(int))
    return x, values[x]


def _label(value: float) -> str:
    return f'{value:.3g}'


def curves(title: str, series: Mapping[str, object], x_label: str = 'iteration') -> Picture:
    """A line chart (inline SVG) of each named series (`check_series`), or a note saying which could
    not be drawn. Never raises."""
    title = _title(title)
    checked, problems = {}, []
    for name, value in series.items():
        try:
            checked[name] = check_series(value)
        except ValueError as err:
            problems.append(f'{name}: {err}')
    if not checked:
        return Picture(title, note='not drawn: ' + '; '.join(problems))
    low = min(float(v.min()) for v in checked.values())
    high = max(float(v.max()) for v in checked.values())
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    longest = max(len(v) for v in checked.values())
    left, right, top, bottom = 52, 10, 22, 34
    width, height = CHART_WIDTH - left - right, CHART_HEIGHT - top - bottom

    def px(x: float, y: float) -> str:
        return (f'{left + width * x / max(1, longest - 1):.1f},'
                f'{top + height * (1 - (y - low) / (high - low)):.1f}')

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
             f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" font-size="11" font-family="sans-serif">',
             f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="#fff" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_label(high)}</text>',
             f'<text x="{left - 4}" y="{top + height}" text-anchor="end">{_label(low)}</text>',
             f'<text x="{left}" y="{CHART_HEIGHT - 6}">0</text>',
             f'<text x="{left + width}" y="{CHART_HEIGHT - 6}" text-anchor="end">{longest - 1}</text>',
             f'<text x="{left + width / 2}" y="{CHART_HEIGHT - 6}" text-anchor="middle">'
             f'{html.escape(x_label)}</text>']
    for i, (name, values) in enumerate(checked.items()):
        colour = COLOURS[i % len(COLOURS)]
        # A series shorter than the longest (accuracy per epoch beside loss per iteration) spans the width.
        scale = (longest - 1) / max(1, len(values) - 1)
        x, y = _sampled(values)
        points = ' '.join(px(a * scale, b) for a, b in zip(x, y))
        if len(values) == 1:
            cx, cy = px(0, y[0]).split(',')
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{left + 6 + 130 * i}" y="14" fill="{colour}">{html.escape(_title(name))} '
                     f'(last {_label(values[-1])})</text>')
    parts.append('</svg>')
    note = '; '.join(problems)
    return Picture(title, svg=''.join(parts), note=f'not drawn: {note}' if note else '')


def bounded(pictures: Sequence[Picture], max_count: int, max_bytes: int) -> tuple[list[Picture], int]:
    """The pictures that fit `max_count` and `max_bytes` in order (notes always fit), and how many did not."""
    kept, count, used, left_out = [], 0, 0, 0
    for picture in pictures:
        if picture.png or picture.svg:
            if count >= max_count or used + picture.size > max_bytes:
                left_out += 1
                continue
            count, used = count + 1, used + picture.size
        kept.append(picture)
    return kept, left_out


__all__ = ['Picture', 'THUMBNAIL_SIDE', 'check_pixels', 'encode_png', 'thumbnail', 'check_series', 'curves',
           'bounded']
