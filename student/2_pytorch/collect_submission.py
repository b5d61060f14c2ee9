"""Pack your submission and say what is still unfinished, on Linux, macOS and Windows alike.

    python collect_submission.py        # in 1_cs231n/ or in 2_pytorch/
    sh collect_submission.sh            # the same (Linux, macOS, Git Bash)

Part 1 (1_cs231n/) makes 1_cs231n.zip: every file of the folder, with a PDF of each notebook made
first by notebook_to_pdf.py (a headless Chrome or Chromium, or plain PDFs made by matplotlib where no
browser is installed). Part 2 (2_pytorch/) makes 2_pytorch.zip: the models, train.py and the other
code, the run scripts, the logs, the plots, the notebooks, extra.md, predictions.csv and
2_pytorch.pdf, which make_pdf.py first remakes from the plots, and mymodel_weights.pt.

Never packed: virtual environments, the CIFAR-10 data, build outputs, caches, saved models (but
MyModel's weights, mymodel_weights.pt) and older zips. Reported at the end, with the zip made anyway: missing deliverables, notebooks with
cells that failed or never ran, stubs left in the code (`raise NotImplementedError` under a
`# TODO`), logs without their final test line.

Exit status: 0 when everything is there; 1 when the zip was made but something is missing or
unfinished (read the list); 2 when no zip could be made.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

# What each part's zip holds and what must be in it. `include` patterns (glob, relative to the
# part's folder) select files for Part 2; Part 1 packs the whole folder.
PARTS = {
    '1_cs231n': {
        'zip': '1_cs231n.zip',
        'notebooks': ['softmax.ipynb', 'two_layer_net.ipynb', 'layers.ipynb', 'convnet.ipynb'],
        'code': ['load_cifar10_tvt.py', 'cs231n/layers.py', 'cs231n/classifier_trainer.py',
                 'cs231n/classifiers/softmax.py', 'cs231n/classifiers/linear_classifier.py',
                 'cs231n/classifiers/neural_net.py', 'cs231n/classifiers/convnet.py'],
        'include': None,
    },
    '2_pytorch': {
        'zip': '2_pytorch.zip',
        'notebooks': ['softmax-classifier.ipynb', 'filter-viz.ipynb'],
        'code': ['train.py', 'test.py', 'cifar10.py', 'challenge_data.py', 'vis_utils.py',
                 'models/__init__.py', 'models/softmax.py', 'models/twolayernn.py',
                 'models/convnet.py', 'models/mymodel.py', 'run_softmax.sh', 'run_twolayernn.sh',
                 'run_convnet.sh', 'run_mymodel.sh', 'extra.md', 'predictions.csv'],
        'include': ['models/*.py', 'train.py', 'test.py', 'cifar10.py', 'challenge_data.py',
                    'vis_utils.py', 'run_*.sh', '*.log', '*.png', '*.ipynb', 'extra.md',
                    'predictions.csv', '2_pytorch.pdf', 'mymodel_weights.pt'],
    },
}
# Part 2's logs and plots, per model. MyModel needs no filter grid (the assignment asks for a log,
# a loss plot and a validation plot).
MODELS = ['softmax', 'twolayernn', 'convnet', 'mymodel']
PLOTS = {model: ['lossvstrain', 'valaccuracy', 'gridfilt'] for model in MODELS}
PLOTS['mymodel'] = ['lossvstrain', 'valaccuracy']
TEST_LINE = re.compile(r'test set: .*Accuracy')
TRAIN_LINE = re.compile(r'Train Epoch: ')

# Folders never packed, wherever they are, and files never packed.
SKIP_DIRS = {'.git', '__pycache__', '.ipynb_checkpoints', '.pytest_cache', 'build', 'data',
             'cifar-10-batches-py', '.venv', 'venv', '.idea', '.vscode'}
SKIP_SUFFIXES = ('.so', '.pyd', '.pyc', '.o', '.zip', '.pt', '.pth', '.tar.gz', '.npy', '.npz')
SKIP_NAMES = {'.DS_Store', 'Thumbs.db', 'im2col_cython.c', 'collect_submission.log'}
# Packed although its suffix is skipped: MyModel's weights (a few MB), with which the graders check
# that predictions.csv comes from MyModel.
KEEP_NAMES = {'mymodel_weights.pt'}
STUB = re.compile(r'^\s*raise NotImplementedError\b')
TODO = re.compile(r'^\s*#\s*TODO')


def detect_part(folder):
    """'1_cs231n' or '2_pytorch', from what the folder holds."""
    if (folder / 'cs231n').is_dir():
        return '1_cs231n'
    if (folder / 'models').is_dir() or (folder / 'train.py').is_file():
        return '2_pytorch'
    raise SystemExit('collect_submission.py: error: run me in 1_cs231n/ or 2_pytorch/ '
                     '(found neither cs231n/ nor models/ in {})'.format(folder))


def is_environment(path):
    """A virtual environment or conda env, whatever its name (it holds pyvenv.cfg or conda-meta)."""
    return (path / 'pyvenv.cfg').is_file() or (path / 'conda-meta').is_dir()


def packable_files(folder):
    """Every file under folder that may go into a zip, as sorted POSIX paths relative to it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(str(folder)):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not is_environment(here / d)
                             and not (here / d).is_symlink())
        for name in filenames:
            path = here / name
            skipped = name in SKIP_NAMES or (name.endswith(SKIP_SUFFIXES) and name not in KEEP_NAMES)
            if skipped or path.is_symlink():
                continue
            found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def selected(files, patterns):
    """The files matching any of the glob patterns (one folder level per '/', as the shell does)."""
    if patterns is None:
        return files
    return [f for f in files if any(Path(f).match(p) and f.count('/') == p.count('/') for p in patterns)]


