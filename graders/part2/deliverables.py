"""The Part 2 deliverables: logs, plots, extra.md and 2_pytorch.pdf, found under the names students use.

Logs and extra.md are read here as plain text. Images and the PDF are decoded only in the sandbox
(`part2_probe.image_stats` / `pdf_pages`): what comes back is width, height and pixel spread, checked
here. Saved models (`*.pt`) are never opened.
"""

from __future__ import annotations

import re
from pathlib import Path

from graders import untrusted
from graders.bridge import SubmissionRaised
from graders.checks import describe
from graders.plugin import fail
from graders.train_log import PROGRESS, TEST, parse_train_log

PROBE = 'part2_probe'
TEXT_BYTES = 20 << 20         # logs and extra.md longer than this are read up to here
MAX_FILES = 5000
BLANK_STD = 1.0               # grayscale spread (0-255) of a single-colour image is 0
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
PLOTS = ('lossvstrain', 'valaccuracy', 'gridfilt')
# Names students give their files, compared without case, '-', '_', spaces or dots.
MODEL_NAMES = {'softmax': ('softmax',), 'twolayernn': ('twolayernn', 'twolayer', 'twolayernet', '2layernn'),
               'convnet': ('convnet', 'cnn'), 'mymodel': ('mymodel',)}
PLOT_NAMES = {'lossvstrain': ('lossvstrain', 'lossvstraining', 'lossvsiter', 'lossvsiteration', 'loss',
                              'trainloss', 'losscurve'),
              'valaccuracy': ('valaccuracy', 'valacc', 'validationaccuracy', 'accuracy', 'accuracyvsiter'),
              'gridfilt': ('gridfilt', 'gridfilter', 'gridfilters', 'filters', 'filtergrid', 'filt')}
EMAIL = re.compile(r'[\w.+-]+@[\w-]+(\.[\w-]+)+')
NAMED = re.compile(r'(?im)^[\s>*#_-]*(?:full\s+|student\s+)?name[*_\s]*[:=|-]\s*[*_]*\s*\w')
CAPITALIZED_PAIR = re.compile(r"\b[A-Z][\w'-]+\s+[A-Z][\w'-]+")
ACCURACY = re.compile(r'(?is)accura.{0,80}?\d+(\.\d+)?\s*%?|\d+(\.\d+)?\s*%.{0,40}?accura')
MIN_WORDS = 30


def key(name: str) -> str:
    """'TwoLayerNN-Loss_vs_Train' -> 'twolayernnlossvstrain'."""
    return re.sub(r'[^a-z0-9]', '', name.lower())


def submitted_files(root: Path) -> list[str]:
    """Relative paths of the regular files of the submission (links and special files left out, never
    followed: `graders.untrusted.walk`), shallowest first; hidden folders and __pycache__ skipped."""
    found = []
    for rel, entry in untrusted.walk(root, max_entries=4 * MAX_FILES):
        if any(part.startswith('.') or part == '__pycache__' for part in rel[:-1]):
            continue
        if entry.kind == untrusted.FILE:
            found.append('/'.join(rel))
        if len(found) > MAX_FILES:
            break
    return sorted(found, key=lambda p: (p.count('/'), p))


def find(files: list[str], stems: set[str], suffixes: tuple[str, ...]) -> str | None:
    """The shallowest file whose name (compared by `key`) is one of `stems` with one of `suffixes`."""
    for path in files:
        name = path.rsplit('/', 1)[-1]
        stem, dot, suffix = name.rpartition('.')
        if dot and '.' + suffix.lower() in suffixes and key(stem) in stems:
            return path
    return None


def plot_stems(model: str, plot: str) -> set[str]:
    return {m + p for m in MODEL_NAMES[model] for p in PLOT_NAMES[plot]}


def read_text(root: Path, path: str) -> str:
    """root/path as text, up to TEXT_BYTES ('' when it is no longer a regular file: links and FIFOs
    planted since the listing are not followed, `graders.untrusted.read_text`)."""
    return untrusted.read_text(root, path, TEXT_BYTES)


