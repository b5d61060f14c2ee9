"""Pictures in the report (issue 18): thumbnails encoded here from pixel arrays the sandbox decoded,
charts of the grader's runs drawn here; whatever a forged reply sends is a note, never a picture or a
crash; the report embeds a bounded number of bytes and renders in headless Chromium."""
import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from graders.engine import pictures
from graders.engine.pictures import Picture
from graders.engine.plugin import CheckResult
from graders.engine.report import REPORT_PICTURE_BYTES, REPORT_PICTURES, Graded, html_report
from graders.engine.results import score_checks
from graders.engine.rubric import load_rubric
from tests.helpers import render

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def gradient(height=120, width=200) -> np.ndarray:
    """A colourful (h, w, 3) uint8 image: red across, green down."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=2).astype(np.uint8)


def test_a_thumbnail_is_a_png_written_here_of_exactly_the_pixels_sent():
    pixels = gradient()
    picture = pictures.thumbnail('softmax_lossvstrain.png', pixels)
    assert not picture.note and picture.png.startswith(b'\x89PNG\r\n\x1a\n')
    decoded = np.asarray(Image.open(io.BytesIO(picture.png)))
    assert decoded.shape == pixels.shape and np.array_equal(decoded, pixels)


@pytest.mark.parametrize('value, why', [
    (None, 'NoneType, not a pixel array'),
    ([[1, 2, 3]], 'list, not a pixel array'),
    (np.zeros((8, 8, 3), np.float64), 'float64 array'),
    (np.zeros((8, 8), np.uint8), 'shape (8, 8)'),
    (np.zeros((8, 8, 4), np.uint8), 'shape (8, 8, 4)'),
    (np.zeros((0, 8, 3), np.uint8), '8x0 pixels'),
    (np.zeros((257, 10, 3), np.uint8), '10x257 pixels, more than the 256x256'),
    (np.zeros((8, 8, 3), np.uint8).view(np.recarray), 'recarray, not a pixel array'),
])
def test_a_forged_pixel_array_is_a_note_never_a_picture(value, why):
    picture = pictures.thumbnail('convnet_gridfilt.png', value)
    assert not picture.png and not picture.svg and why in picture.note, picture.note
    assert 'convnet_gridfilt.png: no picture: the sandbox sent' in picture.html()


def test_curves_are_drawn_from_numbers_only():
    chart = pictures.curves("softmax: loss in the grader's run", {'loss': list(np.linspace(2.3, 1.7, 1500))})
    assert chart.svg.startswith('<svg') and chart.svg.count('<polyline') == 1 and not chart.note
    assert len(chart.svg.split('points="')[1].split('"')[0].split()) <= pictures.MAX_POINTS
    two = pictures.curves('accuracy', {'training': [0.2, 0.3, 0.4], 'validation': [0.1, 0.25, 0.3]}, 'epoch')
    assert two.svg.count('<polyline') == 2 and '>epoch<' in two.svg
    diverged = pictures.curves('loss', {'loss': [2.3, float('nan')]})
    assert not diverged.svg and 'entry 1 is nan' in diverged.note
    partial = pictures.curves('accuracy', {'training': [0.2, 0.3], 'validation': '<script>alert(1)</script>'})
    assert partial.svg and 'validation: it is a str' in partial.note
    for hostile in ({'x': [[1.0]]}, {'x': np.zeros((2, 2))}, {'x': ['1']}, {'x': [True]}, {'x': []}, {'x': object()}):
        assert not pictures.curves('t', hostile).svg


def test_titles_and_notes_are_escaped():
    page = Picture('<img src=x onerror=alert(1)>\x1b[2J', note='<script>x</script>').html()
    assert '<script>' not in page and '<img src=x' not in page and '\x1b' not in page
    assert '&lt;script&gt;' in page


def graded_with(pictures_of_checks: list[list[Picture]], notebooks=()) -> Graded:
    rubric = load_rubric()
    checks = [CheckResult(f'test_plots_{i}', f'plots {i}', 'Q8.5', 1.0, False, passed=True, pictures=list(p))
              for i, p in enumerate(pictures_of_checks)]
    return Graded('2_pytorch.zip', 2, rubric, score_checks(rubric, checks), 1.0, notebooks=list(notebooks))


def test_the_report_embeds_a_bounded_number_of_bytes():
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)   # PNG cannot shrink it
    heavy = [pictures.thumbnail(f'plot {i}.png', noise) for i in range(60)]
    page = html_report(graded_with([heavy[:30], heavy[30:]]))
    shown = IMG.findall(page)
    assert 0 < len(shown) <= REPORT_PICTURES
    assert len(page.encode()) < REPORT_PICTURE_BYTES + 200_000
    assert re.search(r'\d+ more picture\(s\) left out', page)


@pytest.mark.slow
def test_a_report_with_pictures_renders_in_chromium(tmp_path):
    chart = pictures.curves("two_layer_net: loss in the grader's CIFAR-10 run", {'loss': np.linspace(2.3, 1.5, 500)})
    graded = graded_with([[pictures.thumbnail('softmax_lossvstrain.png', gradient()), chart,
                           pictures.thumbnail('softmax_gridfilt.png', None)]],
                         notebooks=[{'name': 'softmax.ipynb', 'status': 'ok',
                                     'pictures': [pictures.thumbnail('softmax.ipynb, cell 12', gradient(60, 90))]}])
    page = tmp_path / 'report.html'
    page.write_text(html_report(graded), encoding='utf-8')
    assert [Image.open(io.BytesIO(base64.b64decode(b))).size for b in IMG.findall(page.read_text())] == \
        [(200, 120), (90, 60)]
    image, console = render(page, tmp_path)
    assert console == []
    assert np.count_nonzero(image < 200) > 2000, 'the screenshot is blank'
    colour = np.asarray(Image.open(tmp_path / 'shot.png').convert('RGB')).astype(int)
    saturated = np.count_nonzero(colour.max(axis=2) - colour.min(axis=2) > 80)
    assert saturated > 15_000, 'the thumbnails are not on the page'   # 200x120 + 90x60 colourful pixels
