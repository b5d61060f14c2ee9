"""The students' starter code, generated from the reference: `hw1grade starter generate|build`.

The reference (`reference/1_cs231n`, `reference/2_pytorch`) is the only source. Every piece of code
that students write is a *solution region* in it, between two comment lines:

    # BEGIN SOLUTION: softmax_loss_vectorized: compute the softmax loss and its gradient dW
    ...the reference's code...
    # END SOLUTION

and the starter gets, at the indentation of the BEGIN line, a TODO comment and
`raise NotImplementedError('softmax_loss_vectorized: compute the softmax loss and its gradient dW')`.
The message starts with the name of what is missing (the text before the first ': '), so that a
grader running the starter reports, per item, what the student has not written yet.

Lines `# STUB: text` right after BEGIN are the starter's own version of the region: they replace it
verbatim (then come the TODO and the raise, if the BEGIN line has a message). A region with neither
message nor stub is reference-only code (the MyModel recipe's extra options, helper layers) and
disappears from the starter. The same markers work in shell scripts (stubs only, nothing to raise)
and in notebook code cells; Markdown (notebook cells, .md files) uses `<!-- BEGIN SOLUTION -->`,
`<!-- STUB: text -->` and `<!-- END SOLUTION -->`, which Jupyter does not display. Markers are
comments, so they never change what the reference does.

The starter tree is each part's source files (what git tracks, without build outputs, data, logs or
saved models), symlinks copied as files, notebooks without outputs, plus README.md, SETUP.md and
requirements.txt from `graders/course/starter_docs/`. Generating it twice gives the same bytes.
`hw1grade starter generate` writes it to `student/` (committed, so that a diff shows what students
get); `hw1grade starter build` zips it as `hw1_starter.zip` under `assignment/`.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from graders import paths
from graders.engine.outcome import UserError
from graders.files import deterministic_zip

REPO = paths.REPO
REFERENCE = paths.REFERENCE
PARTS = ('1_cs231n', '2_pytorch')
DOCS = Path(__file__).resolve().parent / 'starter_docs'
DOC_FILES = ('README.md', 'SETUP.md')
REQUIREMENTS = 'requirements.txt'
ZIP_NAME = 'hw1_starter.zip'
ZIP_ROOT = 'assignment'

# Files in which students write code (API.md): each must hold at least one solution region, so that
# a new file or a rewritten one cannot hand out its solution unnoticed.
STUDENT_FILES = (
    '1_cs231n/cs231n/classifiers/softmax.py', '1_cs231n/cs231n/classifiers/linear_classifier.py',
    '1_cs231n/cs231n/classifiers/neural_net.py', '1_cs231n/cs231n/classifier_trainer.py',
    '1_cs231n/cs231n/layers.py', '1_cs231n/softmax.ipynb', '1_cs231n/two_layer_net.ipynb',
    '2_pytorch/models/softmax.py', '2_pytorch/models/twolayernn.py', '2_pytorch/models/convnet.py',
    '2_pytorch/models/mymodel.py', '2_pytorch/train.py', '2_pytorch/filter-viz.ipynb',
    '2_pytorch/run_softmax.sh', '2_pytorch/run_twolayernn.sh', '2_pytorch/run_convnet.sh',
    '2_pytorch/run_mymodel.sh',
)
# Reference files students never get: the write-up of the reference's own MyModel experiments.
REFERENCE_ONLY = ('2_pytorch/extra.md',)
# Starter files written from a template in starter_docs/ instead: the fields extra.md must have.
TEMPLATES = {'2_pytorch/extra.md': 'extra.md'}
# Never part of the starter, wherever they are: build outputs, data, run outputs, caches.
SKIP_DIRS = {'__pycache__', 'build', '.ipynb_checkpoints', 'cifar-10-batches-py', 'data'}
SKIP_SUFFIXES = {'.so', '.pyd', '.o', '.pyc', '.log', '.pt', '.pth', '.png', '.pdf', '.zip', '.csv',
                 '.npy', '.gz'}

# The packages students install (their pins come from pyproject.toml), plus Jupyter itself.
STUDENT_PACKAGES = ('numpy', 'Cython', 'setuptools', 'torch', 'torchvision', 'matplotlib', 'Pillow',
                    'ipykernel')
# pytest runs the self-check (check.py): the visible checks are pytest checks, as in the TAs' grader.
STUDENT_EXTRAS = ('notebook', 'nbconvert', 'pytest>=8')


class MarkerError(UserError, ValueError):
    """A malformed solution region, or a starter that would not be valid code."""


@dataclass(frozen=True)
class Style:
    """How markers are written in one kind of text.

    - comment: the marker's opening and closing text ('# ', '' or '<!-- ', ' -->')
    - raises: whether a region may carry a message, i.e. the stub can raise NotImplementedError
    """
    name: str
    comment: tuple[str, str]
    raises: bool

    def pattern(self, body: str) -> re.Pattern:
        """A full-line marker: optional indentation, the comment around `body` (a regex)."""
        start, end = (re.escape(part) for part in self.comment)
        return re.compile(rf'^(?P<indent>[ \t]*){start}{body}{end}[ \t]*$')


PYTHON = Style('python', ('# ', ''), raises=True)
SHELL = Style('shell', ('# ', ''), raises=False)
MARKDOWN = Style('markdown', ('<!-- ', ' -->'), raises=False)
STYLE_OF_SUFFIX = {'.py': PYTHON, '.pyx': PYTHON, '.sh': SHELL, '.md': MARKDOWN}

# Anything that looks like a marker; a line that matches this but no strict pattern is an error.
LOOKS_LIKE_MARKER = re.compile(r'(BEGIN|END) SOLUTION|\bSTUB:')


@dataclass(frozen=True)
class Region:
    """One solution region of the reference.

    - where: file (and notebook cell) it is in, relative to reference/, with the BEGIN line number
    - indent: indentation of its BEGIN line, given to every stub line
    - message: what the starter's NotImplementedError says, or None
    - stub: the starter's lines (without indentation)
    - body: the reference's lines between the markers (the solution)
    """
    where: str
    indent: str
    message: str | None
    stub: tuple[str, ...]
    body: tuple[str, ...]
    style: Style

    @property
    def name(self) -> str | None:
        """What is missing in the starter: the message up to its first ': '."""
        return self.message.split(': ', 1)[0] if self.message else None

    def replacement(self) -> list[str]:
        """The starter's lines for this region."""
        lines = [self.indent + line if line else '' for line in self.stub]
        if self.message:
            lines += [f'{self.indent}# TODO: {self.message}',
                      f'{self.indent}raise NotImplementedError({self.message!r})']
        return lines


