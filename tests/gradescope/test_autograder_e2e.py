"""autograder.zip run the way Gradescope runs it: as root, the real setup.sh builds the real /autograder
(packages, Python 3.11, venv, the reference's Cython extension, CIFAR-10, the challenge labels, the
doctor), then run_autograder grades uploads placed in /autograder/submission into
/autograder/results/results.json. Every results.json is checked against graders/engine/results.schema.json.

- the bundled examples with the default options (notebooks included): 13/13 and 16/16;
- a mutant of each part (fixtures/mutants.py, fixtures/part2_mutants.py) loses exactly its declared
  items (visible checks only: the training runs are proven by the full runs above, and this keeps CI short);
- a broken zip, a zip holding both parts, loose files (a structured folder is graded, flat files get a
  verdict that says to upload the zip).

Skipped (with the reason) unless run as root on a machine where /autograder does not exist yet; the
folder is removed afterwards. The pinned dependencies are not unpacked again: setup.sh seeds the venv
from this test run's site-packages (HW1GRADE_SEED_SITE_PACKAGES), then pip checks the pins.
"""
import ast
import os
import shutil
import subprocess
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from fixtures import mutants, part2_mutants
from graders import cli
from graders.engine.rubric import load_rubric
from tests.helpers import (
    AUTOGRADER,
    EXAMPLES,
    assert_part1_example_full_marks,
    assert_part2_example_full_marks,
    cifar10_archive,
    gradescope_e2e_blocker,
    results_of,
)

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
VISIBLE = '--no-notebooks --visible-only'

pytestmark = [pytest.mark.slow, pytest.mark.cifar]


def gradescope_env(**extra) -> dict:
    """What a Gradescope container has: the system PATH, root's HOME; none of this machine's settings."""
    keep = {k: v for k, v in os.environ.items() if k.startswith('PIP_') or k in ('LANG', 'TERM')}
    return {**keep, 'PATH': SYSTEM_PATH, 'HOME': '/root', **extra}


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    """/autograder after setup.sh: (seconds setup.sh took, its output). Removed after the module."""
    archive = cifar10_archive()
    if archive is None and os.environ.get('CI'):
        pytest.fail('CI needs the real CIFAR-10 archive (HW1_CIFAR10_ARCHIVE) to bundle it')
    reason = gradescope_e2e_blocker()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp('export')
    assert cli.main(['export', 'gradescope', '--out', str(out), '--cifar10', str(archive)]) == 0
    try:
        with zipfile.ZipFile(out / 'autograder.zip') as bundle:   # as Gradescope unpacks it
            bundle.extractall(AUTOGRADER / 'source')
        for script in ('setup.sh', 'run_autograder'):
            (AUTOGRADER / 'source' / script).chmod(0o755)
        started = time.monotonic()
        done = subprocess.run(['bash', './setup.sh'], cwd=AUTOGRADER / 'source', capture_output=True, text=True,
                              timeout=1800, env=gradescope_env(
                                  HW1GRADE_SEED_SITE_PACKAGES=sysconfig.get_paths()['purelib']))
        seconds = time.monotonic() - started
        steps = [line for line in done.stdout.splitlines() if line.startswith('== ')]
        print(f'\nsetup.sh: {seconds:.0f} s\n' + '\n'.join(steps))
        assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
        shutil.copy(AUTOGRADER / 'source' / 'run_autograder', AUTOGRADER / 'run_autograder')
        yield seconds, done.stdout
    finally:
        shutil.rmtree(AUTOGRADER, ignore_errors=True)


def run_autograder(files: dict[str, Path | bytes], options: str = '') -> tuple[dict, str]:
    """Fresh submission/ holding `files` (name -> file, folder or bytes), fresh results/, run_autograder
    with cwd /autograder: (results.json, checked against the schema; stdout)."""
    for folder in ('submission', 'results'):
        shutil.rmtree(AUTOGRADER / folder, ignore_errors=True)
        (AUTOGRADER / folder).mkdir()
    for name, what in files.items():
        target = AUTOGRADER / 'submission' / name
        if isinstance(what, bytes):
            target.write_bytes(what)
        elif Path(what).is_dir():
            shutil.copytree(what, target)
        else:
            shutil.copy(what, target)
    started = time.monotonic()
    done = subprocess.run([str(AUTOGRADER / 'run_autograder')], cwd=AUTOGRADER, capture_output=True, text=True,
                          timeout=1800, env=gradescope_env(HW1GRADE_GRADE_ARGS=options))
    print(f'\nrun_autograder {sorted(files)} {options}: {time.monotonic() - started:.0f} s')
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return results_of(AUTOGRADER / 'results'), done.stdout


def check_title(part: int, name: str, question: str) -> str:
    """The title results.json shows for a check: the first line of its docstring."""
    number = question.split('.')[1]
    source = next((ROOT / 'graders' / f'part{part}').glob(f'test_q8_{number}_*.py'))
    function = next(node for node in ast.walk(ast.parse(source.read_text()))
                    if isinstance(node, ast.FunctionDef) and node.name == name)
    return ast.get_docstring(function).splitlines()[0]


def failed(document: dict) -> list[dict]:
    return [t for t in document['tests'] if t['status'] != 'passed']


def why(document: dict) -> str:
    """The failed tests and their messages, for an assertion that fails."""
    lines = [f"{t['number']} {t['name']}: {t['output'][:400]}" for t in failed(document)]
    return '\n'.join(lines) or 'none failed'


def zipped(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, 'w') as archive:
        for path in sorted(folder.rglob('*')):
            archive.write(path, path.relative_to(folder).as_posix())
    return dest


