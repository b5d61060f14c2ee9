"""Helpers shared by test modules: the one module tests import helpers from.

Fixtures stay in the conftest.py files (pytest finds them there); plain functions and constants that more
than one test module uses live here and are imported as `from tests.helpers import ...`.
"""
import builtins
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

import notebook_to_pdf  # reference/1_cs231n is on sys.path
from graders.course import selfcheck, starter
from graders.course.part2_runs import run_in
from graders.data.cifar10 import ARCHIVE_ENV, ARCHIVE_NAME, resolve_cache_dir
from graders.engine.options import GradeOptions
from graders.engine.results import SCHEMA_FILE
from graders.engine.sandbox import Sandbox
from graders.inside.run_notebook import SUMMARY_FORMAT
from graders.notebooks.runner import NOTEBOOKS
from graders.paths import REFERENCE, REPO

ROOT = REPO
EXAMPLES = ROOT / 'examples'


# -- what a patch in a worker could reach: the trusted process's own numpy and builtins ------------

def trusted_objects() -> dict[str, object]:
    """The objects a submission patches to fool comparisons (fixtures/hostile/hostile.py:monkeypatch),
    as the trusted process sees them now."""
    return {'numpy.allclose': np.allclose, 'numpy.testing.assert_allclose': np.testing.assert_allclose,
            'builtins.abs': builtins.abs, 'builtins.isinstance': builtins.isinstance, 'builtins.len': builtins.len}


# Taken when the tests start, before any submission code has run anywhere.
TRUSTED_ORIGINALS = trusted_objects()


def patched_in_this_process(originals: dict[str, object] = TRUSTED_ORIGINALS) -> list[str]:
    """The names among `originals` that no longer hold the same object in this (the trusted) process."""
    now = trusted_objects()
    return sorted(name for name, obj in originals.items() if now[name] is not obj)


# -- results.json ------------------------------------------------------------------------------

SCHEMA = json.loads(SCHEMA_FILE.read_text())


def results_of(out_dir: Path) -> dict:
    """The results.json in `out_dir`, checked against the Gradescope schema."""
    document = json.loads((Path(out_dir) / 'results.json').read_text())
    jsonschema.validate(document, SCHEMA)
    return document


# -- the bundled examples graded in full (default options: hidden CIFAR-10 runs and notebooks) ------

def assert_part1_example_full_marks(document: dict):
    """examples/1_cs231n.zip's results.json: 13/13, every hidden check ran and reports the accuracy it
    measured, and the four notebooks ran in the sandbox (`output` is the terminal summary)."""
    failed = [f'{t["number"]} {t["name"]}: {t["output"]}' for t in document['tests'] if t['status'] != 'passed']
    assert not failed, '\n'.join(failed)
    assert document['score'] == 13
    assert sum(t['max_score'] for t in document['tests']) == pytest.approx(13)
    # Every hidden check ran (the TA's grade is the full grade) and reports what it measured.
    hidden = [t for t in document['tests'] if t['visibility'] == 'after_published']
    assert len(hidden) == 3 and all('accuracy' in t['output'] for t in hidden)
    summary = document['output']
    assert 'notebooks (executed in the sandbox' in summary
    for name in NOTEBOOKS:
        line = next(line for line in summary.splitlines() if line.strip().startswith(name))
        assert ' ok' in line, line


def assert_part2_example_full_marks(document: dict):
    """examples/2_pytorch.zip's results.json: 16/16 with the grader's training runs; MyModel's accuracy on
    all challenge images (kept for staff on Gradescope) reaches the reference's own bar."""
    failed = [f'{t["number"]} {t["name"]}: {t["output"]}' for t in document['tests'] if t['status'] != 'passed']
    assert not failed, '\n'.join(failed)
    assert document['score'] == 16
    entries = document.get('extra_data', {}).get('leaderboard_private') or document['leaderboard']
    board = {entry['name']: entry['value'] for entry in entries}
    assert set(board) == {'Public accuracy (10% split)', 'Accuracy (all challenge images)'}
    assert board['Accuracy (all challenge images)'] >= 0.85


AUTOGRADER = Path('/autograder')


def gradescope_e2e_blocker() -> str | None:
    """Why tests/gradescope/test_autograder_e2e.py cannot build /autograder and run the bundle here, or None
    when it can (it then grades both examples in full through run_autograder)."""
    if os.geteuid() != 0:
        return 'needs root: setup.sh installs packages and builds /autograder, as on Gradescope'
    if AUTOGRADER.exists():
        return '/autograder already exists on this machine: not ours to overwrite'
    if not shutil.which('apt-get') and not Path('/usr/bin/python3.11').exists():
        return 'neither apt-get nor /usr/bin/python3.11: setup.sh cannot get a Python 3.11 here'
    if cifar10_archive() is None:
        return 'no cifar-10-python.tar.gz to bundle (set HW1_CIFAR10_ARCHIVE)'
    return None