def check_log(root: Path, files: list[str], model: str, record, measured: dict, notes: list[str],
              claim_gap: float) -> float:
    """<model>.log parses as a train.py log and ends with its `test set:` line; the accuracy it claims
    is recorded, and flagged in the notes when it exceeds the grader's own measurement by `claim_gap`."""
    wanted = f'{model}.log'
    path = find(files, {key(model)}, ('.log', '.txt'))
    if path is None:
        fail(f'{wanted} is missing: run_{model}.sh writes it (python -u train.py ... | tee {wanted})')
    lines = read_text(root, path).splitlines()
    log = parse_train_log('\n'.join(lines))
    if not log.steps and log.test_accuracy is None:
        fail(f'{path} holds no train.py output (no "Train Epoch: ..." lines and no "test set:" line)')
    last = next((line for line in reversed(lines) if PROGRESS.search(line) or TEST.search(line)), '')
    if log.test_accuracy is None or not TEST.search(last):
        fail(f'{path} does not end with the "test set: ..." line: training did not finish, or the log was '
             f'cut ({len(log.steps)} progress lines)')
    claimed = log.test_accuracy
    record('claimed test accuracy', round(claimed, 4))
    if model in measured:
        record("grader's accuracy", round(measured[model], 4))
    if model in measured and claimed - measured[model] > claim_gap:
        record('flag', 'claim far above the grader\'s measurement')
        notes.append(f'flagged for review: {path} claims {claimed:.3f} test accuracy, but the grader\'s own '
                     f'training of the submitted model reached {measured[model]:.3f}')
    return claimed


def image_problem(worker, path: str) -> str | None:
    """Why the image at `path` (relative to the submission) is not a usable plot, or None."""
    try:
        stats = worker.call(f'{PROBE}:image_stats', path)
    except SubmissionRaised as err:
        return f'{path} is not a readable PNG or JPEG image ({err.exc_type}: {err.message[:200]})'
    if type(stats) is not dict or not all(type(stats.get(k)) in (int, float) for k in ('width', 'height', 'std')):
        return f'{path} could not be decoded (got {describe(stats)})'
    if stats['width'] < 8 or stats['height'] < 8:
        return f'{path} is only {stats["width"]}x{stats["height"]} pixels'
    if not stats['std'] > BLANK_STD:
        return f'{path} is blank (a single colour)'
    return None


def check_plots(worker, files: list[str], model: str, record) -> None:
    """<model>_lossvstrain.png, <model>_valaccuracy.png and <model>_gridfilt.png exist (common variants
    of the names accepted), decode as images and are not blank."""
    problems, found = [], []
    for plot in PLOTS:
        path = find(files, plot_stems(model, plot), IMAGE_SUFFIXES)
        if path is None:
            problems.append(f'{model}_{plot}.png is missing')
            continue
        found.append(path)
        problem = image_problem(worker, path)
        if problem:
            problems.append(problem)
    if found:
        record('plots', ', '.join(found))
    if problems:
        others = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES) and f not in found]
        hint = f' (other images in the submission: {", ".join(others[:8])})' if others else ''
        fail('; '.join(problems) + hint)


def check_pdf(worker, files: list[str]) -> None:
    """2_pytorch.pdf exists, renders, and shows something."""
    path = find(files, {'2pytorch'}, ('.pdf',))
    if path is None:
        fail('2_pytorch.pdf (the plots, made by make_pdf.py or collect_submission.sh) is missing')
    try:
        pages = worker.call(f'{PROBE}:pdf_pages', path, timeout=180)
    except SubmissionRaised as err:
        fail(f'{path} does not render: {err.message[:300]}')
    if type(pages) is not list or not all(type(p) is dict and type(p.get('std')) is float for p in pages):
        fail(f'{path} could not be rendered (got {describe(pages)})')
    if not pages:
        fail(f'{path} has no pages')
    if not any(p['std'] > BLANK_STD for p in pages):
        fail(f'{path} renders as {len(pages)} blank page(s)')


def check_extra(root: Path, files: list[str]) -> None:
    """extra.md names a person and an email, gives a best accuracy and says what was tried."""
    path = find(files, {'extra'}, ('.md', '.markdown', '.txt'))
    if path is None:
        fail('extra.md is missing (your name, email, best accuracy and what you tried)')
    text = read_text(root, path)
    email = EMAIL.search(text)
    missing = []
    if not (NAMED.search(text) or (email and CAPITALIZED_PAIR.search(text_line(text, email.start())))):
        missing.append('your name (e.g. "Name: Ada Lovelace")')
    if not email:
        missing.append('an email address')
    if not ACCURACY.search(text):
        missing.append('your best accuracy (e.g. "best test accuracy: 71%")')
    if len(re.findall(r'[A-Za-z]{2,}', text)) < MIN_WORDS:
        missing.append(f'what you tried (a few sentences; the file has under {MIN_WORDS} words)')
    if missing:
        fail(f'{path} lacks ' + '; '.join(missing))


def text_line(text: str, at: int) -> str:
    """The line of `text` that holds offset `at`."""
    start = text.rfind('\n', 0, at) + 1
    end = text.find('\n', at)
    return text[start:end if end >= 0 else len(text)]
