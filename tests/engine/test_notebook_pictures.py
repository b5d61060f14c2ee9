"""The figures a notebook displayed, in the report (issue 18): the runner decodes them in the sandbox into
plain pixels (run_notebook.figure_thumbnails), the trusted side reads them back as untrusted data and
encodes the thumbnails itself (grading.notebook_pictures); a bomb or a forged entry is a note."""
import base64
import io
import json
import sys

import nbformat
import numpy as np
import pytest
from PIL import Image

from fixtures import hostile_trees as ht
from graders.engine.pictures import THUMBNAIL_SIDE
from graders.notebooks import grading
from graders.paths import INSIDE


@pytest.fixture
def runner(monkeypatch):
    """run_notebook as the sandbox runs it: its folder (image_decode) on sys.path."""
    monkeypatch.syspath_prepend(str(INSIDE))
    from graders.inside import run_notebook
    yield run_notebook
    sys.modules.pop('image_decode', None)


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    y, x = np.mgrid[0:height, 0:width]
    Image.fromarray(np.stack([x % 256, y % 256, x * 0 + 40], axis=2).astype(np.uint8)).save(buffer, 'PNG')
    return base64.b64encode(buffer.getvalue()).decode()


def notebook_with(images: list[str]):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell('# plots'))
    for image in images:
        cell = nbformat.v4.new_code_cell('plt.plot(loss)')
        cell.outputs = [nbformat.v4.new_output('display_data', data={'image/png': image, 'text/plain': 'Figure'})]
        nb.cells.append(cell)
    return nb


def write_figures(root, figures) -> None:
    (root / grading.OUTPUT_DIR).mkdir(exist_ok=True)
    (root / grading.OUTPUT_DIR / 'softmax.figures.json').write_text(json.dumps(figures))


def test_figures_are_decoded_in_the_runner_and_encoded_here(tmp_path, runner):
    bomb = base64.b64encode(ht.bomb_png()).decode()
    figures = runner.figure_thumbnails(notebook_with([png(800, 400), bomb, png(30, 20)]))
    assert [f['cell'] for f in figures] == [1, 2, 3]
    assert figures[0]['shape'] == [100, 200, 3] and 'more pixels than a plot could need' in figures[1]['error']
    assert json.loads(json.dumps(figures)) == figures          # what the runner writes is plain JSON
    write_figures(tmp_path, figures)
    shown = grading.notebook_pictures(tmp_path, 'softmax.ipynb')
    assert [p.title for p in shown] == ['softmax.ipynb, cell 1', 'softmax.ipynb, cell 2', 'softmax.ipynb, cell 3']
    assert Image.open(io.BytesIO(shown[0].png)).size == (200, 100)
    assert not shown[1].png and 'did not decode' in shown[1].note and 'more pixels' in shown[1].note
    assert Image.open(io.BytesIO(shown[2].png)).size == (30, 20)
    assert len(runner.figure_thumbnails(notebook_with([png(40, 40)] * 9))) == runner.FIGURES_MAX
    # Only the cells this run executed: the others still hold the outputs saved in the submission.
    assert [f['cell'] for f in runner.figure_thumbnails(notebook_with([png(9, 9)] * 4), cells=[2, 4])] == [2, 4]


PLOTS = '''
import base64
import matplotlib.pyplot as plt
from IPython.display import Image, display
plt.plot([2.3, 1.9, 1.6, 1.5]); plt.title('loss'); plt.show()
display(Image(data=base64.b64decode(%r)))
'''


@pytest.mark.slow
def test_a_notebook_run_in_the_sandbox_shows_its_figures(tmp_path, tiny_cifar_root, make_sandbox):
    root = tmp_path / '1_cs231n'
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(PLOTS % base64.b64encode(ht.bomb_png()).decode()))
    nb.cells.append(nbformat.v4.new_code_cell('x = 1'))
    nbformat.write(nb, root / 'softmax.ipynb')
    make_sandbox(root)   # bubblewrap, or skip
    [report] = grading.run_submission_notebooks(root, names=('softmax.ipynb',), budget_s=150,
                                                cifar_dir=tiny_cifar_root)
    assert report['status'] == 'ok', report
    plot, bomb = report['pictures']
    assert plot.title == 'softmax.ipynb, cell 0' and Image.open(io.BytesIO(plot.png)).size[0] <= THUMBNAIL_SIDE
    assert not bomb.png and 'more pixels than a plot could need' in bomb.note


@pytest.mark.parametrize('forged, why', [
    ({'cell': 1, 'shape': [2, 2, 3], 'pixels': base64.b64encode(b'\0' * 11).decode()}, 'NoneType'),
    ({'cell': 1, 'shape': [THUMBNAIL_SIDE + 1, 1, 3], 'pixels': ''}, 'NoneType'),
    ({'cell': 1, 'shape': [2, 2, 4], 'pixels': base64.b64encode(b'\0' * 16).decode()}, 'NoneType'),
    ({'cell': 1, 'shape': [1, 1, 3], 'pixels': 'AA AA!'}, 'NoneType'),
    ({'cell': 1, 'error': '\x1b[2J<script>'}, 'did not decode'),
    ('not a dict', 'not a figure'),
])
def test_a_forged_figure_is_a_note(tmp_path, forged, why):
    write_figures(tmp_path, [forged])
    [picture] = grading.notebook_pictures(tmp_path, 'softmax.ipynb')
    assert not picture.png and why in picture.note, picture.note
    assert '<script>' not in picture.html() and '\x1b' not in picture.html()


def test_a_forged_cell_index_is_not_shown(tmp_path):
    write_figures(tmp_path, [{'cell': True, 'shape': [1, 1, 3], 'pixels': 'AAAA'}])
    [picture] = grading.notebook_pictures(tmp_path, 'softmax.ipynb')
    assert picture.png and picture.title == 'softmax.ipynb: a figure'


def test_no_figures_file_is_no_pictures_and_a_broken_one_a_note(tmp_path):
    assert grading.notebook_pictures(tmp_path, 'softmax.ipynb') == []
    (tmp_path / grading.OUTPUT_DIR).mkdir()
    (tmp_path / grading.OUTPUT_DIR / 'softmax.figures.json').write_text('{"not": "a list"')
    [picture] = grading.notebook_pictures(tmp_path, 'softmax.ipynb')
    assert 'unreadable' in picture.note
    (tmp_path / grading.OUTPUT_DIR / 'softmax.figures.json').unlink()
    (tmp_path / grading.OUTPUT_DIR / 'softmax.figures.json').symlink_to('/etc/passwd')
    [picture] = grading.notebook_pictures(tmp_path, 'softmax.ipynb')
    assert 'unreadable' in picture.note and not picture.png