def cifar10_archive() -> Path | None:
    """The CIFAR-10 archive a bundle can carry: $HW1_CIFAR10_ARCHIVE, else the one in the hw1grade cache."""
    for candidate in (os.environ.get(ARCHIVE_ENV), resolve_cache_dir() / ARCHIVE_NAME):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


# -- sandboxes ---------------------------------------------------------------------------------

def bwrap_sandbox(*args, **kwargs) -> Sandbox:
    """Sandbox(...) with bubblewrap, or skip where it is unusable (outside CI, which installs it).

    Create it after the scratch folder is filled: as root it chowns the files for the sandbox user.
    """
    box = Sandbox(*args, **kwargs)
    if box.isolation != 'bubblewrap' and not os.environ.get('CI'):
        pytest.skip(box.warning)
    assert box.isolation == 'bubblewrap', box.warning
    return box


# A uid of its own for the tests that force the 'rlimits' level: that level sweeps what its uid left in
# /tmp and kills its orphans, which must not touch other sandboxes running as the default uid.
CROSSTALK_UID = 65400


def level_sandbox(*args, isolation: str, **kwargs) -> Sandbox:
    """Sandbox(...) at exactly `isolation`, or skip where this host cannot have it (outside CI; in CI,
    which has bubblewrap as root, 'namespaces' works too)."""
    box = Sandbox(*args, isolation=isolation, **kwargs)
    if box.isolation != isolation:
        if os.environ.get('CI') and os.geteuid() == 0:
            pytest.fail(box.warning)
        pytest.skip(box.warning)
    return box


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


# -- Cython builds: a cs231n package with only the extension's sources ---------------------------

# The starter's setup.py of that era, and a .pyx with its Python-2 integer division on C ints.
STARTER_SETUP = '''
from distutils.core import setup
from distutils.extension import Extension
from Cython.Build import cythonize
import numpy

extensions = [
  Extension('im2col_cython', ['im2col_cython.pyx'],
            include_dirs = [numpy.get_include()]
  ),
]

setup(
    ext_modules = cythonize(extensions),
)
'''

STARTER_PYX = '''
def out_size(int H, int padding, int field_height, int stride):
    cdef int HH = (H + 2 * padding - field_height) / stride + 1
    return HH
'''

# Python 3 semantics at language level 3, so that the first attempt builds.
PYX = '''
def out_size(int H, int padding, int field_height, int stride):
    cdef int HH = (H + 2 * padding - field_height) // stride + 1
    return HH
'''


def write_package(root, pyx, setup=STARTER_SETUP):
    pkg = root / 'cs231n'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'setup.py').write_text(setup)
    (pkg / 'im2col_cython.pyx').write_text(textwrap.dedent(pyx))
    return pkg


# -- Part 2 working copies: train.py runs -------------------------------------------------------

def run_ok(workdir, *command):
    """Run a command in workdir and return its stdout; fail the test with its output if it fails."""
    proc = run_in(workdir, *command, timeout=900)
    assert proc.returncode == 0, f'{command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout


SMOKE_FLAGS = {
    'softmax': [],
    'twolayernn': ['--hidden-dim', '16'],
    'convnet': ['--hidden-dim', '4', '--kernel-size', '5'],
    'mymodel': ['--hidden-dim', '4', '--kernel-size', '3', '--augment', '--schedule', 'onecycle'],
}


def train(workdir, model, *extra):
    """Run train.py for one short epoch and save its output as <model>.log, as run_<model>.sh would."""
    out = run_ok(workdir, 'python', '-u', 'train.py', '--model', model, '--epochs', '1',
                 '--lr', '1e-4', '--momentum', '0.9', '--batch-size', '25', '--log-interval', '1',
                 '--no-cuda', *SMOKE_FLAGS[model], *extra)
    (workdir / f'{model}.log').write_text(out)
    return out


def assert_png_has_content(path):
    with Image.open(path) as image:
        image.verify()
    pixels = np.asarray(Image.open(path).convert('L'), dtype=float)
    assert pixels.std() > 1.0, f'{path.name} is blank'


# -- a class of submissions graded by `hw1grade batch` --------------------------------------------