def parse_regions(text: str, style: Style, where: str) -> list[str | Region]:
    """Split `text` into its lines outside regions (str) and its regions (Region), in order.

    Raises MarkerError for a nested, unclosed or stray marker, a marker that is not written exactly
    as specified, or a message where `style` cannot raise."""
    begin = style.pattern(r'BEGIN SOLUTION(?:: (?P<message>\S.*?))?')
    end = style.pattern(r'END SOLUTION')
    stub = style.pattern(r'STUB:(?: (?P<text>.*?))?')
    parts: list[str | Region] = []
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        start = begin.match(line)
        if not start:
            if LOOKS_LIKE_MARKER.search(line):
                raise MarkerError(f'{where}:{i + 1}: marker outside a region or malformed: {line.strip()!r}')
            parts.append(line)
            i += 1
            continue
        opened = f'{where}:{i + 1}'
        message = start['message']
        if message and not style.raises:
            raise MarkerError(f'{opened}: a {style.name} region cannot raise; give a stub instead of a message')
        i += 1
        stub_lines = []
        while i < len(lines) and (m := stub.match(lines[i])):
            stub_lines.append((m['text'] or '').rstrip())
            i += 1
        body = []
        while i < len(lines) and not end.match(lines[i]):
            if LOOKS_LIKE_MARKER.search(lines[i]):
                raise MarkerError(f'{where}:{i + 1}: marker inside the region opened at line '
                                  f'{opened}: {lines[i].strip()!r}')
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise MarkerError(f'{opened}: region never closed (no END SOLUTION)')
        i += 1
        parts.append(Region(opened, start['indent'], message, tuple(stub_lines), tuple(body), style))
    return parts


def render(parts: list[str | Region]) -> str:
    """The starter's text: regions replaced by their stubs.

    A region that disappears (no stub, no message) after a blank line takes the blank lines that
    follow it along, so that removing a helper function leaves the usual two blank lines."""
    out: list[str] = []
    drop_blanks = False
    for part in parts:
        if isinstance(part, Region):
            replacement = part.replacement()
            drop_blanks = not replacement and (not out or not out[-1].strip())
            out += replacement
        elif drop_blanks and not part.strip():
            continue
        else:
            drop_blanks = False
            out.append(part)
    return '\n'.join(out)


def _check_python(source: str, where: str, ipython: bool = False) -> None:
    """Fail if the starter's `source` is not valid Python (with `ipython`, a notebook cell whose
    magics IPython turns into Python first)."""
    plain = TransformerManager().transform_cell(source) if ipython else source
    try:
        ast.parse(plain, filename=where)
    except SyntaxError as e:
        raise MarkerError(f'{where}: the starter would not be valid Python: {e}') from e