def notebook_problems(path):
    """What is unfinished in a saved notebook: no outputs at all, cells that raised, cells never run."""
    try:
        nb = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as err:
        return [('unreadable', path.name, 'is not a notebook ({})'.format(err))]
    code = [(i, c) for i, c in enumerate(nb.get('cells', []), 1)
            if c.get('cell_type') == 'code' and ''.join(c.get('source', [])).strip()]
    if code and not any(c.get('outputs') or c.get('execution_count') for _, c in code):
        return [('not run', path.name, 'has no outputs (run it top to bottom: Kernel > Restart & Run All, '
                                       'then save it)')]
    failed = []
    for i, cell in code:
        errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
        if errors:
            failed.append(('failed', path.name, 'cell {} stopped with {}: {}'.format(
                i, errors[0].get('ename', 'an error'), errors[0].get('evalue', '')[:200])))
        elif cell.get('execution_count') is None and not cell.get('outputs'):
            failed.append(('unrun cell', path.name, 'cell {} was not run'.format(i)))
    if len(failed) > 5:
        failed = failed[:5] + [('unrun cell', path.name, 'and {} more cells like these'.format(len(failed) - 5))]
    return failed


def leftover_stubs(folder, files):
    """`raise NotImplementedError` lines right under a `# TODO` (the starter's stubs), as file:line."""
    found = []
    for rel in files:
        if not rel.endswith('.py'):
            continue
        try:
            lines = (folder / rel).read_text(encoding='utf-8', errors='replace').splitlines()
        except OSError:
            continue
        previous = ''
        for number, line in enumerate(lines, 1):
            if STUB.match(line) and TODO.match(previous):
                found.append(('stub', '{}:{}'.format(rel, number), 'still raises NotImplementedError: '
                                                                   'write this part'))
            if line.strip():
                previous = line
    return found


def run_python(folder, *argv):
    """Run one of the folder's helper scripts with this Python; its output goes to the terminal."""
    return subprocess.call([sys.executable] + list(argv), cwd=str(folder))


