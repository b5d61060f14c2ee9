"""The students' starter: generated from the reference, committed as student/, zipped for release.

It must match what is committed, give none of the solution away, import, and fail with a clear
NotImplementedError exactly where students have work to do (functions and notebooks alike).
"""
import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from fixtures import tiny_cifar
from graders.cli import main
from graders.course import starter
from graders.data import cifar10
from graders.files import ZIP_DATE
from graders.notebooks.runner import execute_notebook
from tests.helpers import independent_split, reference_texts, zip_texts

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / 'student'
REFERENCE = ROOT / 'reference'

# Files run as programs, not imported: importing them would do their work (or exit on argv).
SCRIPTS = {'1_cs231n/cs231n/setup.py', '1_cs231n/notebook_to_pdf.py', '2_pytorch/train.py',
           '2_pytorch/test.py', '2_pytorch/make_pdf.py'}
# The modules that need the Cython extension; without it they must say how to build it.
NEEDS_EXTENSION = {'cs231n.fast_layers', 'cs231n.layer_utils', 'cs231n.classifiers.convnet'}


@pytest.fixture(scope='module')
def generated():
    return starter.build_starter()


@pytest.fixture(scope='module')
def student_tree(tmp_path_factory, generated):
    """The generated starter written to a scratch folder (never the committed student/)."""
    out = tmp_path_factory.mktemp('starter')
    starter.write_tree(generated, out)
    return out


def with_built_extension(part1: Path) -> Path:
    """Copy the reference's built im2col_cython into a starter's 1_cs231n (same .pyx, so the same build)."""
    source = REFERENCE / '1_cs231n' / 'cs231n'
    assert (part1 / 'cs231n' / 'im2col_cython.pyx').read_bytes() == (source / 'im2col_cython.pyx').read_bytes()
    for built in source.glob('im2col_cython*.so'):
        shutil.copy(built, part1 / 'cs231n' / built.name)
    return part1


def tree_files(root: Path) -> dict[str, tuple[bytes, bool]]:
    """The starter files under root (outputs and builds ignored): path -> (bytes, executable)."""
    names = [n for n in starter.source_files(root, tracked_only=False)[0]]
    return {n: ((root / n).read_bytes(), bool((root / n).stat().st_mode & 0o100)) for n in names}


def describe_difference(name: str, committed: bytes, fresh: bytes, limit: int = 20) -> str:
    """A few lines of unified diff between the committed and the freshly generated file."""
    try:
        diff = difflib.unified_diff(committed.decode().splitlines(), fresh.decode().splitlines(),
                                    f'student/{name} (committed)', f'{name} (generated now)', lineterm='', n=1)
    except UnicodeDecodeError:
        return f'  {name}: binary content differs'
    lines = list(diff)
    more = f'\n    ... ({len(lines) - limit} more diff lines)' if len(lines) > limit else ''
    return '\n'.join('    ' + line for line in lines[:limit]) + more


def test_committed_student_tree_is_what_the_generator_writes(tmp_path):
    assert main(['starter', 'generate', '--out', str(tmp_path)]) == 0
    fresh, committed = tree_files(tmp_path), tree_files(STUDENT)
    problems = []
    for name in sorted(set(fresh) | set(committed)):
        if name not in committed:
            problems.append(f'missing from student/: {name}')
        elif name not in fresh:
            problems.append(f'in student/ but no longer generated: {name}')
        elif committed[name][0] != fresh[name][0]:
            problems.append(f'differs: student/{name}\n'
                            + describe_difference(name, committed[name][0], fresh[name][0]))
        elif committed[name][1] != fresh[name][1]:
            problems.append(f'executable bit differs: student/{name}')
    assert not problems, ('student/ is out of date with the reference: run `hw1grade starter generate` '
                          'and commit student/.\n' + '\n'.join(problems))


def test_generation_is_deterministic(generated):
    assert starter.build_starter() == generated


