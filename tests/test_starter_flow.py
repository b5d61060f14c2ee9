"""The starter as students live it: each student step run on the built starter, with the honest outcome.

A student's Python is this venv's; the POSIX tools are hidden from PATH wherever the step has a Python
route (the Windows route), so that route is proven not to need them.
"""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fixtures import tiny_cifar
from graders.course.starter import build_starter, write_tree
from graders.notebooks.runner import execute_notebook
from tests.helpers import assert_every_page_has_ink, listed_in, require_programs


@pytest.fixture(scope='module')
def starter(tmp_path_factory):
    """The starter tree, as students unpack it."""
    root = tmp_path_factory.mktemp('starter')
    write_tree(build_starter(), root)
    return root


@pytest.fixture(scope='module')
def tiny_archive(tmp_path_factory):
    """A CIFAR-10 archive in the official layout, 1100 training and 60 test images."""
    base = tmp_path_factory.mktemp('tiny-archive')
    return tiny_cifar.write_tiny_cifar_archive(base / 'cifar-10-python.tar.gz', n_train_per_batch=220, n_test=60)


def python_only_path(folder: Path) -> str:
    """A PATH holding only `python` (this venv's): no sh, zip, tar, curl or browser."""
    folder.mkdir(exist_ok=True)
    script = folder / 'python'
    script.write_text(f'#!{sys.executable}\nimport os, sys\n'
                      f'os.execv({sys.executable!r}, [{sys.executable!r}] + sys.argv[1:])\n')
    script.chmod(0o755)
    return str(folder)


def run(cwd: Path, argv, path: str | None = None, timeout: float = 600, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ('CHROME', 'HW1_CIFAR10_ARCHIVE')}
    environ['PATH'] = path if path is not None else f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}'
    environ.update(env)
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_crashing_train_py_leaves_its_traceback_in_the_log_and_fails_the_script(starter, tiny_archive, tmp_path):
    part2 = tmp_path / '2_pytorch'
    shutil.copytree(starter / '2_pytorch', part2)
    proc = run(part2, ['sh', 'run_softmax.sh'], HW1_CIFAR10_ARCHIVE=str(tiny_archive))
    assert proc.returncode != 0, 'the stub Softmax raises: the script must fail with train.py'
    log = (part2 / 'softmax.log').read_text()
    assert 'Traceback' in log and 'NotImplementedError' in log and 'Softmax' in log, log[-2000:]

    # The plotting notebook refuses the empty log instead of saving blank plots.
    notebook = execute_notebook(part2 / 'softmax-classifier.ipynb', part2, timeout_per_cell=300)
    assert notebook.ok, notebook.errors
    printed = ''.join(o.get('text', '') for c in notebook.notebook.cells if c.cell_type == 'code'
                      for o in c.get('outputs', []))
    assert 'softmax.log has no training lines, so no plot was saved' in printed
    assert not list(part2.glob('softmax_*.png'))


def test_train_py_options_have_defaults_and_model_is_required(starter, tmp_path):
    part2 = starter / '2_pytorch'
    helped = run(part2, [sys.executable, 'train.py', '--help'], timeout=300)
    assert helped.returncode == 0
    for default in ('(default: 0.01)', '(default: 1)', '(default: 64)', '--log FILE'):
        assert default in ' '.join(helped.stdout.split()), helped.stdout
    missing = run(part2, [sys.executable, 'train.py', '--epochs', '1'], timeout=300)
    assert missing.returncode == 2 and 'the following arguments are required: --model' in missing.stderr


def test_a_failed_download_says_what_to_do_without_a_traceback(starter, tmp_path):
    part2 = tmp_path / '2_pytorch'
    shutil.copytree(starter / '2_pytorch', part2)
    broken = tmp_path / 'broken.tar.gz'
    broken.write_bytes(b'not an archive')
    proc = run(part2, [sys.executable, 'train.py', '--model', 'softmax', '--log', 'softmax.log'], timeout=300,
               HW1_CIFAR10_ARCHIVE=str(broken))
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr
    assert 'could not get CIFAR-10' in proc.stderr and 'HW1_CIFAR10_ARCHIVE' in proc.stderr
    assert 'hw1grade' not in proc.stderr, 'students have no hw1grade: name their own tools only'
    assert 'could not get CIFAR-10' in (part2 / 'softmax.log').read_text()


@pytest.mark.slow
def test_collecting_the_untouched_starter_without_posix_tools_or_browser_reports_every_unfinished_part(
        starter, tmp_path):
    """The Windows route (python only on PATH), no browser: both zips are made, and every stub is listed."""
    require_programs()   # pdftoppm, to look at the plain PDFs
    path = python_only_path(tmp_path / 'bin')
    for part, zip_name in (('1_cs231n', '1_cs231n.zip'), ('2_pytorch', '2_pytorch.zip')):
        folder = tmp_path / part
        shutil.copytree(starter / part, folder)
        (folder / '.venv').mkdir()
        (folder / '.venv' / 'pyvenv.cfg').write_text('home = /usr/bin\n')
        proc = run(folder, ['python', 'collect_submission.py'], path=path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        with zipfile.ZipFile(folder / zip_name) as z:
            names = z.namelist()
        assert names and not [n for n in names if n.startswith('.venv/')]
        stubs = {entry.split(':')[0] for entry in listed_in(proc.stderr, 'stub')}
        if part == '1_cs231n':
            assert {'cs231n/layers.py', 'cs231n/classifiers/softmax.py', 'cs231n/classifier_trainer.py',
                    'cs231n/classifiers/neural_net.py', 'cs231n/classifiers/linear_classifier.py'} <= stubs
            assert listed_in(proc.stderr, 'not run') == {'softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb',
                                                          'convnet.ipynb'}
            assert 'plain ones made by matplotlib' in proc.stderr
            for pdf in ('softmax.pdf', 'layers.pdf'):
                assert pdf in names
                assert_every_page_has_ink(folder / pdf, tmp_path / 'pages' / pdf)
        else:
            assert {'models/softmax.py', 'models/twolayernn.py', 'models/convnet.py', 'models/mymodel.py',
                    'train.py'} <= stubs
            assert {'softmax.log', 'predictions.csv'} <= listed_in(proc.stderr, 'missing')
            assert 'extra.md' in names, 'the template is there to fill in'
