"""The students' self-check inside the starter zip (`python check.py`), made by `hw1grade starter build`.

One definition of each visible check serves the TA's grader and the self-check: the check modules of
`graders/part1/` and `graders/part2/` are copied into the zip, not rewritten. At build time each module is
- stripped of its hidden checks (the rubric's `hidden` names: their names and bodies never reach
  students; a name that survives anywhere in the zip fails the build's test), and of the graders
  imports only they used (Part 2's training run, graders/part2/training.py with the course secret's
  held-out draws, and the challenge's labels are neither copied nor imported),
- pointed at the self-check's runtime (`selfcheck_files/selfcheck/runtime.py`) instead of the engine:
  `fail`, the bridge's errors, and `part1(module)`, which in the TA's grader is the reference module
  and in the zip is the reference's results on the self-check's fixed public inputs (`expected.npz`),
and then the copied checks run once, in a subprocess, on the reference folder in *record* mode: every
outermost reference call's result is stored by a digest of its arguments. The reference must pass
every check it records (a build that would hand out wrong expected outputs stops here). Checks that
need CIFAR-10 (the convnet's overfitting run) compare with no reference output and are not recorded.
Part 2's visible checks compare with no reference output at all (models built and looked at, logs,
plots, the PDF, extra.md): nothing is recorded for them. They call the sandbox side
(`graders/inside/part2_probe.py`, copied without what only the hidden checks call) in the student's
process; the engine modules that guard the grading machine (untrusted, companions, pictures) are
replaced by the self-check's stand-ins (`selfcheck_files/selfcheck/engine/`), which read the student's
own files plainly (Windows has no O_NOFOLLOW). What a check needs that requirements.txt cannot install
(pdftoppm for 2_pytorch.pdf) makes that check "n/a: not checkable here", the self-check's own limit.

What reaches the zip: `check.py`, `selfcheck/` (runtime, the copied engine comparisons and problems,
the copied visible checks, Part 1's `expected.npz`, `rubric.json` with the visible questions' points and
the settings the visible checks read, the copied probe). No reference source, no hidden check, no label.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from graders import paths
from graders.engine.rubric import load_rubric

FILES = Path(__file__).resolve().parent / 'selfcheck_files'
ROOT = 'selfcheck'
# Where each engine module a check imports comes from in the zip.
IMPORTS = {
    'graders.engine.plugin': 'selfcheck.runtime',
    'graders.engine.bridge': 'selfcheck.runtime',
    'graders.part1.reference': 'selfcheck.runtime',
    'graders.engine.checks': 'selfcheck.engine.checks',
    'graders.part1.problems': 'selfcheck.part1.problems',
    # Part 2: the TA's model and deliverable checks copied; the engine modules they use that touch the
    # grading machine (untrusted, companions, pictures) are the self-check's own stand-ins in
    # selfcheck_files/selfcheck/engine/.
    'graders.engine': 'selfcheck.engine',
    'graders.engine.outcome': 'selfcheck.engine.outcome',
    'graders.part2': 'selfcheck.part2',
    'graders.part2.train_log': 'selfcheck.part2.train_log',
}
# Copied modules besides the checks: (source, path in the zip).
SUPPORT = (('graders/engine/checks.py', 'engine/checks.py'), ('graders/engine/outcome.py', 'engine/outcome.py'),
           ('graders/part1/problems.py', 'part1/problems.py'), ('graders/part2/models.py', 'part2/models.py'),
           ('graders/part2/deliverables.py', 'part2/deliverables.py'),
           ('graders/part2/train_log.py', 'part2/train_log.py'))
# The sandbox side the Part 2 checks call (`part2_probe:...`), copied (standard library and numpy at
# import; torch, Pillow and pdftoppm inside its functions): the student's worker imports it in-process.
INSIDE = ('part2_probe.py', 'image_decode.py', 'course_env.py')
# What only the hidden checks call in the sandbox (the grader's training recipe, the challenge's
# cross-check): left out of the copy with the private helpers only they use.
INSIDE_HIDDEN = {'part2_probe.py': ('train_and_predict', 'predict_with_weights')}
# The rubric tables the visible checks read (no hidden run's settings, no challenge, no secret).
SETTINGS = ('tolerances', 'partial_credit', 'part2')
VISIBLE_RUNS = ('convnet_overfit',)
PARTS = (1, 2)
RECORDED = (1,)     # Part 2's visible checks compare with no reference output: nothing to record
RECORD_TIMEOUT = 900


class SelfCheckError(RuntimeError):
    """The self-check cannot be built: a check imports something the zip cannot hold, or the
    reference fails its own self-check."""


def _rewrite(source: str, where: str, hidden: set[str]) -> str:
    """The module's text with its hidden checks removed and its graders imports pointed at the zip's."""
    tree = ast.parse(source)
    lines = source.split('\n')
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in hidden:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            drop.update(range(start - 1, node.end_lineno))
    if drop:
        source = _unused_imports_dropped('\n'.join(line for i, line in enumerate(lines) if i not in drop))
        tree, lines, drop = ast.parse(source), source.split('\n'), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] == 'graders':
            if node.module not in IMPORTS:
                raise SelfCheckError(f'{where}:{node.lineno}: imports {node.module}, which the self-check does '
                                     'not provide (add it to graders/course/selfcheck.py IMPORTS)')
            for i in range(node.lineno - 1, node.end_lineno):
                lines[i] = lines[i].replace(node.module, IMPORTS[node.module])
        elif isinstance(node, ast.Import) and any(a.name.split('.')[0] == 'graders' for a in node.names):
            raise SelfCheckError(f'{where}:{node.lineno}: `import graders...` cannot be copied; use from-imports')
    kept = [line for i, line in enumerate(lines) if i not in drop]
    text = '\n'.join(kept)
    while '\n\n\n\n' in text:
        text = text.replace('\n\n\n\n', '\n\n\n')
    ast.parse(text, filename=where)
    return text


def _unused_imports_dropped(source: str) -> str:
    """`source` without the names its graders from-imports bring in that nothing in it uses any more
    (what only the removed hidden checks used: the held-out draws, the challenge's labels), so that
    the zip neither imports nor names them."""
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    lines = source.split('\n')
    for node in reversed(tree.body):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] == 'graders'):
            continue
        names = [a for a in node.names if (a.asname or a.name) in used]
        if len(names) == len(node.names):
            continue
        text = [f'from {node.module} import ' + ', '.join(a.name + (f' as {a.asname}' if a.asname else '')
                                                         for a in names)] if names else []
        lines[node.lineno - 1:node.end_lineno] = text
    return '\n'.join(lines)


def _functions_dropped(source: str, names: set[str]) -> str:
    """`source` without its top-level functions `names`, then without the private ones (`_name`) nothing
    left refers to."""
    while names:
        tree = ast.parse(source)
        lines = source.split('\n')
        drop: set[int] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                drop.update(range(start - 1, node.end_lineno))
        source = '\n'.join(line for i, line in enumerate(lines) if i not in drop)
        while '\n\n\n\n' in source:
            source = source.replace('\n\n\n\n', '\n\n\n')
        tree = ast.parse(source)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith('_')
                 and n.name not in used}
    return source


def check_modules(part: int) -> list[Path]:
    return sorted(paths.checks_dir(part).glob('test_q8_*.py'))


def visible_rubric() -> dict:
    """The questions of the parts the self-check covers (points, titles) and the settings it reads."""
    rubric = load_rubric()
    settings = {name: rubric.settings[name] for name in SETTINGS}
    settings['cifar10'] = {name: rubric.settings['cifar10'][name] for name in VISIBLE_RUNS}
    questions = {q.id: {'title': q.title, 'part': q.part, 'points': q.points}
                 for q in rubric.questions.values() if q.part in PARTS}
    return {'questions': questions, 'settings': settings}


def hidden_names(part: int) -> set[str]:
    return {name for q in load_rubric().for_part(part) for name in q.hidden}


def source_files() -> dict[str, bytes]:
    """Everything of the self-check but its recorded expected outputs: zip path -> bytes."""
    files = {'check.py': (FILES / 'check.py').read_bytes(),
             f'{ROOT}/__init__.py': b'',
             f'{ROOT}/runtime.py': (FILES / ROOT / 'runtime.py').read_bytes(),
             f'{ROOT}/pytest.ini': (FILES / ROOT / 'pytest.ini').read_bytes(),
             f'{ROOT}/engine/__init__.py': b'',
             f'{ROOT}/rubric.json': (json.dumps(visible_rubric(), indent=1, sort_keys=True) + '\n').encode()}
    for part in PARTS:
        hidden = hidden_names(part)
        files[f'{ROOT}/part{part}/__init__.py'] = b''
        for module in check_modules(part):
            rel = module.relative_to(paths.REPO).as_posix()
            files[f'{ROOT}/part{part}/{module.name}'] = _rewrite(module.read_text(), rel, hidden).encode()
    for source, target in SUPPORT:
        files[f'{ROOT}/{target}'] = _rewrite((paths.REPO / source).read_text(), source, set()).encode()
    for name in INSIDE:
        source = (paths.GRADERS / 'inside' / name).read_text()
        files[f'{ROOT}/{name}'] = _functions_dropped(source, set(INSIDE_HIDDEN.get(name, ()))).encode()
    for stand_in in sorted((FILES / ROOT / 'engine').glob('*.py')):
        files[f'{ROOT}/engine/{stand_in.name}'] = stand_in.read_bytes()
    return files


def record(files: dict[str, bytes], reference: Path = paths.REFERENCE) -> dict[str, bytes]:
    """Run the copied checks on the reference in record mode (a fresh interpreter, the reference
    folder imported there only); the files plus each part's expected.npz."""
    out = dict(files)
    with tempfile.TemporaryDirectory(prefix='hw1-selfcheck-') as tmp:
        stage = Path(tmp)
        for name, data in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        for part in RECORDED:
            folder = reference / ('1_cs231n' if part == 1 else '2_pytorch')
            env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
            proc = subprocess.run([sys.executable, str(stage / 'check.py'), '--record', '--part', str(part),
                                   '--folder', str(folder)], capture_output=True, text=True, env=env,
                                  timeout=RECORD_TIMEOUT)
            npz = stage / ROOT / f'part{part}' / 'expected.npz'
            if proc.returncode != 0 or not npz.is_file():
                raise SelfCheckError(f'recording the self-check\'s expected outputs on {folder} failed:\n'
                                     + (proc.stdout + proc.stderr)[-4000:])
            out[f'{ROOT}/part{part}/expected.npz'] = npz.read_bytes()
    return out


def build_files() -> dict[str, bytes]:
    """The self-check's files for the starter zip (paths relative to the zip's assignment/ root)."""
    return record(source_files())


def write(files: dict[str, bytes], out: Path) -> None:
    shutil.rmtree(out / ROOT, ignore_errors=True)
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