# A few visible checks per part and no notebooks: each submission grades in seconds.
FAST = GradeOptions(notebooks=False, visible_only=True, select='test_loss or test_forward')
FAST_FLAGS = ['--no-notebooks', '--visible-only', '--select', FAST.select]
# student -> (part label, expected status)
EXPECTED = {'alice': ('part1', 'graded'), 'bob': ('part2', 'graded'), 'carol': ('part1', 'invalid'),
            'dave': ('part1', 'invalid')}


def statuses(out: Path) -> dict:
    return {p.parent.parent.name: json.loads(p.read_text()) for p in out.glob('*/*/status.json')}


def check_class_outputs(out: Path):
    """Every student once in the gradebook, with the expected part's status, and a valid results.json."""
    book = pd.read_csv(out / 'gradebook.csv')
    assert sorted(book['student']) == sorted(EXPECTED)
    for student, (label, status) in EXPECTED.items():
        row = book.set_index('student').loc[student]
        assert row[f'{label} status'] == status
        assert row['total'] == row['part1 points'] + row['part2 points']
        document = results_of(out / student / label)
        assert document['score'] == row[f'{label} points']
    assert book.set_index('student').loc['alice', 'Q8.1'] == 3.0   # softmax loss and gradient checks
    assert book.set_index('student').loc['bob', 'part2 points'] > 0
    assert list(pd.read_csv(out / 'canvas.csv').columns[:5]) == ['Student', 'ID', 'SIS User ID', 'SIS Login ID',
                                                                  'Section']
    index = (out / 'index.html').read_text()
    for student, (label, _) in EXPECTED.items():
        assert f'href="{student}/{label}/report.html"' in index and (out / student / label / 'report.html').is_file()
    assert 'leaderboard.html' in index and (out / 'leaderboard.html').is_file()


# -- collect_submission.sh: the programs it needs, rendered PDF pages, zip listings ---------------

# What students need besides Python (CI installs them in .ci/run); pdftoppm is the tests' own.
PROGRAMS = ('zip', 'pdftoppm', 'pdftotext', 'pdfimages')


def require_programs():
    """Skip the test where zip, poppler-utils or a browser is missing, except under CI, where they must be there."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if notebook_to_pdf.find_browser() is None:
        missing.append('chromium')
    if missing:
        message = 'missing programs: ' + ', '.join(missing)
        if os.environ.get('CI'):
            pytest.fail('CI must install them (.ci/run): ' + message)
        pytest.skip(message)


def rendered_pages(pdf: Path, scratch: Path) -> list[np.ndarray]:
    """Every page of `pdf` as a grayscale image (H, W) of uint8, rendered by pdftoppm at 30 dpi."""
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(['pdftoppm', '-r', '30', '-gray', str(pdf), str(scratch / 'page')], check=True,
                   capture_output=True)
    return [np.asarray(Image.open(page)) for page in sorted(scratch.glob('page-*.pgm'))]


def assert_every_page_has_ink(pdf: Path, scratch: Path, min_pages: int = 1) -> int:
    """Fail unless pdf has at least min_pages pages and each shows something (not only white); return the count."""
    pages = rendered_pages(pdf, scratch)
    assert len(pages) >= min_pages, f'{pdf.name}: {len(pages)} pages'
    for number, page in enumerate(pages, 1):
        # A blank page is all white; one short line of text already darkens over a hundred pixels.
        assert np.count_nonzero(page < 200) >= 50, f'{pdf.name}: page {number} of {len(pages)} is blank'
    return len(pages)


def pdf_text(pdf: Path) -> str:
    return subprocess.run(['pdftotext', '-layout', str(pdf), '-'], check=True, capture_output=True,
                          text=True).stdout


def pdf_image_count(pdf: Path) -> int:
    """How many raster images the PDF embeds (the notebooks' plots)."""
    listing = subprocess.run(['pdfimages', '-list', str(pdf)], check=True, capture_output=True, text=True).stdout
    return max(0, len(listing.strip().splitlines()) - 2)  # two header lines


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, f'{path} has a corrupt entry'
        return z.namelist()


def listed_in(stderr: str, kind: str) -> set[str]:
    """The file names after `  kind: ` in the warning lines of collect_submission.sh."""
    marker = f'  {kind}: '
    return {line.split(marker, 1)[1].split(' ', 1)[0] for line in stderr.splitlines() if line.startswith(marker)}


def files_under(folder: Path) -> set[str]:
    """Relative paths of the regular files under folder (symlinks not followed)."""
    found = set()
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found.add(path.relative_to(folder).as_posix())
    return found


def plant(folder: Path, *paths: str) -> None:
    """Create each relative path under folder as a small file (parents included)."""
    for relative in paths:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'junk ' + relative.encode())


