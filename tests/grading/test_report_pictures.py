"""Pictures in a graded submission's report (issue 18): the bundled Part 2 example's plots and filter grids
as thumbnails the trusted side encoded from pixels the sandbox decoded; a decompression bomb among them is
a note (and the verdict it always was), never a picture or a crash."""
import base64
import io
import re
import zipfile

import pytest
from PIL import Image

from fixtures import hostile_trees as ht
from graders.engine.grade import grade
from graders.engine.pictures import THUMBNAIL_SIDE
from tests.helpers import EXAMPLES, render

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')

pytestmark = pytest.mark.usefixtures('bubblewrap')


@pytest.mark.slow
def test_the_plots_of_a_submission_are_thumbnails_and_a_bomb_is_a_note(tmp_path):
    root = tmp_path / '2_pytorch'
    with zipfile.ZipFile(EXAMPLES / '2_pytorch.zip') as archive:
        archive.extractall(root)
    (root / 'convnet_gridfilt.png').write_bytes(ht.bomb_png())
    out = tmp_path / 'out'
    graded = grade(root, part=2, out_dir=out, select='plots', notebooks=False, preflight=False)
    verdicts = {s.check.question: s.check for s in graded.scored}
    assert set(verdicts) == {'Q8.5', 'Q8.6', 'Q8.7'}
    assert verdicts['Q8.5'].passed and verdicts['Q8.6'].passed and not verdicts['Q8.7'].passed
    assert 'convnet_gridfilt.png is not a readable PNG or JPEG image' in verdicts['Q8.7'].message

    page = (out / 'report.html').read_text(encoding='utf-8')
    shown = {title: Image.open(io.BytesIO(base64.b64decode(data))) for data, title in IMG.findall(page)}
    expected = {f'{model}_{plot}.png' for model in ('softmax', 'twolayernn', 'convnet')
                for plot in ('lossvstrain', 'valaccuracy', 'gridfilt')} - {'convnet_gridfilt.png'}
    assert set(shown) == expected
    assert all(max(image.size) <= THUMBNAIL_SIDE and image.mode == 'RGB' for image in shown.values())
    assert 'convnet_gridfilt.png: no picture: convnet_gridfilt.png is not a readable PNG' in page
    assert 'more pixels than a plot could need' in page
    assert len(page.encode()) < 1_500_000

    image, console = render(out / 'report.html', tmp_path)
    assert console == [] and (image < 200).sum() > 2000


@pytest.mark.slow
@pytest.mark.cifar
def test_the_loss_curve_of_the_graders_own_run_is_in_the_report(tmp_path, cifar10_dir, build_cache):
    out = tmp_path / 'out'
    graded = grade(EXAMPLES / '1_cs231n.zip', out_dir=out, select='q8_1 and cifar10_accuracy', notebooks=False,
                   preflight=False, find_cifar10=lambda: cifar10_dir, build_cache=build_cache)
    [check] = [s.check for s in graded.scored]
    assert check.passed and [p.title for p in check.pictures] == ["softmax: loss in the grader's CIFAR-10 run"]
    page = (out / 'report.html').read_text(encoding='utf-8')
    chart = page.split('<svg', 1)[1].split('</svg>', 1)[0]
    assert chart.count('<polyline') == 1 and 'loss (last ' in chart and '>iteration<' in chart
