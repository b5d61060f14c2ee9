"""The 2019-style corpus (fixtures/corpus2019.py): what real submissions of the official 2019 starter
look like, graded by the real engine. The correct one earns every point; the report notes what the
course environment and the bridge converted (np.matrix, np.int, inputs changed in place)."""
import pytest

from fixtures import corpus2019
from graders.grade import grade

from .conftest import results_of

pytestmark = [pytest.mark.slow, pytest.mark.cifar]

NOTES = ('np.matrix returned: converted to a plain numpy array', 'np.int used: legacy numpy alias shimmed to int',
         'relu_backward` changed its input argument 1 in place: no points taken')


def test_the_correct_2019_style_submission_earns_13_of_13(tmp_path, build_cache, cifar10_dir):
    root = corpus2019.build('correct', tmp_path / '1_cs231n')
    graded = grade(root, out_dir=tmp_path / 'out', visible_only=True, notebooks=False, call_timeout=30,
                   build_cache=build_cache, find_cifar10=lambda: cifar10_dir)
    failed = {(s.check.question, s.check.name): s.check.message for s in graded.scored if not s.check.passed}
    assert failed == {}
    assert results_of(tmp_path / 'out')['score'] == 13
    for note in NOTES:
        assert sum(note in n for n in graded.notes) == 1, (note, graded.notes)