def make_pdfs(folder, part, notebooks):
    """Part 1: a PDF per notebook; Part 2: 2_pytorch.pdf from the plots. Problems as text lines."""
    if part == '1_cs231n':
        if notebooks:
            run_python(folder, 'notebook_to_pdf.py', *notebooks)
        return [('missing', Path(n).with_suffix('.pdf').name, 'could not be made (see above)')
                for n in notebooks if not (folder / Path(n).with_suffix('.pdf')).is_file()]
    if any(folder.glob('*.png')) and run_python(folder, 'make_pdf.py') != 0:
        return [('incomplete', '2_pytorch.pdf', 'make_pdf.py failed (see above): it may be outdated')]
    return []


def part2_problems(folder):
    """Part 2's logs and plots: each model's log ends with the test line, its plots exist.
    Problems are (kind, file, why) triples, as everywhere in this script."""
    problems = []
    for model in MODELS:
        log = folder / '{}.log'.format(model)
        if not log.is_file():
            problems.append(('missing', log.name, '(run ./run_{}.sh)'.format(model)))
        else:
            text = log.read_text(encoding='utf-8', errors='replace')
            if not TRAIN_LINE.search(text):
                problems.append(('incomplete', log.name, 'has no training lines: run_{}.sh failed? the '
                                                         'error is at the end of the log'.format(model)))
            elif not TEST_LINE.search(text):
                problems.append(('incomplete', log.name, "has no final 'test set: ... Accuracy' line"))
        for plot in PLOTS[model]:
            name = '{}_{}.png'.format(model, plot)
            if not (folder / name).is_file():
                problems.append(('missing', name, '(run the notebook that makes it)'))
    return problems


SELF_CHECK = 'check.py'          # the starter's self-check, beside the part folders
SELF_CHECK_TIMEOUT = 600


def self_check(folder, part):
    """The self-check's one-line summary of this part (`python ../check.py --summary`), printed before
    the zip is made; whatever it finds, or if it is missing or fails, the zip is made all the same."""
    script = folder.parent / SELF_CHECK
    if not script.is_file():
        return
    argv = [sys.executable, str(script), '--part', part[0], '--folder', str(folder), '--summary']
    try:
        subprocess.call(argv, cwd=str(folder.parent), timeout=SELF_CHECK_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as err:
        print('collect_submission: the self-check did not run ({}); the zip is made anyway'.format(err),
              file=sys.stderr)


def write_zip(folder, name, files):
    """The zip of the files, written through a temporary name so that a failure leaves no half zip."""
    partial = folder / (name + '.partial')
    with zipfile.ZipFile(str(partial), 'w', zipfile.ZIP_DEFLATED) as z:
        for rel in files:
            z.write(str(folder / rel), rel)
    os.replace(str(partial), str(folder / name))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--folder', default=os.path.dirname(os.path.abspath(__file__)),
                        help='the part folder to pack (default: the one holding this script)')
    args = parser.parse_args(argv)
    folder = Path(args.folder).resolve()
    part = detect_part(folder)
    spec = PARTS[part]

    notebooks = [n for n in spec['notebooks'] if (folder / n).is_file()]
    problems = [('missing', n, '') for n in spec['code'] + spec['notebooks'] if not (folder / n).is_file()]
    for notebook in notebooks:
        problems += notebook_problems(folder / notebook)
    problems += make_pdfs(folder, part, notebooks)
    if part == '2_pytorch':
        problems += part2_problems(folder)
        if not (folder / '2_pytorch.pdf').is_file():
            problems.append(('missing', '2_pytorch.pdf', '(make the plots first)'))

    files = selected(packable_files(folder), spec['include'])
    problems += leftover_stubs(folder, files)
    self_check(folder, part)
    try:
        write_zip(folder, spec['zip'], files)
    except OSError as err:
        print('collect_submission.py: error: could not write {}: {}'.format(spec['zip'], err), file=sys.stderr)
        return 2
    print('wrote {} ({} files)'.format(spec['zip'], len(files)))
    if problems:
        print('collect_submission: WARNING: {} was made, but these deliverables are missing or incomplete:'
              .format(spec['zip']), file=sys.stderr)
        for kind, name, why in problems:
            print('  {}: {} {}'.format(kind, name, why).rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
