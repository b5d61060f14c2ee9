"""`hw1grade export gradescope`: autograder.zip, and its run_autograder in a Gradescope-like layout."""
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from graders import cli
from tests.batch.conftest import EXAMPLES
from tests.grading.conftest import results_of


@pytest.fixture(scope='module')
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp('export')
    assert cli.main(['export', 'gradescope', '--out', str(out)]) == 0
    return out / 'autograder.zip'


def test_the_bundle_holds_the_scripts_and_the_grader_sources_only(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for script in ('setup.sh', 'run_autograder'):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    for needed in ('hw1grade/pyproject.toml', 'hw1grade/graders/rubric.toml', 'hw1grade/graders/inside/worker.py',
                   'hw1grade/reference/1_cs231n/cs231n/layers.py', 'hw1grade/reference/2_pytorch/models/convnet.py'):
        assert needed in infos
    assert not [n for n in infos if '__pycache__' in n or '/datasets/' in n or n.endswith('.so')]


def run_autograder(autograder_zip: Path, root: Path, upload: Path) -> tuple[dict, str]:
    """Unpack to ROOT/source, put `upload` in ROOT/submission, run run_autograder: ROOT/results/results.json
    and the run's stdout."""
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / 'source')
    (root / 'submission').mkdir()
    shutil.copy(upload, root / 'submission' / upload.name)
    env = {**os.environ, 'HW1GRADE_AUTOGRADER_ROOT': str(root), 'HW1GRADE_PYTHON': sys.executable,
           'HW1GRADE_GRADE_ARGS': '--no-notebooks --visible-only --select test_forward'}
    done = subprocess.run(['bash', str(root / 'source' / 'run_autograder')], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return results_of(root / 'results'), done.stdout


@pytest.mark.slow
def test_run_autograder_grades_the_upload_with_the_bundled_grader(autograder_zip, tmp_path):
    document, stdout = run_autograder(autograder_zip, tmp_path / 'autograder', EXAMPLES / '2_pytorch.zip')
    assert document['score'] > 0 and all(t['status'] == 'passed' for t in document['tests'])
    assert document['extra_data']['part'] == 2
    assert f"grader in {tmp_path / 'autograder' / 'source' / 'hw1grade'}" in stdout   # the bundled copy ran


def test_run_autograder_turns_a_broken_upload_into_a_verdict(autograder_zip, tmp_path):
    broken = tmp_path / '1_cs231n.zip'
    broken.write_bytes((EXAMPLES / '1_cs231n.zip').read_bytes()[:4000])
    document, _ = run_autograder(autograder_zip, tmp_path / 'autograder', broken)
    assert document['score'] == 0 and 'damaged zip' in document['output']
