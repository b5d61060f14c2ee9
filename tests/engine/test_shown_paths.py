"""Clean messages (issue 18): a traceback shown to a student names its files as the student knows them
(`cs231n/layers.py`, `torch/nn/modules/module.py`, `numpy/linalg/...`), never the grading machine's folders
(the venv, /opt/hw1grade, /submission, the scratch copy's host path), whether the worker sent it (it
shortens its own frames) or a forged reply did (the trusted side shortens again); long ones are cut with
the grader's marker."""
import textwrap

import pytest

from graders.engine.bridge import SubmissionRaised, Worker
from graders.engine.sandbox import TORCH_LIMITS
from graders.engine.untrusted import clean_trace
from graders.inside.run_notebook import SUMMARY_FORMAT
from graders.inside.shown_paths import short_path, short_paths
from graders.notebooks.summary import parse_summary
from graders.paths import REPO
from tests.helpers import bwrap_sandbox

VENV = '/work/main/.venv/lib/python3.11/site-packages'
# Parts of a path that say where the grader keeps things: none may reach a student.
MACHINE = ('site-packages', '/submission', '/opt/hw1grade', '.venv', '/lib/python3', 'hw1grade-', str(REPO))


def machine_paths(text: str) -> list[str]:
    return [m for m in MACHINE if m in text]


@pytest.mark.parametrize('path, shown', [
    (f'{VENV}/torch/nn/modules/module.py', 'torch/nn/modules/module.py'),
    ('/usr/local/lib/python3.11/dist-packages/numpy/linalg/linalg.py', 'numpy/linalg/linalg.py'),
    ('/usr/lib/python3.11/json/decoder.py', 'json/decoder.py'),
    ('/submission/cs231n/layers.py', 'cs231n/layers.py'),
    ('/opt/hw1grade/part2_probe.py', 'hw1grade/part2_probe.py'),
    ('/tmp/hw1grade-k2j4/1_cs231n/cs231n/layers.py', 'cs231n/layers.py'),
    ('/var/tmp/hw1grade-notebooks-x/2_pytorch/models/convnet.py', 'models/convnet.py'),
    ('/etc/passwd', '/etc/passwd'),          # not the grader's: the student's own path stays
    ('<frozen importlib._bootstrap>', '<frozen importlib._bootstrap>'),
])
def test_a_frame_is_named_relative_to_its_package(path, shown):
    assert short_path(path) == shown


def test_every_path_in_a_text_is_shortened_and_the_rest_kept():
    trace = (f'  File "{VENV}/torch/nn/modules/linear.py", line 125, in forward\n'
             '    return F.linear(input, self.weight, self.bias)\n'
             'File /submission/cs231n/layers.py:42, in affine_forward(x, w, b)\n'
             f"FileNotFoundError: [Errno 2] No such file or directory: '/scratch/here/cs231n/datasets/x'\n"
             'ValueError: shapes (3,4) and (5,) not aligned: 4 (dim 1) != 5 (dim 0) at 1/2 of the way')
    shown = short_paths(trace, roots=('/scratch/here',))
    assert 'File "torch/nn/modules/linear.py", line 125, in forward' in shown
    assert 'File cs231n/layers.py:42, in affine_forward' in shown
    assert "No such file or directory: 'cs231n/datasets/x'" in shown
    assert 'at 1/2 of the way' in shown and 'return F.linear(input' in shown
    assert not machine_paths(shown)


def test_the_trusted_side_shortens_and_cuts_with_a_marker():
    forged = f'File "{VENV}/numpy/core/fromnumeric.py", line 3\n' * 5000
    shown = clean_trace(forged, 4000)
    assert len(shown) <= 4000 and shown.endswith('more characters]') and 'cut by the grader' in shown
    assert 'File "numpy/core/fromnumeric.py", line 3' in shown and not machine_paths(shown)


def test_a_notebook_traceback_from_the_runner_is_shortened_here():
    summary = {'format': SUMMARY_FORMAT, 'finished': True, 'fatal': None, 'seconds': 1.0, 'code_cells': [0],
               'executed': [], 'running': None, 'probes': {}, 'probe_errors': {}, 'budget_ran_out': False,
               'errors': [{'index': 0, 'ename': 'ValueError', 'evalue': "bad file '/submission/cs231n/x.npy'",
                           'traceback': 'File ~/.venv/lib/python3.11/site-packages/numpy/lib/npyio.py:427, in '
                                        'load\nFile /submission/cs231n/data_utils.py:10, in load_CIFAR10'}]}
    import json
    error = parse_summary(json.dumps(summary).encode(), []).errors[0]
    assert error['evalue'] == "bad file 'cs231n/x.npy'"
    assert 'File numpy/lib/npyio.py:427, in load' in error['traceback']
    assert 'File cs231n/data_utils.py:10, in load_CIFAR10' in error['traceback']


# -- through the sandbox -----------------------------------------------------------------------------

LAYERS = '''
import numpy as np


def invert(x):
    return np.linalg.inv(x)          # raises inside numpy: (2, 3) is not square


def linear(x):
    import torch
    layer = torch.nn.Linear(3, 4)
    return layer(torch.as_tensor(x, dtype=torch.float32))    # raises inside torch: 5 features, not 3
'''

FORGER = '''
import sys

VENV = %r


def forge():
    main = sys.modules['__main__']

    def describe_exception(err):
        return {'kind': 'raised', 'type': 'RuntimeError', 'message': 'in %%s/torch/x.py' %% VENV,
                'traceback': '  File "%%s/torch/nn/modules/module.py", line 1\\n'
                             '  File "/opt/hw1grade/worker.py", line 2\\n'
                             '  File "/submission/cs231n/layers.py", line 3\\n' %% VENV}
    main.describe_exception = describe_exception
    raise ValueError('from now on every reply is forged')
''' % VENV


@pytest.fixture(scope='module')
def worker(tmp_path_factory):
    root = tmp_path_factory.mktemp('shown') / '1_cs231n'
    (root / 'cs231n').mkdir(parents=True)
    (root / 'cs231n' / '__init__.py').write_text('')
    (root / 'cs231n' / 'layers.py').write_text(textwrap.dedent(LAYERS))
    (root / 'cs231n' / 'forger.py').write_text(FORGER)
    with Worker(root, bwrap_sandbox(root, TORCH_LIMITS), sys_path=('.',), timeout=120) as w:
        yield w


@pytest.mark.parametrize('function, library', [('invert', 'numpy/linalg/'), ('linear', 'torch/nn/modules/')])
def test_a_submission_raising_inside_a_library_sees_its_frames_by_package(worker, function, library):
    import numpy as np
    with pytest.raises(SubmissionRaised) as info:
        worker.call(f'cs231n.layers:{function}', np.ones((2, 5)) if function == 'linear' else np.ones((2, 3)))
    err = info.value
    assert 'File "cs231n/layers.py"' in err.traceback and library in err.traceback, err.traceback
    assert not machine_paths(str(err)), str(err)


def test_a_forged_reply_cannot_show_the_machines_paths(worker):
    with pytest.raises(SubmissionRaised):
        worker.call('cs231n.forger:forge')
    with pytest.raises(SubmissionRaised) as info:
        worker.call('cs231n.layers:invert', 1)
    err = info.value
    assert 'torch/nn/modules/module.py' in err.traceback and 'hw1grade/worker.py' in err.traceback
    assert 'File "cs231n/layers.py"' in err.traceback and err.message == 'in torch/x.py'
    assert not machine_paths(str(err)), str(err)