def _notebook_cells(nb) -> Iterator[tuple[int, object, Style]]:
    """(index, cell, marker style) of the notebook's code and Markdown cells."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type in ('code', 'markdown'):
            yield index, cell, PYTHON if cell.cell_type == 'code' else MARKDOWN


def file_regions(path: Path, rel: str) -> list[Region]:
    """The solution regions of one reference file (none for files without a marker style)."""
    if path.suffix == '.ipynb':
        nb = nbformat.read(path, as_version=4)
        return [part for index, cell, style in _notebook_cells(nb)
                for part in parse_regions(cell.source, style, f'{rel} cell {index}')
                if isinstance(part, Region)]
    style = STYLE_OF_SUFFIX.get(path.suffix)
    if style is None:
        return []
    return [part for part in parse_regions(path.read_text(encoding='utf-8'), style, rel)
            if isinstance(part, Region)]


def starter_text(path: Path, rel: str) -> bytes:
    """What the starter holds for the reference file `path` (`rel` relative to reference/)."""
    data = path.read_bytes()
    if path.suffix == '.ipynb':
        nb = nbformat.reads(data.decode('utf-8'), as_version=4)
        for index, cell, style in _notebook_cells(nb):
            where = f'{rel} cell {index}'
            cell.source = render(parse_regions(cell.source, style, where))
            if cell.cell_type == 'code':
                _check_python(cell.source, where, ipython=True)
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop('execution', None)
        nbformat.validate(nb)
        return (nbformat.writes(nb) + '\n').encode('utf-8')
    style = STYLE_OF_SUFFIX.get(path.suffix)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return data                                   # images: copied as they are
    if style is None:
        if LOOKS_LIKE_MARKER.search(text):
            raise MarkerError(f'{rel}: solution markers in a file type that cannot have them')
        return data
    text = render(parse_regions(text, style, rel))
    if style is PYTHON and path.suffix == '.py':
        _check_python(text, rel)
    return text.encode('utf-8')


def _git_tracked(folder: Path) -> set[str] | None:
    """The files git tracks under `folder` (paths relative to it), or None outside a git checkout."""
    try:
        proc = subprocess.run(['git', 'ls-files', '-z', '--', '.'], cwd=folder, capture_output=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return {name for name in proc.stdout.decode('utf-8').split('\0') if name}


def _is_source(rel: Path, folder: Path) -> bool:
    """Whether the file `rel` of `folder` belongs in the starter: not hidden, not in a skipped
    folder, not an output, not the C file that Cython generates from a .pyx beside it."""
    if any(part in SKIP_DIRS or part.startswith('.') for part in rel.parts):
        return False
    if rel.suffix in SKIP_SUFFIXES:
        return False
    return not (rel.suffix == '.c' and (folder / rel).with_suffix('.pyx').exists())


def source_files(folder: Path, tracked_only: bool = True) -> tuple[list[str], list[str]]:
    """The source files of a folder (POSIX paths relative to it, sorted), and those left out only
    because git does not track them yet (work in progress: never handed out until committed).

    Folders named in SKIP_DIRS, hidden files and SKIP_SUFFIXES are never sources; symlinked
    folders are not followed, symlinked files count (their content is copied)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not Path(dirpath, d).is_symlink())
        for name in filenames:
            rel = Path(dirpath, name).relative_to(folder)
            if _is_source(rel, folder) and Path(dirpath, name).is_file():
                found.append(rel.as_posix())
    found.sort()
    tracked = _git_tracked(folder) if tracked_only else None
    if tracked is None:
        return found, []
    return [f for f in found if f in tracked], [f for f in found if f not in tracked]


@dataclass(frozen=True)
class StarterFile:
    """One file of the starter: its bytes and whether it is executable (the run scripts)."""
    data: bytes
    executable: bool


def requirements_txt(pyproject: Path = REPO / 'pyproject.toml') -> str:
    """The students' requirements.txt: STUDENT_PACKAGES pinned as in pyproject.toml, then the extras."""
    dependencies = tomllib.loads(pyproject.read_text())['project']['dependencies']
    by_name = {re.match(r'[A-Za-z0-9_.-]+', d)[0].lower(): d for d in dependencies}
    missing = [name for name in STUDENT_PACKAGES if name.lower() not in by_name]
    if missing:
        raise MarkerError(f'pyproject.toml no longer lists {missing}; update STUDENT_PACKAGES')
    lines = [by_name[name.lower()] for name in STUDENT_PACKAGES] + list(STUDENT_EXTRAS)
    return '# Install with: pip install -r requirements.txt (see SETUP.md)\n' + '\n'.join(lines) + '\n'


