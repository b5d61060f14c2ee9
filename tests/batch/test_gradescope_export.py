"""`hw1grade export gradescope`: autograder.zip, its layouts (--part) and run_autograder's own failures, in
a Gradescope-like layout in a temp folder with this venv's Python (tests/gradescope/ runs the real
setup.sh into the real /autograder)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from graders import cli
from graders.classroom import gradescope
from graders.engine.rubric import load_rubric
from tests.helpers import EXAMPLES, SCHEMA, results_of

# One cheap visible check per part (a selection that matches nothing in a part is a grader error).
FAST = '--no-notebooks --visible-only --select "test_forward or test_affine_forward"'


def export(out: Path, *options: str) -> Path:
    assert cli.main(['export', 'gradescope', '--out', str(out), *options]) == 0
    return out / 'autograder.zip'


@pytest.fixture(scope='module')
def autograder_zip(tmp_path_factory):
    return export(tmp_path_factory.mktemp('export'))


def test_the_bundle_holds_the_scripts_the_layout_and_the_grader_sources_only(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        config = json.loads(archive.read('bundle.json'))
        setup = archive.read('setup.sh').decode()
    for script in ('setup.sh', 'run_autograder'):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    for needed in ('hw1grade/pyproject.toml', 'hw1grade/graders/rubric.toml', 'hw1grade/graders/inside/worker.py',
                   'hw1grade/reference/1_cs231n/cs231n/layers.py',
                   'hw1grade/reference/1_cs231n/cs231n/im2col_cython.pyx',
                   'hw1grade/reference/2_pytorch/models/convnet.py'):
        assert needed in infos
    assert not [n for n in infos if '__pycache__' in n or '/datasets/' in n or n.endswith('.so')]
    assert config == {'part': 'auto', 'time_limit_minutes': gradescope.DEFAULT_MINUTES}
    assert 'build_ext --inplace' in setup and 'hw1grade" doctor' in setup


def test_the_course_secret_and_labels_travel_in_data(tmp_path):
    (tmp_path / 'secret').write_bytes(b's' * 32)
    (tmp_path / 'labels.json').write_text('{}')
    bundle = export(tmp_path / 'export', '--secret-file', str(tmp_path / 'secret'),
                    '--labels', str(tmp_path / 'labels.json'))
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read('data/course_secret') == b's' * 32 and 'data/challenge_labels.json' in archive.namelist()
        assert 'HW1_COURSE_SECRET_FILE="$SOURCE/data/course_secret"' in archive.read('run_autograder').decode()


@pytest.mark.parametrize('minutes', ['0', '41'])
def test_a_time_limit_gradescope_cannot_set_is_refused(tmp_path, minutes, capsys):
    # A user error (gradescope.ExportError): one line and exit 2, no traceback (graders/cli.py).
    assert cli.main(['export', 'gradescope', '--out', str(tmp_path), '--time-limit', minutes]) == 2
    assert capsys.readouterr().err.startswith('hw1grade: error: --time-limit must be 1-40 minutes')
    assert not (tmp_path / 'autograder.zip').exists()


def test_a_time_limit_below_the_rubrics_budget_is_refused():
    rubric = load_rubric()
    rubric.settings['budget'] = {'part1': 500, 'part2': 500}   # graders/engine/budget.py's table
    gradescope.check_time_limit(gradescope.BundleConfig('1', 10), rubric)   # 500 s fit in 600 - 60
    with pytest.raises(ValueError, match='raise --time-limit'):
        gradescope.check_time_limit(gradescope.BundleConfig('both', 10), rubric)


def lay_out(autograder_zip: Path, root: Path, files: dict[str, Path | bytes]) -> Path:
    """Unpack to ROOT/source, put `files` in ROOT/submission; returns ROOT."""
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / 'source')
    (root / 'submission').mkdir()
    for name, what in files.items():
        target = root / 'submission' / name
        target.write_bytes(what) if isinstance(what, bytes) else shutil.copy(what, target)
    return root


def run_autograder(autograder_zip: Path, root: Path, files: dict[str, Path | bytes], options: str = FAST
                   ) -> tuple[dict, str]:
    """run_autograder in ROOT: (ROOT/results/results.json checked against the schema, the run's stdout)."""
    lay_out(autograder_zip, root, files)
    env = {**os.environ, 'HW1GRADE_AUTOGRADER_ROOT': str(root), 'HW1GRADE_PYTHON': sys.executable,
           'HW1GRADE_GRADE_ARGS': options}
    done = subprocess.run(['bash', str(root / 'source' / 'run_autograder')], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return results_of(root / 'results'), done.stdout


def parts_of(document: dict) -> set[int]:
    return {load_rubric().questions[t['tags'][0]].part for t in document['tests']}


@pytest.mark.slow
def test_run_autograder_grades_the_upload_with_the_bundled_grader(autograder_zip, tmp_path):
    document, stdout = run_autograder(autograder_zip, tmp_path / 'autograder',
                                      {'2_pytorch.zip': EXAMPLES / '2_pytorch.zip'})
    assert document['score'] > 0 and all(t['status'] == 'passed' for t in document['tests'])
    assert document['extra_data']['part'] == 2
    assert f"grader in {tmp_path / 'autograder' / 'source' / 'hw1grade'}" in stdout   # the bundled copy ran


def test_run_autograder_turns_a_broken_upload_into_a_verdict(autograder_zip, tmp_path):
    document, _ = run_autograder(autograder_zip, tmp_path / 'autograder',
                                 {'1_cs231n.zip': (EXAMPLES / '1_cs231n.zip').read_bytes()[:4000]})
    assert document['score'] == 0 and 'damaged zip' in document['output']


def test_a_part1_assignment_tells_a_part2_upload_what_to_upload(tmp_path):
    bundle = export(tmp_path / 'export', '--part', '1')
    document, _ = run_autograder(bundle, tmp_path / 'autograder', {'2_pytorch.zip': EXAMPLES / '2_pytorch.zip'})
    assert parts_of(document) == {1} and document['score'] == 0
    assert 'This is a Part 2 submission' in document['output'] and 'upload 1_cs231n.zip' in document['output']


def test_a_both_parts_assignment_fails_the_part_not_uploaded(tmp_path):
    bundle = export(tmp_path / 'export', '--part', 'both')
    document, _ = run_autograder(bundle, tmp_path / 'autograder', {'1_cs231n.zip': EXAMPLES / '1_cs231n.zip'},
                                 '--no-notebooks --visible-only --select test_affine_forward')
    assert parts_of(document) == {1, 2}
    part2 = [t for t in document['tests'] if t['tags'][0] in ('Q8.5', 'Q8.6', 'Q8.7', 'Q8.8')]
    assert sum(t['max_score'] for t in part2) == pytest.approx(load_rubric().total(2))
    assert all(t['status'] == 'failed' and 'No 2_pytorch.zip was uploaded' in t['output'] for t in part2)
    assert document['score'] > 0   # Part 1's selected check passed


@pytest.mark.slow
def test_a_both_parts_assignment_grades_both_from_one_zip(tmp_path):
    both = tmp_path / 'both'
    for part in ('1_cs231n', '2_pytorch'):
        with zipfile.ZipFile(EXAMPLES / f'{part}.zip') as archive:
            archive.extractall(both / part)
    pdf = (both / '2_pytorch' / '2_pytorch.pdf').read_bytes()
    (both / '2_pytorch' / '2_pytorch.pdf').unlink()
    upload = tmp_path / 'hw1.zip'
    with zipfile.ZipFile(upload, 'w') as archive:
        for path in sorted(both.rglob('*')):
            archive.write(path, path.relative_to(both).as_posix())
    bundle = export(tmp_path / 'export', '--part', 'both')
    document, _ = run_autograder(bundle, tmp_path / 'autograder', {'hw1.zip': upload, '2_pytorch.pdf': pdf},
                                 '--no-notebooks --visible-only --select "test_affine_forward or test_forward"')
    assert parts_of(document) == {1, 2}
    assert document['tests'] and all(t['status'] == 'passed' for t in document['tests'])
    assert [p['part'] for p in document['extra_data']['parts']] == [1, 2]


@pytest.mark.slow
def test_the_pdf_uploaded_next_to_the_zip_is_graded(tmp_path):
    """The assignment has 2_pytorch.pdf uploaded as its own file; the zip (renamed) does not hold it."""
    folder = tmp_path / 'unpacked'
    with zipfile.ZipFile(EXAMPLES / '2_pytorch.zip') as archive:
        archive.extractall(folder)
    pdf = folder / '2_pytorch.pdf'
    upload = tmp_path / 'gburdell3_hw1_pytorch.zip'
    with zipfile.ZipFile(upload, 'w') as archive:
        for path in sorted(folder.rglob('*')):
            if path != pdf:
                archive.write(path, path.relative_to(folder).as_posix())
    document, _ = run_autograder(export(tmp_path / 'export', '--part', '2'), tmp_path / 'autograder',
                                 {upload.name: upload, 'gburdell3_2_pytorch.pdf': pdf.read_bytes()},
                                 '--no-notebooks --visible-only --select test_pdf')
    assert [t['status'] for t in document['tests']] == ['passed'], document['output']
    assert 'uploaded beside the zip' in document['tests'][0]['output']


@pytest.mark.parametrize('files, layout, expected', [
    ({'1_cs231n.zip', '2_pytorch.zip', '2_pytorch.pdf'}, 'auto', [(None, '1_cs231n.zip'), (None, '2_pytorch.zip')]),
    ({'1_cs231n.zip', '2_pytorch.zip'}, '2', [(2, '2_pytorch.zip')]),
    ({'gburdell_hw1.zip', 'gburdell_2_pytorch.zip'}, 'both', [(1, 'gburdell_hw1.zip'), (2, 'gburdell_2_pytorch.zip')]),
    ({'2_pytorch.zip'}, 'both', [(1, None), (2, '2_pytorch.zip')]),
    ({'2_pytorch.zip'}, '1', [(1, '2_pytorch.zip')]),
    ({'train.py', 'models'}, 'auto', [(None, '.')]),
    ({'train.py', 'models'}, 'both', [(1, '.'), (2, '.')]),
])
def test_which_upload_is_graded_as_which_part(tmp_path, files, layout, expected):
    for name in files:
        (tmp_path / name).mkdir() if '.' not in name else (tmp_path / name).write_bytes(b'')
    plan = gradescope.plan_uploads(tmp_path, layout)
    assert [(u.part, u.path and os.path.relpath(u.path, tmp_path)) for u in plan] == expected


def check_failure_document(document: dict, reason: str) -> None:
    jsonschema.validate(document, SCHEMA)
    assert 'The autograder failed on the server' in document['output'] and 'will regrade' in document['output']
    assert reason in document['output'] and document['extra_data']['status'] == 'grader-error'
    # Hidden items: students see the message, not a total of zero.
    assert document['tests'] and all(t['visibility'] == 'hidden' for t in document['tests'])


def test_a_grade_past_the_deadline_is_the_graders_failure(tmp_path):
    (tmp_path / 'submission').mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'submission')
    assert gradescope.main(['run', str(tmp_path / 'submission'), str(tmp_path / 'results'), '--deadline', '2']) == 0
    document = json.loads((tmp_path / 'results' / 'results.json').read_text())
    check_failure_document(document, 'grading took longer than the 2 s')
    assert parts_of(document) == {1}
    assert not list((tmp_path / 'results').glob('.grading-*'))


def test_a_grading_process_killed_by_the_container_is_the_graders_failure(tmp_path, monkeypatch):
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\nkill -9 $$\n')
    fake.chmod(0o755)
    monkeypatch.setattr(sys, 'executable', str(fake))
    (tmp_path / 'submission').mkdir()
    shutil.copy(EXAMPLES / '2_pytorch.zip', tmp_path / 'submission')
    assert gradescope.main(['run', str(tmp_path / 'submission'), str(tmp_path / 'results')]) == 0
    document = json.loads((tmp_path / 'results' / 'results.json').read_text())
    check_failure_document(document, 'killed by signal 9 (most likely out of memory')
    assert parts_of(document) == {2}


def test_a_grader_that_fails_inside_grade_is_not_a_students_zero(tmp_path, monkeypatch):
    import graders.engine.grade

    def broken(*args, **kwargs):
        raise RuntimeError('the graders in graders/part1 could not run')
    monkeypatch.setattr(graders.engine.grade, 'run_checks', broken)
    (tmp_path / 'submission').mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'submission')
    document = gradescope.for_gradescope(gradescope.grade_uploads(tmp_path / 'submission', 'auto', notebooks=False))
    check_failure_document(document, 'could not run')


def test_the_leaderboard_shows_the_public_split_only():
    from graders.classroom.leaderboard import FULL, PUBLIC
    entries = [{'name': PUBLIC, 'value': 0.61, 'order': 'desc'}, {'name': FULL, 'value': 0.6, 'order': 'desc'}]
    document = gradescope.for_gradescope({'score': 10.0, 'tests': [], 'leaderboard': entries,
                                          'extra_data': {'part': 2}})
    jsonschema.validate(document, SCHEMA)
    assert document['leaderboard'] == entries[:1] and document['extra_data']['leaderboard_private'] == entries
    assert document['stdout_visibility'] == 'hidden'
