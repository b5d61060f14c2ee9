"""`hw1grade check`, the students' self-check: visible checks on their working folder, what to fix, data."""
import os
import pickle
import re
from pathlib import Path

import pytest

from fixtures import tiny_cifar
from graders import cli
from graders.data import cifar10
from graders.engine.grade import student_cifar10

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / 'reference' / '1_cs231n'
STARTER = ROOT / 'student' / '1_cs231n'
QUESTIONS = {'Q8.1': 3, 'Q8.2': 3, 'Q8.3': 5, 'Q8.4': 2}


def check(capsys, folder) -> tuple[int, str, str]:
    code = cli.main(['check', str(folder)])
    out, err = capsys.readouterr()
    return code, out, err


def question_points(output: str) -> dict[str, tuple[float, float]]:
    """'  Q8.1 Softmax regression   3.00 / 3' lines -> {'Q8.1': (3.0, 3.0)}."""
    return {q: (float(e), float(p)) for q, e, p in re.findall(r'^  (Q8\.\d) .*?(\d+\.\d\d) / (\d+)$', output, re.M)}


@pytest.mark.slow
@pytest.mark.cifar
def test_the_reference_passes_every_visible_check(capsys, cifar10_dir):
    """Run where students run it: the reference folder, its data linked in cs231n/datasets by `make data`."""
    assert (REFERENCE / 'cs231n' / 'datasets' / cifar10.FOLDER).is_dir()
    code, out, _ = check(capsys, REFERENCE)
    assert question_points(out) == {q: (float(p), float(p)) for q, p in QUESTIONS.items()}
    assert '13 / 13 points' in out and 'FAIL' not in out and 'To fix' not in out
    assert code == 0


@pytest.mark.slow
def test_the_starter_without_data_says_what_to_write_and_how_to_get_the_data(capsys, no_cifar10):
    code, out, _ = check(capsys, STARTER)
    assert code == 1
    assert question_points(out) == {q: (0.0, float(p)) for q, p in QUESTIONS.items()}
    for stub in ('softmax_loss_vectorized', 'LinearClassifier.train', 'LinearClassifier.predict', 'two_layer_net',
                 'affine_forward', 'relu_forward', 'conv_forward_naive', 'max_pool_forward_naive'):
        assert f'NotImplementedError: {stub}:' in out
    overfit = out[out.index('8.4.3'):]
    assert 'get the data with cs231n/datasets/get_datasets.sh' in overfit.splitlines()[1]
    assert 'To fix: the 20 check(s) marked FAIL above' in out
    assert 'could not evaluate' not in out


def test_a_missing_folder_is_one_error_line(capsys, tmp_path):
    code, out, err = check(capsys, tmp_path / 'nowhere')
    assert code == 2 and out == ''
    assert err.startswith('hw1grade: error:') and 'is not a folder' in err and len(err.splitlines()) == 1


# -- where check finds CIFAR-10 ----------------------------------------------------------------------

def test_the_students_own_data_comes_first(tmp_path, no_cifar10):
    own = tmp_path / 'cs231n' / 'datasets' / cifar10.FOLDER
    own.mkdir(parents=True)
    assert student_cifar10(tmp_path) == own.resolve()


def test_else_the_hw1grade_cache_then_the_archive_never_a_download(tmp_path, no_cifar10, monkeypatch):
    with pytest.raises(cifar10.DataError, match='get the data with cs231n/datasets/get_datasets.sh'):
        student_cifar10(tmp_path)
    archive = tiny_cifar.write_tiny_cifar_archive(tmp_path / 'cifar-10-python.tar.gz')
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(archive))
    from_archive = student_cifar10(tmp_path)
    assert from_archive == cifar10.resolve_cache_dir() / cifar10.FOLDER
    monkeypatch.delenv(cifar10.ARCHIVE_ENV)
    assert student_cifar10(tmp_path) == from_archive   # the cache it left


class _Payload:
    def __reduce__(self):
        return (os.system, ('touch pwned',))


def test_a_students_data_folder_cannot_run_code_in_the_grader(tmp_path, monkeypatch):
    """check loads the student's own batches in the trusted process: only numpy data may come out."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / cifar10.FOLDER
    folder.mkdir()
    for name, content in tiny_cifar.tiny_cifar_files().items():
        (folder / name).write_bytes(content)
    cifar10.load_batches(folder)   # the official format loads
    (folder / 'data_batch_1').write_bytes(pickle.dumps({'data': _Payload(), 'labels': []}, protocol=2))
    with pytest.raises(cifar10.DataError, match='not a readable pickle'):
        cifar10.load_batches(folder)
    assert not (tmp_path / 'pwned').exists()