def test_tree_layout(generated):
    assert {'README.md', 'SETUP.md', 'requirements.txt'} <= set(generated)
    for part in starter.PARTS:
        assert any(name.startswith(part + '/') for name in generated)
    # No build output, data, cache or run output is handed out.
    for name in generated:
        assert not re.search(r'(^|/)(__pycache__|build|cifar-10-batches-py|\.ipynb_checkpoints)/', name), name
        assert not re.search(r'\.(so|pyd|o|c|pyc|pt|log|png|pdf|zip)$', name), name
    # The reference's symlink became a plain copy of its target.
    assert (STUDENT / '2_pytorch' / 'vis_utils.py').is_file()
    assert not (STUDENT / '2_pytorch' / 'vis_utils.py').is_symlink()
    assert generated['2_pytorch/vis_utils.py'].data == generated['1_cs231n/cs231n/vis_utils.py'].data
    for script in ('2_pytorch/run_softmax.sh', '1_cs231n/cs231n/datasets/get_datasets.sh'):
        assert generated[script].executable
    assert not generated['1_cs231n/cs231n/layers.py'].executable


def test_notebooks_have_no_outputs(generated):
    names = [name for name in generated if name.endswith('.ipynb')]
    assert len(names) == 6
    for name in names:
        nb = nbformat.reads(generated[name].data.decode(), as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == 'code':
                assert cell.outputs == [] and cell.execution_count is None, name


def test_requirements_follow_pyproject(generated):
    requirements = generated['requirements.txt'].data.decode().splitlines()
    pyproject = (ROOT / 'pyproject.toml').read_text()
    for pin in ('torch==', 'torchvision==', 'numpy', 'Cython'):
        pinned = re.search(rf'"({re.escape(pin)}[^"]*)"', pyproject)[1]
        assert pinned in requirements


# ---- the release zip

def test_zip_is_reproducible_and_holds_the_starter(tmp_path, generated):
    first, second = tmp_path / 'a', tmp_path / 'b'
    assert main(['starter', 'build', '--out', str(first)]) == 0
    assert main(['starter', 'build', '--out', str(second)]) == 0
    data = (first / starter.ZIP_NAME).read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256((second / starter.ZIP_NAME).read_bytes()).digest()
    with zipfile.ZipFile(first / starter.ZIP_NAME) as zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        # The starter, plus the students' self-check (graders/course/selfcheck.py; tests/test_selfcheck.py).
        self_check = {name for name in names if name.removeprefix('assignment/') not in generated}
        assert set(names) - self_check == {f'assignment/{name}' for name in generated}
        assert 'assignment/check.py' in self_check and 'assignment/selfcheck/part1/expected.npz' in self_check
        assert all(name.startswith(('assignment/check.py', 'assignment/selfcheck/')) for name in self_check)
        for info in infos:
            assert info.date_time == ZIP_DATE
            mode = info.external_attr >> 16
            name = info.filename.removeprefix('assignment/')
            if info.filename in self_check:
                assert mode == 0o100644, info.filename
                continue
            assert mode == (0o100755 if generated[name].executable else 0o100644), info.filename
            assert zf.read(info) == generated[name].data
    assert (0o100755, 'assignment/2_pytorch/run_softmax.sh') in {
        (info.external_attr >> 16, info.filename) for info in infos}


def test_no_solution_text_leaks_into_the_zip(tmp_path):
    assert main(['starter', 'build', '--out', str(tmp_path)]) == 0
    starter_lines = {}
    for name, text in zip_texts(tmp_path / starter.ZIP_NAME):
        assert not re.search(r'(BEGIN|END) SOLUTION|STUB:', text), f'{name}: a solution marker is left'
        for line in text.splitlines():
            starter_lines.setdefault(line.strip(), name)
    # A line may be in the starter if the reference has it outside any region (given code) or if
    # a stub says it; any other line of a region is solution text.
    given = {line.strip() for _, text in reference_texts() for line in independent_split(text)[0]}
    given |= {line.strip() for region in starter.reference_regions() for line in region.stub}
    checked, leaks = 0, []
    for where, text in reference_texts():
        for line in independent_split(text)[1]:
            line = line.strip()
            if len(line) < 10 or line in given or line.startswith(('# STUB:', '<!-- STUB:')):
                continue
            checked += 1
            if line in starter_lines:
                leaks.append(f'{where}: {line!r} is in {starter_lines[line]}')
    assert checked > 200, 'the check must see the solution lines'
    assert not leaks, 'solution text in the starter:\n' + '\n'.join(leaks)


def test_every_region_holds_some_solution():
    regions = starter.reference_regions()
    assert len(regions) >= 40
    for region in regions:
        assert any(line.strip() for line in region.body), f'{region.where}: empty region'


# ---- markers

def test_marker_parsing_and_rendering():
    text = textwrap.dedent('''\
        def f(x):
            """Doc."""
            # BEGIN SOLUTION: f: return twice x
            y = 2 * x
            # END SOLUTION
            return y


        # BEGIN SOLUTION
        def helper():
            pass
        # END SOLUTION


        def g():
            # BEGIN SOLUTION
            # STUB: return 0
            # STUB:
            return 1
            # END SOLUTION
        ''')
    parts = starter.parse_regions(text, starter.PYTHON, 'm.py')
    regions = [p for p in parts if isinstance(p, starter.Region)]
    assert [(r.name, r.stub, r.body) for r in regions] == [
        ('f', (), ('    y = 2 * x',)), (None, (), ('def helper():', '    pass')),
        (None, ('return 0', ''), ('    return 1',))]
    assert starter.render(parts) == textwrap.dedent('''\
        def f(x):
            """Doc."""
            # TODO: f: return twice x
            raise NotImplementedError('f: return twice x')
            return y


        def g():
            return 0

        ''')


@pytest.mark.parametrize('text, error', [
    ('# BEGIN SOLUTION\nx = 1\n', 'never closed'),
    ('x = 1\n# END SOLUTION\n', 'marker outside a region'),
    ('# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n', 'marker inside the region'),
    ('#BEGIN SOLUTION\nx = 1\n#END SOLUTION\n', 'malformed'),
    ('# BEGIN SOLUTION\nx = 1\n# STUB: x = 0\n# END SOLUTION\n', 'marker inside the region'),
])
def test_malformed_markers_are_errors(text, error):
    with pytest.raises(starter.MarkerError, match=error):
        starter.parse_regions(text, starter.PYTHON, 'm.py')


def test_shell_and_markdown_regions_cannot_raise():
    with pytest.raises(starter.MarkerError, match='cannot raise'):
        starter.parse_regions('# BEGIN SOLUTION: x: y\necho\n# END SOLUTION', starter.SHELL, 'r.sh')
    parts = starter.parse_regions('Intro\n<!-- BEGIN SOLUTION -->\n<!-- STUB: Your turn. -->\nWe found 42.\n'
                                  '<!-- END SOLUTION -->', starter.MARKDOWN, 'n.ipynb cell 1')
    assert starter.render(parts) == 'Intro\nYour turn.'


def test_a_student_file_without_regions_is_refused(tmp_path):
    """A file where students write code, with its markers lost, must not hand out its solution."""
    for part in starter.PARTS:
        for rel in starter.source_files(REFERENCE / part)[0]:
            dest = tmp_path / part / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REFERENCE / part / rel, dest)
    softmax = tmp_path / '2_pytorch' / 'models' / 'softmax.py'
    softmax.write_text(''.join(line for line in softmax.read_text().splitlines(keepends=True)
                               if 'SOLUTION' not in line))
    with pytest.raises(starter.MarkerError, match='models/softmax.py: students write code in this file'):
        starter.build_starter(reference=tmp_path)


