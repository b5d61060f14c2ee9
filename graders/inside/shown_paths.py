"""File paths as a student reads them: relative to their package, never the grading machine's layout.

A traceback of submitted code names the files of its frames with the paths they have where it ran:
`/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py`, `/usr/lib/python3.11/json/
decoder.py`, `/submission/cs231n/layers.py` (bubblewrap's mount of the scratch copy), or, below
bubblewrap, the scratch copy's host path `/tmp/hw1grade-x1y2/1_cs231n/cs231n/layers.py`. To a student
these say nothing useful, and they show where the grader keeps its environment. `short_path` keeps what
the student knows: `torch/nn/modules/module.py`, `json/decoder.py`, `cs231n/layers.py`.

Used on both sides of the sandbox: `worker.py` and `run_notebook.py` shorten the frames they send, and
the trusted side (graders/engine/bridge.py, graders/notebooks/grading.py) runs every text it shows
through `short_paths` again, since a forged reply may carry any path. Standard library only: it is
mounted into the sandbox with the rest of graders/inside/.
"""

import re

SUBMISSION_DIR = '/submission'     # where bubblewrap mounts the scratch copy (graders/engine/sandbox.py)
INSIDE_DIR = '/opt/hw1grade'       # where bubblewrap mounts graders/inside/
PACKAGE_DIRS = ('/site-packages/', '/dist-packages/')
_STDLIB = re.compile(r'/lib/python\d+(?:\.\d+)?/')
# The scratch copies and build folders hw1grade makes (tempfile prefixes 'hw1grade-...'), then the part's folder.
_SCRATCH = re.compile(r'^.*/hw1grade-[^/]*/(?:[12]_(?:cs231n|pytorch)/)?')
# An absolute path (or IPython's ~/...) inside a text: up to a quote, a space, a colon, a comma, a bracket.
_PATH = re.compile(r'(?<![\w.~/-])~?/[^\s\'"(),:;<>\[\]{}|*?`]+')


def short_path(path: str, roots=()) -> str:
    """`path` as the student knows it: relative to the submission's folder (`roots`: its paths here, and
    /submission), to site-packages (a library's module), to the Python library (a standard module), or
    to the grader's own mounted code; any other path unchanged."""
    for root in tuple(roots) + (SUBMISSION_DIR,):
        root = str(root).rstrip('/')
        if root and path.startswith(root + '/'):
            return path[len(root) + 1:]
    for marker in PACKAGE_DIRS:
        at = path.rfind(marker)
        if at >= 0:
            return path[at + len(marker):]
    found = None
    for found in _STDLIB.finditer(path):
        pass
    if found is not None:
        return path[found.end():]
    if path.startswith(INSIDE_DIR + '/'):
        return 'hw1grade/' + path[len(INSIDE_DIR) + 1:]
    scratch = _SCRATCH.match(path)
    if scratch:
        return path[scratch.end():]
    return path


def short_paths(text: str, roots=()) -> str:
    """Every absolute path in `text` shortened with `short_path` (linear in the text's length)."""
    if '/' not in text:
        return text
    return _PATH.sub(lambda m: short_path(m.group(0), roots), text)
