"""The students' self-check in the starter zip (`python check.py`, graders/course/selfcheck.py).

- it holds no solution: no line of a solution region, no hidden check, no label file;
- its checks are the TA's own (the same source, the hidden ones removed);
- the issue's "done when": the zip unpacked in an empty folder, a fresh venv made from its own
  requirements.txt, the stubs fail every check with their messages, the reference's files pass every one;
- collect_submission prints its summary before zipping, and zips whatever it says.
The same verdict as `hw1grade grade --visible-only` on every tree of fixtures/mutants.py:
tests/grading/test_part1_verdicts.py (it reuses that module's gradings).
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from graders.cli import main
from graders.course import selfcheck, starter
from graders.data import challenge
from graders.engine.rubric import load_rubric
from graders.paths import REFERENCE
from tests.helpers import independent_split, reference_texts, run_self_check, with_cifar10, zip_texts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def release_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('release')
    assert main(['starter', 'build', '--out', str(out)]) == 0
    return out / starter.ZIP_NAME


def self_check_texts(path: Path) -> dict[str, str]:
    return {name: text for name, text in zip_texts(path)
            if name.startswith(('assignment/check.py', 'assignment/selfcheck/'))}


def test_no_solution_line_hidden_check_or_label_is_in_the_zip(release_zip):
    texts = dict(zip_texts(release_zip))
    mine = self_check_texts(release_zip)
    assert 'assignment/check.py' in mine and 'assignment/selfcheck/part1/expected.npz index' in mine
    assert 'assignment/selfcheck/part2/test_q8_5_softmax.py' in mine and 'assignment/selfcheck/part2_probe.py' in mine
    # Every line of every solution region that the starter does not itself give (given code, stubs).
    given = {line.strip() for _, text in reference_texts() for line in independent_split(text)[0]}
    given |= {line.strip() for region in starter.reference_regions() for line in region.stub}
    solution = {line.strip() for _, text in reference_texts() for line in independent_split(text)[1]}
    solution = {line for line in solution if len(line) >= 10 and line not in given}
    assert len(solution) > 200
    found = {line for text in mine.values() for line in text.splitlines() if line.strip() in solution}
    assert not found, f'solution lines in the self-check: {sorted(found)[:5]}'
    # No hidden check's name, anywhere in the zip.
    hidden = {name for q in load_rubric().questions.values() for name in q.hidden}
    assert {'test_cifar10_accuracy', 'test_training', 'test_beats_reference'} <= hidden
    for name, text in texts.items():
        assert not any(h in text for h in hidden), f'{name} names a hidden check'
    # No labels: no file of labels, no file of the challenge, no CIFAR-10 batch.
    with zipfile.ZipFile(release_zip) as zf:
        names = zf.namelist()
    assert not [n for n in names if re.search(r'labels|test_batch|data_batch|\.json$|\.npy$', n.lower())
                and not n.endswith('selfcheck/rubric.json')]
    assert not any(challenge.LABELS_FILE in text for text in texts.values())
    # Nothing of the course secret's held-out draws or of the hidden training runs (Part 2's checks
    # import graders.data.heldout only through graders/part2/training.py, which is not copied).
    assert not [name for name, text in mine.items() if re.search(
        r'graders\.data|heldout\.|draw_heldout|course_secret|train_and_score|train_and_predict|'
        r'predict_with_weights|challenge_labels', text)]
    # The rubric it carries: the visible checks' tolerances and the overfitting run, no secret, no labels.
    carried = json.loads(mine['assignment/selfcheck/rubric.json'])
    assert sorted(carried['settings']) == ['cifar10', 'part2', 'partial_credit', 'tolerances']
    assert list(carried['settings']['cifar10']) == ['convnet_overfit']


def test_its_checks_are_the_TAs_own_without_the_hidden_ones(release_zip):
    """Each visible check's source, decorators to last line, is in the zip exactly as the TA's grader runs it."""
    mine = self_check_texts(release_zip)
    copied = 0
    for part, module in [(part, m) for part in (1, 2) for m in selfcheck.check_modules(part)]:
        source = module.read_text()
        text = mine[f'assignment/selfcheck/part{part}/{module.name}']
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith('test_'):
                segment = '\n'.join(source.splitlines()[node.decorator_list[0].lineno - 1:node.end_lineno])
                if node.name in selfcheck.hidden_names(part):
                    assert f'def {node.name}(' not in text
                else:
                    assert segment in text, f'{module.name}: {node.name} differs from the TA\'s'
                    copied += 1
    assert copied == 20 + 15
    copies = [text for name, text in mine.items() if name.startswith(('assignment/selfcheck/part',
                                                                        'assignment/selfcheck/engine/'))]
    assert not [line for text in copies for line in text.splitlines() if re.match(r'\s*(from|import) graders', line)]


# -- the "done when" -------------------------------------------------------------------------

def requirement_closure(requirements: Path) -> set[str]:
    """The distributions `requirements` names and, transitively, those they require (markers evaluated
    here, the extras asked for followed), as installed in this venv: what a student's `pip install -r`
    would install."""
    from importlib import metadata

    from packaging.requirements import Requirement
    todo = [Requirement(line.split('#')[0].strip()) for line in requirements.read_text().splitlines()
            if line.split('#')[0].strip()]
    seen, found = set(), set()
    while todo:
        req = todo.pop()
        key = (req.name.lower().replace('_', '-'), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        found.add(key[0])
        for text in metadata.distribution(req.name).requires or ():
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({'extra': e}) for e in ('', *req.extras)):
                todo.append(dep)
    return found


def layered_venv(where: Path, requirements: Path) -> Path:
    """A fresh venv that sees, of this venv's packages, only the distributions of `requirements` and their
    dependencies (links to their files in a folder of its own, on its path through a .pth file): a
    package the self-check needs but requirements.txt forgets is missing there, as on a student's
    machine, and hw1grade (installed here, required by nothing) cannot be imported. Then `pip install
    --no-index -r requirements.txt` must find every requirement there."""
    from importlib import metadata
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(where)], check=True)
    python = where / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')
    purelib = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                             capture_output=True, text=True, check=True).stdout.strip()
    here = Path(sysconfig.get_paths()['purelib'])
    allowed = where / 'requirements-only'
    allowed.mkdir()
    for name in requirement_closure(requirements):
        for file in metadata.distribution(name).files or ():
            top = Path(file).parts[0]
            if top != '..' and (here / top).exists() and not (allowed / top).exists():
                (allowed / top).symlink_to(here / top)
    Path(purelib, 'requirements-only.pth').write_text(str(allowed) + '\n')
    return python


@pytest.mark.slow   # a venv, pip, a Cython build and the checks twice: a minute
@pytest.mark.cifar
def test_the_starter_zip_in_an_empty_folder_with_its_own_requirements(release_zip, tmp_path, cifar10_dir):
    started = time.monotonic()
    with zipfile.ZipFile(release_zip) as zf:
        zf.extractall(tmp_path / 'student')
    home = tmp_path / 'student' / 'assignment'
    python = layered_venv(tmp_path / 'venv', home / 'requirements.txt')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    mark = time.monotonic()
    pip = subprocess.run([sys.executable, '-m', 'pip', '--python', str(python), 'install', '--no-index', '-q',
                          '-r', str(home / 'requirements.txt')], capture_output=True, text=True, env=env)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    no_grader = subprocess.run([str(python), '-c', 'import graders'], cwd=home, capture_output=True, env=env)
    assert no_grader.returncode != 0, 'the student venv must not see hw1grade'
    print(f'venv and pip install -r requirements.txt: {time.monotonic() - mark:.1f} s')

    # The stubs: every check fails with what to write (the Cython extension is built by the self-check).
    part1 = home / '1_cs231n'
    stubs, table = run_self_check(home, part1, python=str(python))
    checks = [c for q in stubs.values() for c in q.values()]
    assert len(checks) == 20 and not any(c['passed'] for c in checks), table
    assert not any(c['own_error'] for c in checks), table
    stub_messages = [c['message'] for c in checks if 'NotImplementedError' in c['message']]
    assert len(stub_messages) == 19, table    # the 20th: the overfitting run has no CIFAR-10 here
    assert 'get the data with cs231n/datasets/get_datasets.sh' in stubs['Q8.4']['test_overfit_small_set']['message']
    assert 'Part 1, 0 / 13 points' in table and 'To fix: the 20 check(s)' in table

    # The reference's files copied in (and the data where get_datasets.sh puts it): every check passes.
    for name in starter.STUDENT_FILES:
        if name.startswith('1_cs231n/') and name.endswith('.py'):
            shutil.copy(REFERENCE / name, home / name)
    with_cifar10(part1, cifar10_dir)
    solved, table = run_self_check(home, part1, python=str(python))
    failed = {f'{q} {n}': c['message'] for q, checks in solved.items() for n, c in checks.items() if not c['passed']}
    assert failed == {}, table
    assert 'Part 1, 13 / 13 points' in table

    # Part 2: the stubs fail every visible check with what to write or make; the bundled example
    # submission (the reference trained, its logs, plots, 2_pytorch.pdf, extra.md) unpacked over it passes all.
    part2 = home / '2_pytorch'
    stubs, table = run_self_check(home, part2, python=str(python), part=2)
    checks = [c for q in stubs.values() for c in q.values()]
    assert len(checks) == 15 and not any(c['passed'] or c['own_error'] for c in checks), table
    assert 'Part 2, 0 / 16 points' in table and 'NotImplementedError: Softmax.__init__' in table
    with zipfile.ZipFile(ROOT / 'examples' / '2_pytorch.zip') as zf:
        zf.extractall(part2)
    solved, table = run_self_check(home, part2, python=str(python), part=2)
    failed = {f'{q} {n}': c['message'] for q, checks in solved.items() for n, c in checks.items() if not c['passed']}
    assert failed == {}, table
    assert 'Part 2, 16 / 16 points' in table
    print(f'done-when scenario: {time.monotonic() - started:.1f} s')


def test_collect_submission_prints_the_summary_and_zips_anyway(release_zip, tmp_path):
    with zipfile.ZipFile(release_zip) as zf:
        zf.extractall(tmp_path)
    home = tmp_path / 'assignment'
    part1 = home / '1_cs231n'
    for built in (REFERENCE / '1_cs231n' / 'cs231n').glob('im2col_cython*.so'):
        shutil.copy(built, part1 / 'cs231n' / built.name)
    code = ('import sys; sys.path.insert(0, "."); import collect_submission as c; from pathlib import Path; '
            'c.self_check(Path(".").resolve(), "1_cs231n"); '
            'c.self_check(Path("/nonexistent/1_cs231n"), "1_cs231n"); print("after")')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, '-c', code], cwd=part1, capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == ['self-check Part 1: 0 of 20 visible checks pass, 0 / 13 visible points '
                     '(run `python check.py` for what to fix)', 'after']
    source = (part1 / 'collect_submission.py').read_text()
    main_body = source[source.index('def main('):]
    assert main_body.index('self_check(folder, part)') < main_body.index('write_zip(folder')
    # Part 2's collect_submission (the same script) runs the Part 2 self-check on its folder.
    part2 = home / '2_pytorch'
    assert (part2 / 'collect_submission.py').read_text() == source
    code = ('import sys; sys.path.insert(0, "."); import collect_submission as c; from pathlib import Path; '
            'c.self_check(Path(".").resolve(), "2_pytorch")')
    proc = subprocess.run([sys.executable, '-c', code], cwd=part2, capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ['self-check Part 2: 0 of 15 visible checks pass, 0 / 16 visible points '
                                        '(run `python check.py` for what to fix)']


def test_inputs_it_has_no_stored_result_for_are_its_own_failure(tmp_path):
    """Given code changed (the convnet's initial weights): the stored case is missing, and the self-check
    says that this is its own limit (the TAs' grader will check it), not a wrong answer."""
    from fixtures import mutants
    from tests.helpers import build_self_check, with_built_extension
    home = build_self_check(tmp_path / 'home')
    tree = mutants.write_reference(tmp_path / '1_cs231n')
    convnet = tree / 'cs231n' / 'classifiers' / 'convnet.py'
    text = convnet.read_text()
    assert text.count('weight_scale=1e-3') == 1
    convnet.write_text(text.replace('weight_scale=1e-3', 'weight_scale=2e-3'))
    verdicts, table = run_self_check(home, with_built_extension(tree), select='initial_loss')
    check = verdicts['Q8.4']['test_initial_loss']
    assert not check['passed'] and check['own_error'], table
    assert 'the self-check could not evaluate this check' in check['message']
    assert 'no stored expected result of two_layer_convnet' in check['message']


@pytest.mark.slow
def test_hw1grade_grade_visible_only_grades_what_the_self_check_runs(tmp_path, capsys):
    """`hw1grade grade --visible-only`: the checks students see, each question's points shared among
    them (the self-check's table), no hidden check in results.json."""
    from fixtures import mutants
    from tests.helpers import results_of
    tree = mutants.write_reference(tmp_path / '1_cs231n', reference=ROOT / 'student' / '1_cs231n')
    assert main(['grade', str(tree), '--visible-only', '--no-notebooks', '--out', str(tmp_path / 'out')]) == 0
    tests = results_of(tmp_path / 'out')['tests']
    assert len(tests) == 20 and sum(t['max_score'] for t in tests) == pytest.approx(13, abs=1e-3)   # 23 in all
    assert not any(t.get('visibility') == 'after_published' for t in tests)
    assert 'Part 1, 0 / 13 points' in capsys.readouterr().out


def test_without_pdftoppm_the_pdf_check_is_not_checkable_here_never_a_fail(tmp_path):
    """Part 2's PDF check renders 2_pytorch.pdf with pdftoppm, which requirements.txt cannot install:
    where it is missing the check is n/a (the self-check's own limit, exit status 0), where it is there
    a PDF that does not render fails as in the TA's grader. The other Part 2 checks need no recorded
    outputs: the self-check's files without recording do."""
    home = tmp_path / 'home'
    selfcheck.write(selfcheck.source_files(), home)
    part2 = tmp_path / '2_pytorch'
    shutil.copytree(ROOT / 'student' / '2_pytorch', part2)
    (part2 / '2_pytorch.pdf').write_bytes(b'%PDF-1.4 not really a PDF\n')
    no_pdftoppm = tmp_path / 'bin'
    no_pdftoppm.mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    runs = {}
    for name, path in (('missing', str(no_pdftoppm)), ('here', env['PATH'])):
        out = tmp_path / f'{name}.json'
        proc = subprocess.run([sys.executable, str(home / 'check.py'), '--part', '2', '--folder', str(part2),
                               '--select', 'test_pdf', '--json', str(out)], cwd=home, capture_output=True,
                              text=True, env={**env, 'PATH': path}, timeout=300)
        runs[name] = proc, json.loads(out.read_text())['2']['checks']['Q8.5']['test_pdf']
    proc, check = runs['missing']
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not check['passed'] and check['own_error'] and check['unavailable']
    assert 'cannot check 2_pytorch.pdf on this machine: it needs pdftoppm' in check['message']
    assert re.search(r'n/a  8\.5\.1 2_pytorch\.pdf', proc.stdout) and 'FAIL' not in proc.stdout, proc.stdout
    assert 'the 1 check(s) marked n/a above' in proc.stdout
    assert shutil.which('pdftoppm'), 'pdftoppm is a grading dependency (scripts/system-packages.sh)'
    proc, check = runs['here']
    assert proc.returncode == 1 and not check['passed'] and not check['own_error'], proc.stdout
    assert check['message'].startswith('2_pytorch.pdf does not render: pdftoppm could not render it'), check