# -- the students' self-check: check.py built as `hw1grade starter build` builds it, run as students run it --

REFERENCE_CS231N = REFERENCE / '1_cs231n' / 'cs231n'


def build_self_check(dest: Path) -> Path:
    """check.py and selfcheck/ (expected outputs recorded on the reference now) written under dest."""
    selfcheck.write(selfcheck.build_files(), dest)
    return dest


def with_built_extension(part1: Path) -> Path:
    """The reference's built im2col_cython copied into a tree whose .pyx is the reference's (the same
    build): the self-check then does not compile it again for every tree."""
    pyx = part1 / 'cs231n' / 'im2col_cython.pyx'
    if pyx.is_file() and pyx.read_bytes() == (REFERENCE_CS231N / 'im2col_cython.pyx').read_bytes():
        for built in REFERENCE_CS231N.glob('im2col_cython*.so'):
            shutil.copy(built, part1 / 'cs231n' / built.name)
    return part1


def with_cifar10(part1: Path, cifar10_dir: Path) -> Path:
    """The student's cs231n/datasets/cifar-10-batches-py, as get_datasets.sh leaves it (a link here)."""
    target = part1 / 'cs231n' / 'datasets' / 'cifar-10-batches-py'
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(cifar10_dir, target_is_directory=True)
    return part1


def run_self_check(check_root: Path, folder: Path, *, python: str = sys.executable, part: int = 1,
                   select: str | None = None, timeout: int = 600) -> tuple[dict, str]:
    """`python check.py --part N --folder F --json ...` -> (verdicts of the part, the printed table)."""
    out = Path(folder).parent / f'selfcheck-{Path(folder).name}.json'
    argv = [python, str(check_root / 'check.py'), '--part', str(part), '--folder', str(folder), '--json', str(out)]
    if select:
        argv += ['--select', select]
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(argv, cwd=check_root, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.is_file(), proc.stdout + proc.stderr
    return json.loads(out.read_text())[str(part)]['checks'], proc.stdout

# -- numeric gradients: the Part 1 tests' own oracle -----------------------------------------------
# Numeric gradients written for the tests, independent of cs231n.gradient_check.
# Every helper takes a function of no arguments that reads the array `x`; the
# array is perturbed in place, one coordinate at a time, and always restored.

# Relative error that correct float64 code stays well below (it lands between
# 1e-10 and 1e-7); real bugs give errors of order 1e-2 to 1.
TOL = 1e-6

# Settings for property tests that run the naive (Python loop) layers.
slow_examples = settings(max_examples=50, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])


def rel_error(a, b):
    """Relative error of two arrays of one shape, measured on their norms."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def sample_indices(shape, max_checks=None, seed=0):
    """All multi-indices of `shape`, or `max_checks` distinct ones chosen at random."""
    size = int(np.prod(shape))
    flat = np.arange(size)
    if max_checks is not None and size > max_checks:
        flat = np.random.default_rng(seed).choice(size, max_checks, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def partial_derivative(f, x, ix, h=1e-5):
    """Centered difference (f(x + h e_ix) - f(x - h e_ix)) / 2h of a scalar f()."""
    old = x[ix]
    try:
        x[ix] = old + h
        plus = float(f())
        x[ix] = old - h
        minus = float(f())
    finally:
        x[ix] = old
    return (plus - minus) / (2 * h)


def gradient_error(f, x, analytic, max_checks=None, h=1e-5, seed=0):
    """Relative error between `analytic` and the numeric gradient of scalar f()
    with respect to x, on every coordinate or on `max_checks` random ones."""
    analytic = np.asarray(analytic)
    assert analytic.shape == x.shape, (analytic.shape, x.shape)
    indices = sample_indices(x.shape, max_checks, seed)
    numeric = [partial_derivative(f, x, ix, h) for ix in indices]
    return rel_error([analytic[ix] for ix in indices], numeric)


def upstream_loss(forward, dout):
    """The scalar sum(forward() * dout), whose gradient is what a backward
    pass returns when given the upstream gradient dout."""
    return lambda: float(np.sum(forward() * dout))


# -- HTML pages rendered in headless Chromium --------------------------------------------------------

def render(page: Path, scratch: Path) -> tuple[np.ndarray, list[str]]:
    """Screenshot of `page` in headless Chromium (grayscale array) and the console lines it logged."""
    browser = notebook_to_pdf.find_browser()
    if browser is None:
        if os.environ.get('CI'):
            pytest.fail('CI must install chromium (.ci/run)')
        pytest.skip('no Chromium')
    shot = scratch / 'shot.png'
    command = [browser, '--headless', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
               '--no-default-browser-check', f'--user-data-dir={scratch / "profile"}',
               '--host-resolver-rules=MAP * ~NOTFOUND', '--enable-logging=stderr', '--v=0',
               '--window-size=1200,1600', f'--screenshot={shot}', page.resolve().as_uri()]
    if os.geteuid() == 0:
        command.append('--no-sandbox')
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ':CONSOLE' in line]
    return np.asarray(Image.open(shot).convert('L')), console


# -- the starter's texts: what the release zip holds beside the reference ------------------------------

def independent_split(text: str) -> tuple[list[str], list[str]]:
    """(lines outside solution regions, lines inside), by a plain scan of the marker lines."""
    outside, inside, in_region = [], [], False
    for line in text.splitlines():
        if 'BEGIN SOLUTION' in line:
            in_region = True
        elif 'END SOLUTION' in line:
            in_region = False
        elif in_region:
            inside.append(line)
        else:
            outside.append(line)
    return outside, inside


def reference_texts():
    """Every reference source text (notebook cells one by one): (where, text)."""
    for part in starter.PARTS:
        for rel in starter.source_files(REFERENCE / part)[0]:
            path = REFERENCE / part / rel
            if path.suffix == '.ipynb':
                for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
                    yield f'{part}/{rel} cell {index}', cell.source
            elif path.suffix in ('.py', '.pyx', '.sh', '.md'):
                yield f'{part}/{rel}', path.read_text()


def zip_texts(path: Path):
    """Every text in the zip (notebook cells one by one): (name, text)."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith('.ipynb'):
                for index, cell in enumerate(nbformat.reads(data.decode(), as_version=4).cells):
                    yield f'{name} cell {index}', cell.source
            elif name.endswith('.npz'):   # the self-check's stored outputs: the text of their index
                with zipfile.ZipFile(io.BytesIO(data)) as npz:
                    yield f'{name} index', bytes(np.load(io.BytesIO(npz.read('__index__.npy')))).decode()
            elif not name.endswith('.jpg'):
                yield name, data.decode()


