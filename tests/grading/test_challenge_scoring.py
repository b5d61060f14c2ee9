"""predictions.csv as the trusted grader reads it, and the default challenge labels in the cache."""
import numpy as np
import pytest

from graders.data import challenge, heldout
from graders.data.challenge import ChallengeLabels, PredictionsError, accuracies, read_predictions


def csv_text(rows, header='image_id,label'):
    return '\n'.join([header, *rows]) + '\n'


def test_rows_in_any_order_with_a_bom_and_spaces_are_read_by_id():
    text = '\ufeff' + csv_text(['2, 7', '0,1 ', '1,9', '', ''])
    assert read_predictions(text, 3).tolist() == [1, 9, 7]


@pytest.mark.parametrize('rows, says', [
    (['0,1', '1,2.0', '2,3'], "1 lines that are not two integers id,label (e.g. line 3: '1,2.0')"),
    (['0,1', '1,2,3', '2,3'], 'lines that are not two integers'),
    (['0,1', '1,-2', '2,3'], 'lines that are not two integers'),
    (['0,1', '1,2', '3,3'], '1 ids outside 0-2 (e.g. 3)'),
    (['0,1', '1,2'], '1 of the 3 image ids missing (e.g. 2)'),
])
def test_every_fault_is_named(rows, says):
    with pytest.raises(PredictionsError) as caught:
        read_predictions(csv_text(rows), 3)
    assert says in str(caught.value)


def test_an_empty_file_has_no_header():
    with pytest.raises(PredictionsError, match="got 'an empty file'"):
        read_predictions('', 3)


def test_public_and_full_accuracy():
    labels = ChallengeLabels(np.array([0, 1, 2, 3]), np.array([1, 3]), 'x')
    assert accuracies(np.array([0, 1, 2, 0]), labels) == (0.5, 0.75)


@pytest.mark.cifar
def test_the_default_labels_are_built_once_in_the_cache(cifar10_dir, tmp_path, monkeypatch):
    monkeypatch.setenv('HW1_CACHE_DIR', str(tmp_path / 'cache' / 'cifar10'))
    monkeypatch.delenv('HW1_COURSE_SECRET', raising=False)
    monkeypatch.delenv('HW1_COURSE_SECRET_FILE', raising=False)
    path = challenge.default_labels(cifar10_dir)
    folder = challenge.cache_name(heldout.CourseSecret())
    assert path == tmp_path / 'cache' / 'challenge' / folder / 'grader' / challenge.LABELS_FILE
    labels = challenge.load_labels(path)
    assert labels.n_images == 10000 and len(labels.public_ids) == 1000
    stamp = path.stat().st_mtime_ns
    assert challenge.default_labels(cifar10_dir) == path and path.stat().st_mtime_ns == stamp
