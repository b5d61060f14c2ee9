"""Part 1's collect_submission.sh, notebook_to_pdf.py and `hw1grade example build`, run for real: a headless
Chromium prints the PDFs, pdftoppm renders every page, zip makes the zips (Part 2: tests/part2/)."""
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from graders import cli
from graders.course.example import FIXED_DATE, NOT_COPIED, REFERENCE_PART1, normalize_zip, part1_workdir
from graders.course.part2_runs import run_in
from graders.notebooks.runner import NOTEBOOKS, execute_notebook
from tests.helpers import (
    assert_every_page_has_ink,
    files_under,
    listed_in,
    pdf_image_count,
    pdf_text,
    plant,
    require_programs,
    zip_names,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PART1 = REPO / 'examples' / '1_cs231n.zip'
CONVERTER = REFERENCE_PART1 / 'notebook_to_pdf.py'
PDFS = [name.replace('.ipynb', '.pdf') for name in NOTEBOOKS]
# Stray files of real submissions that the zip must leave out.
JUNK = ('.git/config', '__pycache__/load_cifar10_tvt.cpython-311.pyc', 'cs231n/__pycache__/layers.cpython-37.pyc',
        '.ipynb_checkpoints/softmax-checkpoint.ipynb', 'cs231n/build/temp.linux-x86_64-3.7/im2col_cython.o',
        'cs231n/im2col_cython.c', 'cs231n/im2col_cython.cpython-311-x86_64-linux-gnu.so',
        'cs231n/im2col_cython.cp37-win_amd64.pyd', 'cs231n/datasets/cifar-10-batches-py/data_batch_1',
        'cs231n/datasets/cifar-10-python.tar.gz', 'data/cifar-10-batches-py/test_batch', 'best_model.pt',
        '1_cs231n.zip', 'old/1_cs231n.zip')


@pytest.fixture(autouse=True)
def programs():
    require_programs()


@pytest.fixture(scope='module')
def example_notebooks(tmp_path_factory):
    """The four executed reference notebooks, taken from the committed example submission."""
    assert EXAMPLE_PART1.is_file(), 'examples/1_cs231n.zip is missing: hw1grade example build --parts 1'
    folder = tmp_path_factory.mktemp('executed')
    with zipfile.ZipFile(EXAMPLE_PART1) as z:
        for name in NOTEBOOKS:
            (folder / name).write_bytes(z.read(name))
    return folder


def synthetic_notebook(path: Path) -> Path:
    """Execute (nbclient) a notebook with a Markdown title, a plot and 150 lines of output; save it at path."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# Synthetic notebook\nLoss $L = \\frac{1}{N}\\sum_i L_i$.'),
                nbformat.v4.new_code_cell('import matplotlib.pyplot as plt\nimport numpy as np\n%matplotlib inline\n'
                                          'x = np.linspace(0, 6, 200)\nplt.fill_between(x, np.sin(x), -1)\n'
                                          'plt.title("a filled sine")\nplt.show()'),
                nbformat.v4.new_code_cell('for i in range(150):\n    print("output line", i)')]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, path)
    run = execute_notebook(path, path.parent, timeout_per_cell=120)
    assert run.ok, run.errors
    nbformat.write(run.notebook, path)
    return path


def collect(workdir: Path, shell: str = 'sh') -> subprocess.CompletedProcess:
    """Run the folder's collect_submission.sh with `shell`, the venv's python first on PATH."""
    return run_in(workdir, shell, 'collect_submission.sh', timeout=600)


@pytest.mark.notebook
def test_a_notebook_becomes_a_pdf_with_its_plot_and_all_its_output(tmp_path):
    notebook = synthetic_notebook(tmp_path / 'synthetic.ipynb')
    proc = run_in(tmp_path, 'python', str(CONVERTER), notebook.name, timeout=300)
    assert proc.returncode == 0, proc.stderr
    pdf = tmp_path / 'synthetic.pdf'
    assert assert_every_page_has_ink(pdf, tmp_path / 'pages', min_pages=2) >= 2
    text = pdf_text(pdf)
    assert 'Synthetic notebook' in text and 'output line 0' in text and 'output line 149' in text
    assert pdf_image_count(pdf) >= 1, 'the plot is embedded'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['pages', 'synthetic.ipynb', 'synthetic.pdf'], \
        'no scratch files left next to the notebook'


def test_a_notebook_without_outputs_is_converted_with_a_warning(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# Not run yet'), nbformat.v4.new_code_cell('x = 1')]
    nbformat.write(nb, tmp_path / 'fresh.ipynb')
    (tmp_path / 'broken.ipynb').write_text('{ not json')
    proc = run_in(tmp_path, 'python', str(CONVERTER), 'fresh.ipynb', 'broken.ipynb', timeout=300)
    assert proc.returncode == 1, 'one notebook of two failed'
    assert 'fresh.ipynb has no outputs' in proc.stderr
    assert 'error: broken.ipynb' in proc.stderr
    assert_every_page_has_ink(tmp_path / 'fresh.pdf', tmp_path / 'pages')
    assert not (tmp_path / 'broken.pdf').exists()


def tools_only_bin(folder: Path, *programs: str) -> str:
    """A PATH of one folder with this python and links to the given programs, and nothing else (no browser)."""
    folder.mkdir()
    # A script, not a link: a link to the venv's python outside the venv would not find the venv.
    (folder / 'python').write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (folder / 'python').chmod(0o755)
    for program in programs:
        (folder / program).symlink_to(shutil.which(program))
    return str(folder)


def test_without_a_browser_or_zip_program_the_zip_is_made_with_plain_pdfs(tmp_path):
    """No Chrome, no `zip` program: the collector still writes the zip, with PDFs made by matplotlib."""
    workdir = tmp_path / '1_cs231n'
    shutil.copytree(REFERENCE_PART1, workdir, ignore=shutil.ignore_patterns(*NOT_COPIED))
    with zipfile.ZipFile(EXAMPLE_PART1) as z:
        (workdir / 'layers.ipynb').write_bytes(z.read('layers.ipynb'))
    path = tools_only_bin(tmp_path / 'bin', 'dirname')
    env = {k: v for k, v in os.environ.items() if k != 'CHROME'}
    proc = subprocess.run(['/bin/sh', 'collect_submission.sh'], cwd=workdir, env={**env, 'PATH': path},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr   # three notebooks of the reference were never run
    assert 'no Chrome or Chromium found' in proc.stderr and 'apt-get install chromium' in proc.stderr
    assert 'plain ones made by matplotlib' in proc.stderr
    names = set(zip_names(workdir / '1_cs231n.zip'))
    assert set(PDFS) <= names and 'cs231n/layers.py' in names
    assert_every_page_has_ink(workdir / 'layers.pdf', tmp_path / 'pages')
    assert pdf_image_count(workdir / 'layers.pdf') >= 1, 'the kitten/puppy and other plots are embedded'
    assert 'relu_forward' in pdf_text(workdir / 'layers.pdf')
    proc = subprocess.run(['/bin/sh', 'collect_submission.sh'], cwd=workdir,
                          env={**env, 'PATH': path, 'CHROME': '/nowhere/chrome'}, capture_output=True, text=True,
                          timeout=600)
    assert 'CHROME=/nowhere/chrome is not a program' in proc.stderr and (workdir / '1_cs231n.zip').is_file()


def test_unfinished_work_is_reported_and_environments_are_never_packed(tmp_path):
    """Failed cells, unrun cells and leftover stubs are listed; a virtual environment stays out of the zip."""
    workdir = tmp_path / '1_cs231n'
    shutil.copytree(REFERENCE_PART1, workdir, ignore=shutil.ignore_patterns(*NOT_COPIED))
    with zipfile.ZipFile(EXAMPLE_PART1) as z:
        for name in NOTEBOOKS:
            (workdir / name).write_bytes(z.read(name))
    nb = nbformat.read(workdir / 'softmax.ipynb', as_version=4)
    code = [c for c in nb.cells if c.cell_type == 'code']
    code[1].outputs = [nbformat.v4.new_output('error', ename='NotImplementedError',
                                              evalue='softmax_loss_vectorized: compute the loss', traceback=[])]
    code[-1].outputs, code[-1].execution_count = [], None
    nbformat.write(nb, workdir / 'softmax.ipynb')
    layers = workdir / 'cs231n' / 'layers.py'
    layers.write_text(layers.read_text() + '\n\ndef extra():\n    # TODO: extra: write it\n'
                      "    raise NotImplementedError('extra: write it')\n")
    (workdir / '.venv' / 'lib').mkdir(parents=True)
    (workdir / '.venv' / 'pyvenv.cfg').write_text('home = /usr/bin\n')
    (workdir / '.venv' / 'lib' / 'big.py').write_text('x = 1\n')
    (workdir / 'myenv' / 'conda-meta').mkdir(parents=True)
    (workdir / 'myenv' / 'python.py').write_text('x = 1\n')
    proc = run_in(workdir, 'python', 'collect_submission.py', '--folder', '.', timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert listed_in(proc.stderr, 'failed') == {'softmax.ipynb'}
    assert 'NotImplementedError: softmax_loss_vectorized' in proc.stderr
    assert listed_in(proc.stderr, 'unrun cell') == {'softmax.ipynb'}
    stubs = listed_in(proc.stderr, 'stub')
    assert len(stubs) == 1 and stubs.pop().startswith('cs231n/layers.py:'), proc.stderr
    names = zip_names(workdir / '1_cs231n.zip')
    assert not [n for n in names if n.startswith(('.venv/', 'myenv/'))], names
    assert 'cs231n/classifiers/linear_classifier.py' in names, "the given base class's raise is not a stub"


@pytest.mark.slow
def test_part1_zip_has_the_folder_at_its_root_four_rendered_pdfs_and_no_junk(tmp_path, example_notebooks):
    workdir = part1_workdir(tmp_path / '1_cs231n', executed_from=example_notebooks)
    wanted = files_under(workdir) | set(PDFS)
    plant(workdir, *JUNK)
    (workdir / 'cs231n' / 'datasets' / 'linked-cifar').symlink_to(workdir / 'data', target_is_directory=True)
    started = time.monotonic()
    proc = collect(workdir, 'bash')
    print(f'collect_submission.sh (4 notebooks) took {time.monotonic() - started:.1f} s')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count('warning') == 0, proc.stderr
    names = zip_names(workdir / '1_cs231n.zip')
    assert set(names) == wanted, f'extra: {set(names) - wanted}; missing: {wanted - set(names)}'
    assert names == sorted(names) and len(names) == len(set(names))
    assert 'cs231n/layers.py' in names and 'cs231n/classifiers/convnet.py' in names
    with zipfile.ZipFile(workdir / '1_cs231n.zip') as z:
        assert z.read('cs231n/layers.py') == (REFERENCE_PART1 / 'cs231n' / 'layers.py').read_bytes()
        for pdf in PDFS:
            assert z.read(pdf) == (workdir / pdf).read_bytes()
    for pdf in PDFS:
        assert_every_page_has_ink(workdir / pdf, tmp_path / 'pages' / pdf)
        assert pdf_image_count(workdir / pdf) >= 1, f'{pdf} shows no plot or image output'
    assert 'two-layer' in pdf_text(workdir / 'two_layer_net.pdf').lower()


def test_missing_part1_deliverables_are_listed_and_the_zip_is_still_made(tmp_path):
    workdir = tmp_path / '1_cs231n'
    shutil.copytree(REFERENCE_PART1, workdir, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (workdir / 'convnet.ipynb').unlink()
    (workdir / 'cs231n' / 'layers.py').unlink()
    proc = collect(workdir, 'sh')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'WARNING: 1_cs231n.zip was made, but these deliverables are missing or incomplete:' in proc.stderr
    assert listed_in(proc.stderr, 'missing') == {'convnet.ipynb', 'cs231n/layers.py'}
    assert listed_in(proc.stderr, 'not run') == {'softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb'}, \
        'the committed notebooks have no outputs'
    names = set(zip_names(workdir / '1_cs231n.zip'))
    assert {'softmax.pdf', 'two_layer_net.pdf', 'layers.pdf', 'cs231n/fast_layers.py'} <= names
    assert not {'convnet.pdf', 'cs231n/layers.py'} & names


def test_normalized_zips_of_the_same_files_are_identical(tmp_path):
    for copy, mtime in (('a', 1_600_000_000), ('b', 1_700_000_000)):
        plant(tmp_path / copy, 'z.txt', 'cs231n/layers.py', 'run.sh')
        (tmp_path / copy / 'run.sh').chmod(0o755)
        for path in (tmp_path / copy).rglob('*'):
            os.utime(path, (mtime, mtime))
    subprocess.run(['zip', '-q', '-r', '../a.zip', 'z.txt', 'cs231n', 'run.sh'], cwd=tmp_path / 'a', check=True)
    subprocess.run(['zip', '-q', '-r', '../b.zip', 'run.sh', 'cs231n', 'z.txt'], cwd=tmp_path / 'b', check=True)
    a = normalize_zip(tmp_path / 'a.zip', tmp_path / 'a-normal.zip')
    b = normalize_zip(tmp_path / 'b.zip', tmp_path / 'b-normal.zip')
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert z.namelist() == ['cs231n/layers.py', 'run.sh', 'z.txt'], 'files only, sorted'
        assert {info.date_time for info in z.infolist()} == {FIXED_DATE}
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in z.infolist()}
        assert modes == {'cs231n/layers.py': 0o644, 'run.sh': 0o755, 'z.txt': 0o644}


@pytest.mark.slow
def test_example_build_of_part1_from_executed_notebooks(tmp_path, example_notebooks, capsys):
    assert cli.main(['example', 'build', '--parts', '1', '--part1-from', str(example_notebooks),
                     '--out', str(tmp_path / 'examples')]) == 0
    built = tmp_path / 'examples' / '1_cs231n.zip'
    assert f'wrote {built}' in capsys.readouterr().out
    names = zip_names(built)
    with zipfile.ZipFile(built) as z:
        assert {info.date_time for info in z.infolist()} == {FIXED_DATE}
        for name in NOTEBOOKS:
            assert z.read(name) == (example_notebooks / name).read_bytes()
    reference = part1_workdir(tmp_path / 'copy', executed_from=example_notebooks)
    assert set(names) == files_under(reference) | set(PDFS), 'every file of the reference, plus the PDFs'


def test_example_build_reports_a_missing_source_folder(tmp_path, capsys):
    assert cli.main(['example', 'build', '--parts', '1', '--part1-from', str(tmp_path / 'nowhere'),
                     '--out', str(tmp_path / 'examples')]) == 2
    assert 'hw1grade: error:' in capsys.readouterr().err
