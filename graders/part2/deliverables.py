"""The Part 2 deliverables: logs, plots, extra.md and 2_pytorch.pdf, found under the names students use.

Logs and extra.md are read here as plain text. Images and the PDF are decoded only in the sandbox
(`part2_probe.image_stats` / `pdf_pages`): what comes back is width, height and pixel spread, checked
here, and for the report a thumbnail's plain pixels (graders/engine/pictures.py encodes it). Saved
models (`*.pt`) are never opened.
"""

from __future__ import annotations

import re
from pathlib import Path

from graders.engine import companions, pictures, untrusted
from graders.engine.bridge import SubmissionRaised
from graders.engine.checks import describe
from graders.engine.outcome import Note
from graders.engine.plugin import PICTURE, fail
from graders.part2.train_log import PROGRESS, TEST, parse_train_log

PROBE = 'part2_probe'
# The figures `check_log` records (record_property) that the class views read back (graders/classroom/
# records.py, dashboard.py: claimed vs measured): named once, here, where they are written.
CLAIMED, GRADERS_ACCURACY, FLAG = 'claimed test accuracy', "grader's accuracy", 'flag'
TEXT_BYTES = 20 << 20         # logs and extra.md longer than this are read up to here
MAX_FILES = 5000
BLANK_STD = 1.0               # grayscale spread (0-255) of a single-colour image is 0
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
PLOTS = ('lossvstrain', 'valaccuracy', 'gridfilt')
# What the assignment asks of each model: MyModel (Q8.8) has a log and two curves, no filter grid.
MODEL_PLOTS = {'softmax': PLOTS, 'twolayernn': PLOTS, 'convnet': PLOTS, 'mymodel': PLOTS[:2]}
PLOT_WORDS = {'lossvstrain': 'loss plot', 'valaccuracy': 'validation accuracy plot', 'gridfilt': 'filter grid'}
# Names students give their files, compared without case, '-', '_', spaces or dots.
MODEL_NAMES = {'softmax': ('softmax', 'softmaxclassifier'),
               'twolayernn': ('twolayernn', 'twolayer', 'twolayernet', '2layernn', 'twolayernetwork', 'mlp'),
               'convnet': ('convnet', 'cnn', 'conv', 'convolutional', 'convnn', 'convolutionalnet',
                           'convnetwork', 'convolutionalnn'),
               'mymodel': ('mymodel', 'mynet', 'mycnn', 'mymodelcnn')}
# A copy's suffix after the name: 'convnet_loss (1).png', 'cnn_lossvstrain2.png', 'conv_loss_copy.png'.
COPY_SUFFIX = re.compile(r'(?:\d{1,2}|copy\d{0,2}|final|new)?')
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
    followed: `graders.engine.untrusted.walk`), shallowest first; hidden folders and __pycache__ skipped."""
    found = []
    for rel, entry in untrusted.walk(root, max_entries=4 * MAX_FILES, skip=('__pycache__',), skip_hidden=True):
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


def _plain(path: str) -> tuple[list[str], str, str]:
    """'CNN/Loss-vs-Train (1).PNG' -> (['cnn'], 'lossvstrain1', '.png')."""
    *folders, name = path.split('/')
    stem, _, suffix = name.rpartition('.')
    return [key(f) for f in folders], key(stem), '.' + suffix.lower()


def _named(stem: str, names: set[str]) -> bool:
    """`stem` is one of `names`, possibly followed by a copy's suffix."""
    return any(stem.startswith(n) and COPY_SUFFIX.fullmatch(stem[len(n):]) for n in names)


def find_plot(files: list[str], model: str, plot: str) -> tuple[str | None, str | None]:
    """(the submitted file that is <model>_<plot>.png, a note naming it when its name is not the
    assignment's, or None): any case and separator, the model's usual names (convnet, conv, cnn...),
    the plot's (loss, lossvstrain, valacc...), a copy's suffix, or the plot's name in a folder named
    for the model (`CNN/loss.png`). For the convnet's curves, Q8.7's text itself says
    `twolayernn_lossvstrain.png` and `twolayernn_valaccuracy.png`: a second file of that name (the
    first is the two-layer network's) is the convnet's."""
    images = [(path, *_plain(path)) for path in files if _plain(path)[2] in IMAGE_SUFFIXES]
    canonical = f'{model}_{plot}'
    for path, _, stem, _ in images:
        if stem == key(canonical):
            return path, None
    for path, folders, stem, _ in images:
        if _named(stem, plot_stems(model, plot)) or (
                any(f in MODEL_NAMES[model] for f in folders[-2:]) and _named(stem, set(PLOT_NAMES[plot]))):
            return path, f'{path} accepted as {canonical}.png (the {model} {PLOT_WORDS[plot]})'
    if model == 'convnet' and plot != 'gridfilt':
        twolayer = [path for path, folders, stem, _ in images if _named(stem, plot_stems('twolayernn', plot))]
        if len(twolayer) > 1:
            return twolayer[1], (f'{twolayer[1]} accepted as {canonical}.png: Q8.7 names the convnet\'s curves '
                                 f'twolayernn_*.png, and {twolayer[0]} is the two-layer network\'s')
    return None, None


def read_text(root: Path, path: str) -> str:
    """root/path as text, up to TEXT_BYTES ('' when it is no longer a regular file: links and FIFOs
    planted since the listing are not followed, `graders.engine.untrusted.read_text`)."""
    return untrusted.read_text(root, path, TEXT_BYTES)