def test_setup_leaves_the_grader_complete(image):
    seconds, log = image
    cs231n = AUTOGRADER / 'source' / 'hw1grade' / 'reference' / '1_cs231n' / 'cs231n'
    assert list(cs231n.glob('im2col_cython*.so')), 'the reference extension was not built'
    assert (AUTOGRADER / 'cache' / 'cifar10' / 'cifar-10-batches-py' / 'test_batch').is_file()
    assert list((AUTOGRADER / 'cache' / 'challenge').rglob('challenge_labels.json'))
    assert 'hw1grade doctor' in log


def test_the_part1_example_earns_13_of_13(image):
    """The one full grade of the Part 1 example in a CI run (tests/grading/test_reference_grade.py grades it
    through `hw1grade grade` only where this test cannot run)."""
    document, stdout = run_autograder({'1_cs231n.zip': EXAMPLES / '1_cs231n.zip'})
    assert document['score'] == 13 and not failed(document), why(document)
    assert {t['tags'][0] for t in document['tests']} == {'Q8.1', 'Q8.2', 'Q8.3', 'Q8.4'}
    assert_part1_example_full_marks(document)   # hidden checks measured, the notebooks ran (default options)
    assert document['stdout_visibility'] == 'hidden'
    assert f'grader in {AUTOGRADER / "source" / "hw1grade"}' in stdout


def test_the_part2_example_earns_16_of_16(image):
    """The one full grade of the Part 2 example in a CI run (as for Part 1)."""
    document, _ = run_autograder({'2_pytorch.zip': EXAMPLES / '2_pytorch.zip'})
    assert document['score'] == 16 and not failed(document), why(document)
    assert {t['tags'][0] for t in document['tests']} == {'Q8.5', 'Q8.6', 'Q8.7', 'Q8.8'}
    assert_part2_example_full_marks(document)
    # The leaderboard shows the public split only; the final standing stays with staff.
    assert [e['name'] for e in document['leaderboard']] == ['Public accuracy (10% split)']
    assert len(document['extra_data']['leaderboard_private']) == 2


def test_a_part1_mutant_loses_exactly_its_items(image, tmp_path):
    case = mutants.MUTANTS['softmax_reg_gradient_factor']
    folder = mutants.build(case, tmp_path / '1_cs231n')
    document, _ = run_autograder({'1_cs231n.zip': zipped(folder, tmp_path / '1_cs231n.zip')}, VISIBLE)
    lost = {(t['tags'][0], t['name'].split(': ', 1)[1]) for t in failed(document)}
    assert lost == {(q, check_title(1, name, q)) for q, name in case.failing}, why(document)
    assert all(case.says in t['output'] for t in failed(document))
    assert document['score'] == pytest.approx(sum(t['max_score'] for t in document['tests'])   # to the
                                              - sum(t['max_score'] for t in failed(document)), abs=0.01)   # cent


def test_a_part2_mutant_loses_exactly_its_items(image, tmp_path):
    change = next(c for c in part2_mutants.plot_changes(tmp_path / 'marker').changes if c.name == 'a missing plot')
    folder = tmp_path / '2_pytorch'
    with zipfile.ZipFile(EXAMPLES / '2_pytorch.zip') as archive:
        archive.extractall(folder)
    change.apply(folder)
    document, _ = run_autograder({'2_pytorch.zip': zipped(folder, tmp_path / '2_pytorch.zip')}, VISIBLE)
    lost = {(t['tags'][0], t['name'].split(': ', 1)[1]) for t in failed(document)}
    assert lost == {(q, check_title(2, name, q)) for q, name in change.failing}, why(document)
    assert all(change.says in t['output'] for t in failed(document))


def test_a_broken_zip_is_a_verdict(image):
    document, _ = run_autograder({'1_cs231n.zip': (EXAMPLES / '1_cs231n.zip').read_bytes()[:4000]})
    assert document['score'] == 0 and document['tests']
    assert not [t for t in document['tests'] if t['status'] == 'passed']
    assert 'damaged zip' in document['output']
    assert sum(t['max_score'] for t in document['tests']) == pytest.approx(load_rubric().total(1))


def test_a_zip_with_both_parts_is_a_verdict(image, tmp_path):
    both = tmp_path / 'both'
    for part in ('1_cs231n', '2_pytorch'):
        with zipfile.ZipFile(EXAMPLES / f'{part}.zip') as archive:
            archive.extractall(both / part)
    document, _ = run_autograder({'hw1.zip': zipped(both, tmp_path / 'hw1.zip')}, VISIBLE)
    assert document['score'] == 0
    assert 'holds both Part 1' in document['output'] and 'submit each part on its own' in document['output']


def test_loose_files_are_graded_as_the_folder_they_form(image, tmp_path):
    """Files dragged in keeping their folders (models/): graded like the zip; the PDF sits among them."""
    folder = tmp_path / 'loose'
    with zipfile.ZipFile(EXAMPLES / '2_pytorch.zip') as archive:
        archive.extractall(folder)
    files = {p.name: p for p in folder.iterdir()}
    document, _ = run_autograder(files, VISIBLE + ' --select "test_forward or test_pdf"')
    assert document['extra_data']['part'] == 2
    assert document['tests'] and not failed(document), why(document)


def test_flat_loose_files_get_a_verdict_that_says_to_upload_the_zip(image, tmp_path):
    """Files dragged in without their folders (cs231n/ lost): nothing to grade, and the student is told
    to upload the zip collect_submission.sh makes."""
    folder = mutants.write_reference(tmp_path / '1_cs231n')
    files = {p.name: p for p in folder.rglob('*.py') if p.name != '__init__.py'}
    document, _ = run_autograder(files, VISIBLE)
    assert document['score'] == 0 and not [t for t in document['tests'] if t['status'] == 'passed']
    assert 'loose files' in document['output'] and '1_cs231n.zip' in document['output']