# ---- the starter runs, and stops where students have work to do

def run_python(cwd: Path, code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run code with this interpreter in cwd, with nothing of the repository on its path."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([sys.executable, '-c', code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def importable_modules(part_dir: Path, part: str) -> list[str]:
    """The dotted names of the part's Python modules that are not SCRIPTS."""
    names = []
    for rel in starter.source_files(part_dir, tracked_only=False)[0]:
        if rel.endswith('.py') and f'{part}/{rel}' not in SCRIPTS:
            names.append(rel.removesuffix('.py').removesuffix('/__init__').replace('/', '.'))
    return sorted(names)


IMPORT_ALL = '''
import importlib, json, os
errors = {}
for name in MODULES:
    try:
        module = importlib.import_module(name)
        # the starter's own module, not one found elsewhere on the path
        assert os.path.realpath(module.__file__).startswith(os.path.realpath('.')), module.__file__
    except Exception as e:
        errors[name] = '%s: %s' % (type(e).__name__, e)
print(json.dumps(errors))
'''


def import_errors(part_dir: Path, modules: list[str]) -> dict[str, str]:
    """Import every module in a fresh interpreter (cwd = part_dir); name -> error for those that failed."""
    proc = run_python(part_dir, f'MODULES = {modules!r}\n' + IMPORT_ALL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_part1_modules_import_without_the_extension(tmp_path, generated):
    starter.write_tree(generated, tmp_path)
    part1 = tmp_path / '1_cs231n'
    modules = importable_modules(part1, '1_cs231n')
    assert {'cs231n.layers', 'cs231n.classifiers.softmax', 'load_cifar10_tvt'} <= set(modules)
    errors = import_errors(part1, modules)
    assert set(errors) == NEEDS_EXTENSION, errors
    for error in errors.values():
        assert error.startswith('ImportError') and 'python setup.py build_ext --inplace' in error


def test_part1_modules_import_with_the_extension(tmp_path, generated):
    starter.write_tree(generated, tmp_path)
    part1 = with_built_extension(tmp_path / '1_cs231n')
    assert import_errors(part1, importable_modules(part1, '1_cs231n')) == {}


@pytest.mark.slow
def test_part2_modules_import(student_tree):
    part2 = student_tree / '2_pytorch'
    modules = importable_modules(part2, '2_pytorch')
    assert {'models', 'models.mymodel', 'cifar10', 'vis_utils'} <= set(modules)
    assert import_errors(part2, modules) == {}


# What each stub does when called: label -> code; the label's first word is the region's name.
PART1_CALLS = {
    'softmax_loss_vectorized': 'from cs231n.classifiers.softmax import softmax_loss_vectorized\n'
                               'softmax_loss_vectorized(np.zeros((3, 5)), X_cols, y, 0.1)',
    'LinearClassifier.train': 'from cs231n.classifiers.linear_classifier import Softmax\n'
                              'Softmax().train(X_cols, y, num_iters=2, batch_size=2)',
    'LinearClassifier.predict': 'from cs231n.classifiers.linear_classifier import Softmax\n'
                                'clf = Softmax(); clf.W = np.zeros((3, 5)); clf.predict(X_cols)',
    'two_layer_net': 'from cs231n.classifiers.neural_net import init_two_layer_model, two_layer_net\n'
                     'two_layer_net(X_rows, init_two_layer_model(5, 4, 3), y)',
    'ClassifierTrainer.train momentum': 'from cs231n.classifier_trainer import ClassifierTrainer\n'
                                        'ClassifierTrainer().train(X_rows, y, X_rows, y, {"W": np.ones((5, 3))}, '
                                        'linear_loss, momentum=0.9, update="momentum", num_epochs=1, batch_size=2)',
    'ClassifierTrainer.train rmsprop': 'from cs231n.classifier_trainer import ClassifierTrainer\n'
                                       'ClassifierTrainer().train(X_rows, y, X_rows, y, {"W": np.ones((5, 3))}, '
                                       'linear_loss, update="rmsprop", num_epochs=1, batch_size=2)',
    'affine_forward': 'from cs231n.layers import affine_forward\naffine_forward(x4, np.ones((75, 2)), np.ones(2))',
    'affine_backward': 'from cs231n.layers import affine_backward\n'
                       'affine_backward(np.ones((4, 2)), (x4, np.ones((75, 2)), np.ones(2)))',
    'relu_forward': 'from cs231n.layers import relu_forward\nrelu_forward(x4)',
    'relu_backward': 'from cs231n.layers import relu_backward\nrelu_backward(x4, x4)',
    'conv_forward_naive': 'from cs231n.layers import conv_forward_naive\n'
                          'conv_forward_naive(x4, np.ones((2, 3, 3, 3)), np.ones(2), conv_param)',
    'conv_backward_naive': 'from cs231n.layers import conv_backward_naive\n'
                           'conv_backward_naive(np.ones((4, 2, 5, 5)), '
                           '(x4, np.ones((2, 3, 3, 3)), np.ones(2), conv_param))',
    'max_pool_forward_naive': 'from cs231n.layers import max_pool_forward_naive\n'
                              'max_pool_forward_naive(x4, pool_param)',
    'max_pool_backward_naive': 'from cs231n.layers import max_pool_backward_naive\n'
                               'max_pool_backward_naive(np.ones((4, 3, 2, 2)), (x4, pool_param))',
}
PART1_SETUP = '''
import numpy as np
X_cols, X_rows, y = np.ones((5, 4)), np.ones((4, 5)), np.array([0, 1, 2, 0])
x4 = np.ones((4, 3, 5, 5))
conv_param, pool_param = {'stride': 1, 'pad': 1}, {'pool_height': 2, 'pool_width': 2, 'stride': 2}
def linear_loss(X, model, y=None, reg=0.0):
    scores = X.dot(model['W'])
    return scores if y is None else (float((scores ** 2).sum()), {'W': 2 * X.T.dot(scores)})
'''
PART2_CALLS = {
    f'{cls}.{method}': f'from models.{module} import {cls}\n' + (
        f'{cls}((3, 32, 32), {args}10)' if method == '__init__' else f'bare({cls})(torch.zeros(2, 3, 32, 32))')
    for module, cls, args in (('softmax', 'Softmax', ''), ('twolayernn', 'TwoLayerNN', '16, '),
                              ('convnet', 'CNN', '16, 3, '), ('mymodel', 'MyModel', '16, 3, '))
    for method in ('__init__', 'forward')
}
PART2_SETUP = '''
import torch
def bare(cls):
    """An instance whose __init__ (a stub too) did not run, to reach forward."""
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    return module
'''
CALL_ALL = '''
import json
raised = {}
for label, code in CALLS.items():
    try:
        exec(code, dict(globals()))
        raised[label] = None
    except Exception as e:
        raised[label] = [type(e).__name__, str(e)]
print(json.dumps(raised))
'''


def stub_calls(part_dir: Path, setup: str, calls: dict[str, str]) -> dict:
    proc = run_python(part_dir, setup + f'CALLS = {calls!r}\n' + CALL_ALL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def region_messages(part: str) -> dict[str, set[str]]:
    """name -> messages of the regions in the part's Python files."""
    names = {}
    for region in starter.reference_regions():
        if region.message and region.where.startswith(part + '/') and '.py:' in region.where:
            names.setdefault(region.name, set()).add(region.message)
    return names


def assert_stubs_raise(raised: dict, calls: dict[str, str], part: str) -> None:
    messages = region_messages(part)
    # Every stubbed name is exercised by some call (train.py: by running it, see below).
    assert set(messages) - {'train.py'} == {label.split()[0] for label in calls}
    for label, outcome in raised.items():
        name = label.split()[0]
        assert outcome is not None, f'{label}: the starter does not raise'
        assert outcome[0] == 'NotImplementedError', f'{label}: {outcome}'
        assert outcome[1] in messages[name], f'{label}: unexpected message {outcome[1]!r}'


def test_part1_stubs_raise_not_implemented(student_tree):
    raised = stub_calls(student_tree / '1_cs231n', PART1_SETUP, PART1_CALLS)
    assert_stubs_raise(raised, PART1_CALLS, '1_cs231n')
    assert raised['ClassifierTrainer.train momentum'][1] != raised['ClassifierTrainer.train rmsprop'][1]


@pytest.mark.slow
def test_part2_stubs_raise_not_implemented(student_tree):
    raised = stub_calls(student_tree / '2_pytorch', PART2_SETUP, PART2_CALLS)
    assert_stubs_raise(raised, PART2_CALLS, '2_pytorch')


@pytest.mark.slow
def test_train_py_stops_at_the_optimizer(tmp_path, generated):
    """With working models (the reference's), the starter's train.py stops at its first TODO."""
    starter.write_tree(generated, tmp_path)
    part2 = tmp_path / '2_pytorch'
    for model in (REFERENCE / '2_pytorch' / 'models').glob('*.py'):
        shutil.copy(model, part2 / 'models' / model.name)
    archive = tiny_cifar.write_tiny_cifar_archive(tmp_path / 'cifar-10-python.tar.gz', n_train_per_batch=220, n_test=20)
    cifar10.place(cifar10.ensure_cifar10(archive, cache_dir=tmp_path / 'cache'), part2 / 'data')
    proc = subprocess.run([sys.executable, 'train.py', '--model', 'softmax', '--epochs', '1', '--lr', '0.01',
                           '--momentum', '0', '--batch-size', '50', '--no-cuda'],
                          cwd=part2, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('NotImplementedError: train.py: create the optimizer'), proc.stderr[-2000:]
    assert last.removeprefix('NotImplementedError: ') in region_messages('2_pytorch')['train.py']


# notebook -> the name in the NotImplementedError it must stop with (None: it runs to the end)
NOTEBOOK_STOPS = [
    pytest.param('1_cs231n', 'softmax.ipynb', 'softmax_loss_vectorized', marks=pytest.mark.cifar),
    pytest.param('1_cs231n', 'two_layer_net.ipynb', 'two_layer_net'),
    pytest.param('1_cs231n', 'layers.ipynb', 'affine_forward'),
    # the given convnet's first layer is conv - ReLU - pool, with the fast conv and pool but your ReLU
    pytest.param('1_cs231n', 'convnet.ipynb', 'relu_forward', marks=pytest.mark.cifar),
    pytest.param('2_pytorch', 'softmax-classifier.ipynb', None),
    pytest.param('2_pytorch', 'filter-viz.ipynb', 'first_layer_filters'),
]


@pytest.fixture(scope='module')
def notebook_tree(student_tree):
    """The starter with what its notebooks need before the first TODO: the built extension, and a
    saved model for filter-viz (any module with a linear first layer)."""
    import torch
    with_built_extension(student_tree / '1_cs231n')
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 10)),
               student_tree / '2_pytorch' / 'softmax.pt')
    return student_tree


@pytest.mark.slow
@pytest.mark.parametrize('part, name, stop', NOTEBOOK_STOPS)
def test_notebook_stops_at_its_first_todo(request, notebook_tree, part, name, stop):
    folder = notebook_tree / part
    if request.node.get_closest_marker('cifar'):
        link = folder / 'cs231n' / 'datasets' / cifar10.FOLDER
        if not link.exists():
            cifar10.place(Path(request.getfixturevalue('cifar10_dir')), link.parent)
    run = execute_notebook(folder / name, cwd=folder, timeout_per_cell=300, stop_on_error=True)
    if stop is None:
        assert run.ok, [str(e) for e in run.errors]
        return
    assert run.errors, f'{name} ran to the end in the starter'
    first = run.errors[0]
    assert first.ename == 'NotImplementedError', f'{name} failed before its first TODO: {first}'
    assert first.evalue.startswith(stop + ': '), f'{name} stopped at another TODO: {first}'