def reference_regions(reference: Path = REFERENCE) -> list[Region]:
    """Every solution region of the reference's source files, in file order."""
    return [region for part in PARTS for rel in source_files(reference / part)[0]
            for region in file_regions(reference / part / rel, f'{part}/{rel}')]


def build_starter(reference: Path = REFERENCE, docs: Path = DOCS,
                  log=None) -> dict[str, StarterFile]:
    """The starter tree: path relative to its root -> content and exec bit.

    `log` (a callable taking a str) hears about reference files left out because git does not track
    them. Raises MarkerError for a malformed region, a STUDENT_FILES file without any region, or a
    starter file that would not be valid Python."""
    files: dict[str, StarterFile] = {}
    for part in PARTS:
        sources, untracked = source_files(reference / part)
        if log:
            for rel in untracked:
                log(f'left out (not tracked by git yet): reference/{part}/{rel}')
        for rel in sources:
            key = f'{part}/{rel}'
            if key in REFERENCE_ONLY:
                continue
            path = reference / part / rel
            if key in STUDENT_FILES and not file_regions(path, key):
                raise MarkerError(f'reference/{key}: students write code in this file, but it has no '
                                  'solution region (mark what they write with BEGIN/END SOLUTION)')
            files[key] = StarterFile(starter_text(path, key), bool(path.stat().st_mode & 0o111))
    for name in DOC_FILES:
        files[name] = StarterFile((docs / name).read_bytes(), False)
    for key, name in TEMPLATES.items():
        files[key] = StarterFile((docs / name).read_bytes(), False)
    files[REQUIREMENTS] = StarterFile(requirements_txt().encode('utf-8'), False)
    return files


def write_tree(files: dict[str, StarterFile], out: Path) -> None:
    """Replace the starter under `out` (its two parts and top-level files) with `files`."""
    for name in PARTS:
        shutil.rmtree(out / name, ignore_errors=True)
    for name, file in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        path.write_bytes(file.data)
        path.chmod(0o755 if file.executable else 0o644)


def write_zip(files: dict[str, StarterFile], path: Path) -> Path:
    """Write the release zip: every file under ZIP_ROOT/, sorted (`graders.files.deterministic_zip`:
    fixed dates, unix modes, the same bytes from build to build)."""
    with deterministic_zip(path) as archive:
        for name in sorted(files):
            archive.add(f'{ZIP_ROOT}/{name}', files[name].data, executable=files[name].executable)
    return path


def starter_generate(args: argparse.Namespace) -> int:
    """`hw1grade starter generate`: write the starter tree to --out."""
    files = build_starter(log=print)
    out = Path(args.out)
    write_tree(files, out)
    regions = reference_regions()
    print(f'wrote {len(files)} files to {out} ({len(regions)} solution regions stubbed)')
    return 0


def release_files(log=None) -> dict[str, StarterFile]:
    """The release zip's tree: the starter plus the students' self-check (`check.py`, `selfcheck/`:
    the visible checks and the reference's outputs on their public inputs, recorded now; see
    graders/course/selfcheck.py). Not in student/: the recorded outputs are a build product."""
    from graders.course import selfcheck
    files = build_starter(log=log)
    files.update({name: StarterFile(data, False) for name, data in selfcheck.build_files().items()})
    return files


def starter_build(args: argparse.Namespace) -> int:
    """`hw1grade starter build`: write the release zip to --out/hw1_starter.zip."""
    path = write_zip(release_files(log=print), Path(args.out) / ZIP_NAME)
    print(path)
    return 0


def add_starter_commands(subparsers: argparse._SubParsersAction) -> None:
    """The `starter` group: `hw1grade starter generate [--out DIR]`, `hw1grade starter build [--out DIR]`."""
    group = subparsers.add_parser('starter', help="generate the students' starter code from the reference")
    commands = group.add_subparsers(metavar='COMMAND', required=True)
    generate = commands.add_parser(
        'generate', help='write the starter tree (committed as student/)',
        description='Write the starter code generated from the reference: each solution region '
                    'replaced by its stub, notebook outputs stripped, plus README.md, SETUP.md and '
                    'requirements.txt. Run it after changing the reference and commit the result.')
    generate.add_argument('--out', default=str(paths.STUDENT), metavar='DIR',
                          help='where to write it (default: the repository\'s student/)')
    generate.set_defaults(handler=starter_generate)
    build = commands.add_parser(
        'build', help=f'make the release zip {ZIP_NAME}',
        description=f'Generate the starter and zip it as DIR/{ZIP_NAME}, everything under '
                    f'{ZIP_ROOT}/; the zip is byte-identical from one build to the next.')
    build.add_argument('--out', default=str(REPO / 'out' / 'starter'), metavar='DIR',
                       help='where to write the zip (default: out/starter)')
    build.set_defaults(handler=starter_build)
