"""The 2019 course's environment (graders/inside/course_env.py) in the notebook kernel and in the
sandboxed worker: six and scipy importable, scipy.misc.imread/imresize/imsave on Pillow, numpy 1.x
aliases, Windows-style relative paths; each shim's first use is one note."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graders.engine.bridge import Worker
from graders.engine.sandbox import INSIDE_SOURCE

ROOT = Path(__file__).resolve().parents[2]
KITTEN = ROOT / 'reference' / '1_cs231n' / 'kitten.jpg'

# What 2019 notebook cells and student code do (REAL_SUBMISSIONS.md section 1).
CELL = r'''
import six
from six.moves import cPickle
from scipy.misc import imread, imresize, imsave
from scipy.special import softmax
import numpy as np
kitten = imread('kitten.jpg')
small = imresize(kitten, (32, 32))
imsave('small.png', small)
assert kitten.dtype == np.uint8 and kitten.ndim == 3 and small.shape == (32, 32, 3)
assert np.allclose(softmax(np.array([0.0, 0.0])), 0.5)
labels = np.zeros(3, dtype=np.int)
with open('cs231n\\datasets\\batch.txt') as f:
    text = f.read()
imread('kitten.jpg')   # a second use: no second note
print('RESULT', labels.dtype, text.strip(), sorted(os.listdir('cs231n\\datasets')))
'''


@pytest.fixture
def course_folder(tmp_path):
    (tmp_path / 'cs231n' / 'datasets').mkdir(parents=True)
    (tmp_path / 'cs231n' / 'datasets' / 'batch.txt').write_text('data\n')
    (tmp_path / 'kitten.jpg').write_bytes(KITTEN.read_bytes())
    return tmp_path


def test_the_notebook_kernel_starts_with_the_course_environment(course_folder):
    """The runner puts kernel_site/ on the kernel's PYTHONPATH: its sitecustomize installs the shims."""
    notes = course_folder / 'notes.txt'
    env = {**os.environ, 'PYTHONPATH': str(INSIDE_SOURCE / 'kernel_site'), 'HW1GRADE_NOTES_FILE': str(notes)}
    done = subprocess.run([sys.executable, '-c', 'import os\n' + CELL], cwd=course_folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'RESULT int64 data' in done.stdout and "'batch.txt'" in done.stdout
    lines = notes.read_text().splitlines()
    assert lines == list(dict.fromkeys(lines))   # each once
    for expected in ('scipy.misc.imread used', 'scipy.misc.imresize used', 'scipy.misc.imsave used',
                     'np.int used: legacy numpy alias shimmed to int', 'a Windows-style path'):
        assert sum(line.startswith(expected) for line in lines) == 1, (expected, lines)
    assert (course_folder / 'small.png').is_file()


def test_without_the_shim_folder_the_kernel_is_untouched(course_folder):
    done = subprocess.run([sys.executable, '-c', 'from scipy.misc import imread'], cwd=course_folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and 'imread' in done.stderr


def test_the_sandboxed_worker_has_the_course_environment(course_folder, make_sandbox):
    (course_folder / 'student.py').write_text('import os\n' + CELL.replace("print('RESULT', ", 'RESULT = (')
                                              .replace("'cs231n\\\\datasets'))\n", "'cs231n\\\\datasets')))\n")
                                              + '\ndef result():\n    return [str(RESULT[0]), RESULT[1]]\n')
    with Worker(course_folder, make_sandbox(course_folder), timeout=60) as worker:
        assert worker.call('student:result') == ['int64', 'data']
        assert np.allclose(worker.call('scipy.special:softmax', np.zeros(2)), 0.5)
        for expected in ('scipy.misc.imread used', 'scipy.misc.imresize used', 'np.int used', 'a Windows-style path'):
            assert sum(note.startswith(expected) for note in worker.notes) == 1, (expected, worker.notes)