def check_log(root: Path, files: list[str], model: str, record, measured: dict, notes: list[str],
                settings: dict) -> float:
    """<model>.log parses as a train.py log and ends with its `test set:` line; the accuracy it claims
    is recorded beside the grader's own measurement, and flagged for review (a note, no deduction)
    when the gap cannot come from the grader's shorter budget (`implausible_claim`)."""
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
    record(CLAIMED, round(claimed, 4))
    if model in measured:
        record(GRADERS_ACCURACY, round(measured[model], 4))
    why = implausible_claim(model, claimed, measured.get(model), settings)
    if why:
        record(FLAG, 'claim the grader\'s measurement cannot explain')
        notes.append(Note.review(f'flagged for review: {path} claims {claimed:.3f} test accuracy, {why}'))
    return claimed


def implausible_claim(model: str, claimed: float, grader: float | None, settings: dict) -> str | None:
    """Why a log's claimed test accuracy cannot come from the submitted model (None when it can).

    The grader trains for a short budget; the student trained for up to hours, so a claim above the
    grader's figure is expected. It is flagged only when no budget explains it (rubric [part2]):
    - above what this kind of model reaches on CIFAR-10 with any training (`claim_ceiling`: a linear
      classifier or a one-hidden-layer network on raw pixels);
    - the grader's run stayed below its threshold (every correct model of the calibration zoo clears
      it within the grader's budget), yet the log claims `claim_margin` more than that threshold;
    - more than `claim_max_gain` above the grader's figure: the most a full budget added to the
      grader's short run (the reference and the zoo, benchmarks/calibrate_part2.py), with a margin."""
    part2 = settings.get('part2', {})
    ceiling = part2.get('claim_ceiling', {}).get(model)
    if ceiling is not None and claimed > ceiling:
        return (f'more than any {model} model reaches on CIFAR-10 ({ceiling:.2f}); the log may not come '
                'from this code')
    if grader is None:
        return None
    threshold = settings.get('part2_training', {}).get(model, {}).get('threshold')
    if threshold is not None and grader < threshold and claimed > threshold + part2.get('claim_margin', 0.1):
        return (f'but the grader\'s own training of the submitted model stayed at {grader:.3f}, below the '
                f'{threshold:.2f} every correct model reaches within the grader\'s budget')
    gain = part2.get('claim_max_gain', {}).get(model)
    if gain is not None and claimed - grader > gain:
        return (f'{claimed - grader:.2f} above the grader\'s own training of the submitted model '
                f'({grader:.3f}), more than longer training adds ({gain:.2f})')
    return None


def image_problem(worker, path: str) -> str | None:
    """Why the image at `path` (relative to the submission) is not a usable plot, or None."""
    return inspect_image(worker, path, thumbnail=False)[0]


def inspect_image(worker, path: str, thumbnail: bool = True) -> tuple[str | None, pictures.Picture | None]:
    """(why the image at `path` is not a usable plot or None, its thumbnail for the report): the sandbox
    decodes it and sends back its pixels scaled to fit pictures.THUMBNAIL_SIDE; the picture is encoded
    here from them (graders/engine/pictures.py), or is a note when there are none."""
    try:
        stats = worker.call(f'{PROBE}:image_stats', path, pictures.THUMBNAIL_SIDE if thumbnail else 0)
    except SubmissionRaised as err:
        problem = f'{path} is not a readable PNG or JPEG image ({err.exc_type}: {err.message[:200]})'
        return problem, pictures.Picture(path, note=f'no picture: {problem}') if thumbnail else None
    picture = pictures.thumbnail(path, stats.get('thumbnail') if type(stats) is dict else None) if thumbnail else None
    return _stats_problem(path, stats), picture


def _stats_problem(path: str, stats) -> str | None:
    if type(stats) is not dict or not all(type(stats.get(k)) in (int, float) for k in ('width', 'height', 'std')):
        return f'{path} could not be decoded (got {describe(stats)})'
    if stats['width'] < 8 or stats['height'] < 8:
        return f'{path} is only {stats["width"]}x{stats["height"]} pixels'
    if not stats['std'] > BLANK_STD:
        return f'{path} is blank (a single colour)'
    return None


def check_plots(worker, files: list[str], model: str, record, notes: list[str] | None = None) -> None:
    """<model>_lossvstrain.png, <model>_valaccuracy.png and (but for MyModel) <model>_gridfilt.png
    exist (`find_plot`: the names students use, each accepted variant named in a note), decode as images
    and are not blank."""
    problems, found = [], []
    for plot in MODEL_PLOTS[model]:
        path, note = find_plot(files, model, plot)
        if path is None:
            problems.append(f'{model}_{plot}.png is missing')
            continue
        found.append(path)
        if note and notes is not None and note not in notes:
            notes.append(note)
        problem, picture = inspect_image(worker, path)
        record(PICTURE, picture)
        if problem:
            problems.append(problem)
    if found:
        record('plots', ', '.join(found))
    if problems:
        others = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES) and f not in found]
        hint = f' (other images in the submission: {", ".join(others[:8])})' if others else ''
        fail('; '.join(problems) + hint)


def check_pdf(worker, root: Path, files: list[str], record) -> None:
    """2_pytorch.pdf exists, renders, and shows something. The assignment has it uploaded as its own
    file beside 2_pytorch.zip: one in the zip is used, else the one uploaded beside it
    (graders/engine/companions.py copied it into the scratch copy)."""
    path = find(files, {'2pytorch'}, ('.pdf',))
    if path is None:
        beside = companions.uploaded(root)
        path = beside[0] if beside else None
        if path is not None:
            record('pdf', f'{path.rsplit("/", 1)[-1]}, uploaded beside the zip')
    if path is None:
        fail('2_pytorch.pdf (the plots, made by make_pdf.py or collect_submission.sh) is missing: neither '
             'in the zip nor uploaded beside it')
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