# -- a graded class as status.json records (the dashboard, the overrides) -----------------------------

CONV = 'Q8.3/test_conv_backward_naive'


def check(identifier, status='passed', score=1.0, max_score=1.0, message='', measured=None, title='a check'):
    return {'id': identifier, 'question': identifier.split('/')[0], 'title': title, 'number': '8.x.1',
            'status': status, 'score': score, 'max_score': max_score, 'message': message,
            'measured': measured or {}}


def write_status(out: Path, student: str, label: str, status='graded', checks=(), questions=None,
                 notebooks=(), leaderboard=(), message=''):
    questions = questions if questions is not None else {}
    if checks and not questions:
        for c in checks:
            earned, possible = questions.get(c['question'], (0.0, 0.0))
            questions[c['question']] = (earned + c['score'], possible + c['max_score'])
    record = {'student': student, 'label': label, 'part': int(label[-1]), 'status': status, 'message': message,
              'score': round(sum(e for e, _ in questions.values()), 2), 'max_score': 13 if label == 'part1' else 16,
              'questions': questions, 'flags': [], 'leaderboard': list(leaderboard), 'display': '', 'canvas_id': '',
              'sis_id': '', 'email': '', 'checks': list(checks), 'notebook_figures': list(notebooks)}
    folder = out / student / label
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'status.json').write_text(json.dumps(record))
    (folder / 'report.html').write_text(f'<!doctype html><title>{student}</title><h1>{student} {label}</h1>\n'
                                        '<p>Part: points</p>\n')
    return record


# -- notebooks as a submission holds them, and the summary the sandboxed runner writes ------------------

def notebook(*sources, outputs=None):
    """A notebook of code cells after one markdown cell; `outputs`: {code cell position: [texts]}
    saved as stream outputs (what a student's run printed)."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell('# a test notebook'))
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output('stream', name='stdout', text=text)
                        for text in (outputs or {}).get(i, [])]
        nb.cells.append(cell)
    return nb


def summary(**changes):
    data = {'format': SUMMARY_FORMAT, 'finished': True, 'fatal': None, 'seconds': 1.5, 'code_cells': [1, 2, 3],
            'executed': [1, 2], 'running': None,
            'errors': [{'index': 2, 'ename': 'ValueError', 'evalue': 'boom', 'traceback': 'tb'}],
            'probes': {'val_acc': 0.4, 'test_predictions': [1, 2, 3], 'unasked': 1},
            'probe_errors': {'initial_loss': "NameError: name 'loss_initial' is not defined"},
            'budget_ran_out': False}
    data.update(changes)
    return json.dumps(data).encode()
