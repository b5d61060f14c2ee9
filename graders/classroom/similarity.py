"""Code similarity across a class and against known solutions: `hw1grade similarity DIR [--corpus DIR ...]`.

What is compared. Only the code students write, function by function (`UNITS`): the bodies of the Part 1
functions that the starter leaves to them, Part 2's model files, and train.py's optimizer and update-step
regions. Inside each unit the student's text is found in this order:
- our reference's `# BEGIN SOLUTION` ... `# END SOLUTION` regions (graders/course/starter.py), for corpora of it;
- the 2019 starter's banners: a `# TODO` comment block down to the `END OF YOUR CODE` banner (each pair
  is one region; a function may hold several);
- otherwise the whole function (class, file): our starter marks a region only with a `# TODO` comment and
  a `raise`, and students delete markers or write outside them.
Whatever the text, the k-grams of our starter's own version of the unit (`student/`) are removed from its
fingerprints: the given code, docstrings and stubs never count, and two untouched starters score zero.
`--starter DIR` adds another starter's whole units (the 2019 one, if the TA has it): then its given code
never counts either, even where a student deleted its banners (without it, such a student's given code
counts, and only against others who did the same).

The measure. Token fingerprints with winnowing (Schleimer, Wilkerson and Aiken 2003, as MOSS): the text
is tokenized (our own regex tokenizer, below), comments and whitespace are dropped, local names become
`V`, long strings `S`; every k-gram of that normalized text is hashed and winnowing keeps the smallest
hash of each window of w k-grams, so that any match of k + w - 1 normalized characters or more is found.
Renaming variables, moving or rewriting comments and reflowing whitespace change nothing; reordering
statements changes only the k-grams that span the moved boundaries. A pair's similarity for a unit is
shared fingerprints / the smaller side's fingerprints (also reported per side); it is flagged at
`THRESHOLD` or above when both sides hold at least `MIN_FINGERPRINTS` fingerprints of their own.
benchmarks/calibrate_similarity.py prints the calibration: on 4 independent solutions of each of 8 units
written for it (fixtures/similarity/) and 3 disguised copies of each, with k = 14 normalized characters
and a window of 7, the highest similarity between independent solutions is 0.54 (max_pool_backward_naive
loops; the others 0.16-0.43) and the lowest of a copy 0.84: THRESHOLD 0.7 is about midway. The smallest
calibrated solution holds 46 fingerprints of its own; units our reference fills with fewer than 30
(predict, affine_forward, relu_*, affine_backward, LinearClassifier.train, the Softmax and TwoLayerNN
models: one to five lines that every correct student writes alike) are reported as not judged, since
agreement there proves nothing; so is train.py below 100 (`Unit.minimum`): the optimizer line and the
update step are PyTorch's idiom, and independent solutions of it reach 0.79.

Maintained libraries, evaluated first (copydetect 0.5.0, PyPI, MIT licence, by B. Lingenfelter; needs
numpy, pygments, jinja2, matplotlib, tqdm, all small or already here; inspected with `pip download --no-deps`):
- its `CopyDetector` compares whole files found in folders and writes its own report: no function regions,
  and boilerplate only as whole files. Its `CodeFingerprint(fp=...)` does take any text, so it can
  fingerprint per function, but its `hashed_kgrams` uses Python's `hash()`, salted per process: winnowing
  keeps different fingerprints from run to run, so a share near the threshold could flip between runs and
  a calibration would not reproduce.
- its `filter_code` (pygments; every name, attribute and library call becomes `V`, strings `S`) separates
  copies from independent solutions as well as ours on the calibration set (`calibrate_similarity.py
  --copydetect-filter`: highest independent 0.49, lowest copy 0.79, against ours 0.54 and 0.84), but
  pygments lexes about 5 times slower (3.2 s against 0.7 s for 180 KB of layers.py), which is most of
  the time of a class of 300, and its offsets misplace class names when mapped back to the source.
So copydetect serves here for the parts that are right as they are: `winnow` (robust winnowing, with
positions), `find_fingerprint_overlap` and `get_copied_slices` (matched stretches from fingerprint
positions) and `highlight_overlap` (marks them in the original text, HTML-escaped). Tokenizing (one
regular expression; keeps attributes, `np`/`torch`, builtins and keyword-argument names, and maps every
normalized character to its token's span in the source), deterministic k-gram hashes (numpy, 52 bits:
copydetect's pure-Python winnow keeps hashes in a float buffer) and the per-unit comparison of a whole
class (one matrix product per unit over the fingerprints at least two submissions share) are ours.
pycode_similar 1.4 (MIT) works per function but diffs normalized AST dumps pair by pair with difflib: no
fingerprints to index a class by, no positions in the source to highlight, and code must parse. `dolos`
on PyPI is an unrelated package (the Dolos plagiarism tool is JavaScript).

Threat model. Submissions are hostile text and nothing of them runs: files are read through intake's
checks (zip-slip names, links, special files, entry count refused; junk skipped), never extracted to disk;
only the unit files are read, each capped at `MAX_SOURCE_BYTES`. Parsing is `ast.parse` (no execution)
with a line-based fallback for text that does not parse or is too deeply nested; the tokenizer is a
regular expression without backtracking traps. Every submitted text in the HTML is escaped.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import csv
import functools
import html
import keyword
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graders import paths
from graders.classroom.submissions import discover
from graders.engine import intake
from graders.engine.outcome import UserError

STARTER = paths.STUDENT
PART_FOLDERS = intake.PART_FOLDERS

MAX_SOURCE_BYTES = 256 * 1024      # a unit file larger than this is not read (the starter's are < 16 KiB)
MAX_CORPUS_ENTRIES = 50_000        # entries walked in one corpus folder (a cloned repository)
NOISE_CHARS = 14                   # k: normalized characters per fingerprint (calibrated, with the window)
GUARANTEE_CHARS = 20               # any match this long is found: window w = GUARANTEE - NOISE + 1
THRESHOLD = 0.7                    # flag a unit at this similarity or above (calibrated)
MIN_FINGERPRINTS = 30              # ... when both sides have at least this many of their own (see below)
HTML_PAIRS = 200                   # flagged pairs shown side by side in similarity.html (all are in the csv)
CONTEXT_LINES = 6                  # lines shown around matched stretches (others become '...')


@dataclass(frozen=True)
class Unit:
    """A piece of code students write: `scopes` are qualified names in `path` (relative to the part's
    folder) whose text is taken, in order; () is the whole file. `minimum`: fingerprints of own code each
    side needs for the unit to be judged, where the usual MIN_FINGERPRINTS is too low (an idiom)."""
    name: str
    part: int
    path: str
    scopes: tuple[str, ...] = ()
    minimum: int = 0

    def judged_from(self, min_fingerprints: int) -> int:
        return max(min_fingerprints, self.minimum)


_LAYERS = 'cs231n/layers.py'
UNITS = (
    Unit('softmax_loss_vectorized', 1, 'cs231n/classifiers/softmax.py', ('softmax_loss_vectorized',)),
    Unit('LinearClassifier.train', 1, 'cs231n/classifiers/linear_classifier.py', ('LinearClassifier.train',)),
    Unit('LinearClassifier.predict', 1, 'cs231n/classifiers/linear_classifier.py', ('LinearClassifier.predict',)),
    Unit('two_layer_net', 1, 'cs231n/classifiers/neural_net.py', ('two_layer_net',)),
    # our starter asks for momentum and RMSProp in _step; the 2019 starter had them inline in train
    Unit('ClassifierTrainer updates', 1, 'cs231n/classifier_trainer.py',
         ('ClassifierTrainer._step', 'ClassifierTrainer.train')),
    *(Unit(name, 1, _LAYERS, (name,)) for name in (
        'affine_forward', 'affine_backward', 'relu_forward', 'relu_backward', 'conv_forward_naive',
        'conv_backward_naive', 'max_pool_forward_naive', 'max_pool_backward_naive')),
    Unit('Softmax model', 2, 'models/softmax.py'),
    Unit('TwoLayerNN model', 2, 'models/twolayernn.py'),
    Unit('CNN model', 2, 'models/convnet.py'),
    Unit('MyModel', 2, 'models/mymodel.py'),
    # The optimizer line and the four-line update step are PyTorch's idiom: independent solutions hold
    # 38-46 fingerprints and reach 0.79 (calibrate_similarity.py); judged only for far more own code.
    Unit('train.py optimizer and update', 2, 'train.py', minimum=100),
)


# ------------------------------------------------------------------------------------------------ sources

@dataclass
class Source:
    """One submission's (or one known solution's) unit files, read as text.

    name: the student (or `corpus:<where>`); files: unit path -> text; problem: why nothing was read;
    skipped: unit files left out (too large, unreadable), for the report."""
    name: str
    part: int | None
    origin: Path
    files: dict[str, str] = field(default_factory=dict)
    corpus: bool = False
    problem: str = ''
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _unit_paths(part: int) -> set[str]:
    return {u.path for u in UNITS if u.part == part}


def _read_entry(entry, skipped: list[str]) -> str | None:
    """The text of one checked entry (zip member or folder file), at most MAX_SOURCE_BYTES; None if larger
    or unreadable (with a note). Bytes that are not UTF-8 are replaced, never guessed at."""
    if entry.size > MAX_SOURCE_BYTES:
        skipped.append(f'{entry.path} is over {MAX_SOURCE_BYTES // 1024} KiB: not compared.')
        return None
    try:
        with entry.open() as f:
            data = f.read(MAX_SOURCE_BYTES + 1)
    except (*intake.READ_ERRORS, ValueError) as e:
        skipped.append(f'{entry.path} cannot be read ({e}).')
        return None
    if len(data) > MAX_SOURCE_BYTES:   # the header lied about the size
        skipped.append(f'{entry.path} is over {MAX_SOURCE_BYTES // 1024} KiB: not compared.')
        return None
    return data.decode('utf-8', errors='replace')


def _files_under(entries, root: tuple[str, ...], part: int, skipped: list[str]) -> dict[str, str]:
    wanted = {tuple(p.split('/')): p for p in _unit_paths(part)}
    found = {}
    for entry in entries:
        if entry.is_dir or entry.parts[:len(root)] != root:
            continue
        rel = wanted.get(entry.parts[len(root):])
        if rel is not None:
            text = _read_entry(entry, skipped)
            if text is not None:
                found[rel] = text
    return found


def read_source(path: Path, part: int | None, name: str) -> Source:
    """A zip or folder with intake's checks (names, links, special files, entry counts; junk skipped) and
    its part found as intake finds it; only the unit files are read, in memory."""
    source, notes = Source(name, part, Path(path)), []
    try:
        if source.origin.is_dir():
            entries = intake._drop_junk(intake._folder_entries(source.origin, intake.Limits(), notes), notes)
            kind, opened = 'folder', None
        else:
            opened = intake._open_zip(source.origin, intake.Limits())
            entries, kind = intake._drop_junk(intake._zip_entries(opened, notes), notes), 'zip'
        try:
            found, root, _ = intake.locate_part([e.path for e in entries if not e.is_dir], part, kind, notes)
            source.part, source.files = found, _files_under(entries, root, found, source.skipped)
        finally:
            if opened is not None:
                opened.close()
    except intake.IntakeError as e:
        source.problem = str(e)
    except OSError as e:
        source.problem = f'cannot be read ({e})'
    source.notes = notes
    return source


def read_corpus(folder: Path) -> list[Source]:
    """Known solutions: every Part 1 or Part 2 folder anywhere under `folder` (a cloned repository may
    hold several), and every zip in it, each one source. Links are not followed; junk is skipped."""
    folder, notes, sources = Path(folder), [], []
    label = folder.name or str(folder)
    try:
        entries = intake._drop_junk(
            intake._folder_entries(folder, intake.Limits(max_entries=MAX_CORPUS_ENTRIES), notes), notes)
    except intake.IntakeError as e:
        return [Source(f'corpus:{label}', None, folder, corpus=True, problem=str(e))]
    for candidate in intake._candidates([e.path for e in entries if not e.is_dir]):
        where = '/'.join((label, *candidate.parts))
        source = Source(f'corpus:{where}', candidate.part, folder.joinpath(*candidate.parts), corpus=True)
        source.files = _files_under(entries, candidate.parts, candidate.part, source.skipped)
        sources.append(source)
    for entry in entries:
        if not entry.is_dir and entry.parts[-1].lower().endswith('.zip'):
            zipped = read_source(folder.joinpath(*entry.parts), None, f'corpus:{label}/{entry.path}')
            zipped.corpus = True
            sources.append(zipped)
    return sources


# ------------------------------------------------------------------------------------------------ regions

@functools.lru_cache(maxsize=16)   # a file holds several units: parsed once (sources are read one by one)
def _parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _lines(text: str) -> list[str]:
    """The lines as Python (and ast's line numbers) count them: not str.splitlines, which also breaks at
    form feeds and Unicode separators, so that a student's text could not shift a unit's span."""
    return re.split(r'\r\n|\r|\n', text)


def _scope_lines(text: str, qualname: str) -> tuple[int, int] | None:
    """(first, end) line indices of the definition `qualname` ('f', 'Class', 'Class.method'); the last
    definition wins, as in Python. ast first; the indentation fallback for text that does not parse."""
    tree = _parsed(text)
    if tree is None:
        return _scope_lines_by_indent(_lines(text), qualname)
    body, node = tree.body, None
    for name in qualname.split('.'):
        matches = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                   and n.name == name]
        if not matches:
            return None
        node = matches[-1]
        body = node.body
    return node.lineno - 1, node.end_lineno


def _scope_lines_by_indent(lines: list[str], qualname: str) -> tuple[int, int] | None:
    start, end, indent = 0, len(lines), -1
    for name in qualname.split('.'):
        pattern = re.compile(rf'^([ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b')
        found = None
        for i in range(start, end):
            match = pattern.match(lines[i])
            if match and len(match[1].expandtabs()) > indent:
                found = i, len(match[1].expandtabs())
        if found is None:
            return None
        start, indent = found
        stop = start + 1
        while stop < end:
            line = lines[stop]
            if line.strip() and not line.lstrip().startswith('#') and len(line) - len(line.lstrip()) <= indent:
                break
            stop += 1
        end = stop
    return start, end


_BEGIN = re.compile(r'^\s*#\s*BEGIN SOLUTION\b')
_END = re.compile(r'^\s*#\s*END SOLUTION\b')
_TODO = re.compile(r'^\s*#+\s*TODO\b')
_END_OF_CODE = re.compile(r'END OF YOUR CODE')


def marked_regions(lines: list[str]) -> list[list[str]] | None:
    """The student-written regions of a function's lines by their markers (BEGIN/END SOLUTION, else the
    2019 starter's TODO ... END OF YOUR CODE banners), or None when it holds neither."""
    for opens, closes in ((_BEGIN, _END), (_TODO, _END_OF_CODE)):
        regions, start = [], None
        for i, line in enumerate(lines):
            if opens.search(line):
                start = i + 1
            elif closes.search(line) and start is not None:
                regions.append(lines[start:i])
                start = None
        if regions:
            return regions
    return None


def unit_text(files: dict[str, str], unit: Unit, whole: bool = False) -> str | None:
    """The student-written text of `unit` in a source's files (regions joined by newlines), or None when
    the file or every scope is missing; `whole`: the scopes' whole text, markers or not (a starter's)."""
    text = files.get(unit.path)
    if text is None:
        return None
    lines = _lines(text)
    spans = [(0, len(lines))] if not unit.scopes else [s for s in (_scope_lines(text, q) for q in unit.scopes) if s]
    if not spans:
        return None
    chunks = []
    for first, end in spans:
        block = lines[first:end]
        chunks += [block] if whole else marked_regions(block) or [block]
    return '\n'.join('\n'.join(chunk) for chunk in chunks)


# ---------------------------------------------------------------------------------------- normalization

_TOKEN = re.compile(r'''
   (?P<comment>\#[^\r\n]*)
  |(?P<string>[rRbBuUfF]{0,2}(?:\'\'\'[\s\S]*?(?:\'\'\'|\Z)|"""[\s\S]*?(?:"""|\Z)
                              |'(?:\\.|[^'\\\r\n])*'?|"(?:\\.|[^"\\\r\n])*"?))
  |(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
  |(?P<name>[^\W\d]\w*)
  |(?P<newline>\r?\n)
  |(?P<space>[ \t\f\\]+)
  |(?P<op>\*\*=?|//=?|->|:=|<<=?|>>=?|[-+*/%@&|^=<>!]=|[-+*/%@&|^~<>=.,:;()\[\]{}])
  |(?P<other>.)''', re.VERBOSE)
# Names that are the same in every solution and carry meaning: kept as written. Other names become V.
KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {
    'self', 'np', 'numpy', 'torch', 'nn', 'F', 'optim', 'math', 'scipy', 'functional'}
SHORT_STRING = re.compile(r'''^[rRbBuU]?(['"])[\w.-]{0,12}\1$''')   # dict keys like 'W1', 'stride': kept


@dataclass(frozen=True)
class Normalized:
    """The normalized text and, for each of its characters, the span of source text it stands for."""
    text: str
    starts: np.ndarray
    ends: np.ndarray


def normalize(source: str) -> Normalized:
    """Comments and whitespace out; local names -> V, other strings -> S; keywords, builtins, library
    modules, attributes (other than self's), keyword-argument names (`axis=`), numbers and operators
    kept; ';' ends each line."""
    tokens = [m for m in _TOKEN.finditer(source) if m.lastgroup not in ('comment', 'space')]
    pieces, starts, ends = [], [], []
    depth = 0
    for i, match in enumerate(tokens):
        kind, value = match.lastgroup, match[0]
        if kind == 'newline':
            if pieces and pieces[-1] != ';':
                pieces.append(';'), starts.append(match.start()), ends.append(match.end())
            continue
        if kind == 'op':
            depth = max(0, depth + (value in '([{') - (value in ')]}'))
        if kind == 'string':
            piece = value if SHORT_STRING.match(value) else 'S'
        elif kind == 'name':
            attribute = i > 0 and tokens[i - 1][0] == '.'
            owner = tokens[i - 2][0] if i > 1 else ''
            keyword_argument = depth > 0 and i + 1 < len(tokens) and tokens[i + 1][0] == '='
            kept = (value in KEPT_NAMES and not attribute) or (attribute and owner != 'self') or keyword_argument
            piece = value if kept else 'V'
        else:
            piece = value
        pieces.append(piece), starts.append(match.start()), ends.append(match.end())
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    return Normalized(''.join(pieces), np.repeat(np.array(starts, dtype=np.int64), lengths),
                      np.repeat(np.array(ends, dtype=np.int64), lengths))


def kgram_hashes(text: str, k: int) -> np.ndarray:
    """A deterministic 52-bit hash of every k-character window (polynomial, then mixed), as int64."""
    codes = np.frombuffer(text.encode('utf-32-le'), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    h = np.zeros(n, dtype=np.uint64)
    base = np.uint64(1_000_003)
    for j in range(k):
        h = h * base + codes[j:j + n]
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(12)).astype(np.int64)


@dataclass(frozen=True)
class Fingerprint:
    """The winnowed fingerprints of one unit of one source, the starter's removed.

    hashes: the distinct fingerprints; positions: fingerprint -> where it starts in the normalized text."""
    text: str
    normalized: Normalized
    hashes: frozenset
    positions: dict


def fingerprint(text: str, boilerplate: frozenset = frozenset(), noise: int = NOISE_CHARS,
                guarantee: int = GUARANTEE_CHARS) -> Fingerprint:
    from copydetect.utils import winnow  # imports matplotlib: only when comparing
    normalized = normalize(text)
    hashes = kgram_hashes(normalized.text, noise)
    positions: dict[int, list[int]] = {}
    if len(hashes):
        selected, where = winnow(hashes, guarantee - noise + 1, remove_duplicates=False)
        for value, at in zip(selected.tolist(), where.tolist()):
            if value not in boilerplate:
                positions.setdefault(value, []).append(at)
    return Fingerprint(text, normalized, frozenset(positions), positions)


def all_kgrams(text: str | None, noise: int = NOISE_CHARS) -> frozenset:
    """Every k-gram hash of a text (boilerplate is removed whole, not winnowed)."""
    return frozenset(kgram_hashes(normalize(text).text, noise).tolist()) if text else frozenset()


def starter_boilerplate(noise: int = NOISE_CHARS, starters: tuple[Path, ...] = ()) -> dict[str, frozenset]:
    """Unit name -> the k-grams of the starter's version of it: ours (student/), and each whole unit of
    every starter tree in `starters` (`--starter`, e.g. the 2019 starter: then its given code counts for
    nobody even where a student deleted its banners)."""
    trees = [(part, {p: (STARTER / PART_FOLDERS[part] / p).read_text(encoding='utf-8') for p in _unit_paths(part)
                     if (STARTER / PART_FOLDERS[part] / p).is_file()}) for part in (1, 2)]
    trees += [(s.part, s.files) for folder in starters for s in read_corpus(Path(folder)) if not s.problem]
    return {unit.name: frozenset().union(*(all_kgrams(unit_text(files, unit, whole=True), noise)
                                           for part, files in trees if part == unit.part))
            for unit in UNITS}


# ------------------------------------------------------------------------------------------- comparison

@dataclass(frozen=True)
class Match:
    """One pair of sources on one unit."""
    unit: Unit
    a: str
    b: str
    shared: int
    count_a: int
    count_b: int

    @property
    def similarity(self) -> float:
        return self.shared / max(1, min(self.count_a, self.count_b))

    @property
    def share_a(self) -> float:
        return self.shared / max(1, self.count_a)

    @property
    def share_b(self) -> float:
        return self.shared / max(1, self.count_b)

    def flagged(self, threshold: float = THRESHOLD, min_fingerprints: int = MIN_FINGERPRINTS) -> bool:
        return (min(self.count_a, self.count_b) >= self.unit.judged_from(min_fingerprints)
                and self.similarity >= threshold)


def shared_counts(prints: list[Fingerprint]) -> np.ndarray:
    """counts[i, j] = fingerprints that prints[i] and prints[j] share: one matrix product over the
    fingerprints that at least two of them hold (the others add nothing)."""
    holders: dict[int, list[int]] = {}
    for i, p in enumerate(prints):
        for h in p.hashes:
            holders.setdefault(h, []).append(i)
    common = [members for members in holders.values() if len(members) > 1]
    matrix = np.zeros((len(prints), max(1, len(common))), dtype=np.float32)
    for column, members in enumerate(common):
        matrix[members, column] = 1.0
    return np.rint(matrix @ matrix.T).astype(np.int64)


@dataclass
class Comparison:
    """Everything `compare` found: fingerprints per (source, unit) and every pair with something shared."""
    sources: list[Source]
    prints: dict[tuple[str, str], Fingerprint]
    matches: list[Match]
    threshold: float = THRESHOLD
    min_fingerprints: int = MIN_FINGERPRINTS
    too_short: dict[str, int] = field(default_factory=dict)   # unit -> sources with some own code, too little
    untouched: dict[str, int] = field(default_factory=dict)   # unit -> sources with no own code (the starter's)

    def flagged(self) -> list[Match]:
        return [m for m in self.matches if m.flagged(self.threshold, self.min_fingerprints)]


def compare(sources: list[Source], threshold: float = THRESHOLD, min_fingerprints: int = MIN_FINGERPRINTS,
            noise: int = NOISE_CHARS, guarantee: int = GUARANTEE_CHARS,
            boilerplate: dict[str, frozenset] | None = None) -> Comparison:
    """Fingerprint every unit of every source and compare, unit by unit, every pair of the same part
    (students with each other and with the corpus; corpus entries not with each other)."""
    boilerplate = starter_boilerplate(noise) if boilerplate is None else boilerplate
    result = Comparison(sources, {}, [], threshold, min_fingerprints)
    found: dict[str, list[tuple[Source, Fingerprint]]] = {unit.name: [] for unit in UNITS}
    for source in sources:
        for unit in UNITS:
            if source.part != unit.part or source.problem:
                continue
            text = unit_text(source.files, unit)
            if text is None:
                continue
            printed = fingerprint(text, boilerplate.get(unit.name, frozenset()), noise, guarantee)
            result.prints[source.name, unit.name] = printed
            if len(printed.hashes) < unit.judged_from(min_fingerprints):
                tally = result.too_short if printed.hashes else result.untouched
                tally[unit.name] = tally.get(unit.name, 0) + 1
            found[unit.name].append((source, printed))
    for unit in UNITS:
        members = [source for source, _ in found[unit.name]]
        prints = [printed for _, printed in found[unit.name]]
        if len(prints) < 2:
            continue
        counts = shared_counts(prints)
        for i, j in zip(*np.nonzero(np.triu(counts, 1))):
            if members[i].corpus and members[j].corpus:
                continue
            a, b = (i, j) if not members[i].corpus else (j, i)   # the student first
            result.matches.append(Match(unit, members[a].name, members[b].name, int(counts[i, j]),
                                        len(prints[a].hashes), len(prints[b].hashes)))
    return result


def matched_spans(one: Fingerprint, other: Fingerprint, noise: int = NOISE_CHARS) -> tuple[np.ndarray, np.ndarray]:
    """The stretches of each text covered by their shared fingerprints, as 2 x M arrays of (start, end)
    offsets into the original texts."""
    from copydetect.utils import find_fingerprint_overlap, get_copied_slices
    spans = []
    at_one, at_other = find_fingerprint_overlap(set(one.hashes), set(other.hashes), one.positions, other.positions)
    for printed, at in ((one, at_one), (other, at_other)):
        slices = get_copied_slices(np.asarray(at, dtype=np.int64), noise).astype(np.int64)
        if slices.shape[1]:
            slices = np.array([printed.normalized.starts[slices[0]], printed.normalized.ends[slices[1] - 1]])
        spans.append(slices)
    return spans[0], spans[1]


# ----------------------------------------------------------------------------------------------- output

CSV_COLUMNS = ('part', 'function', 'a', 'b', 'similarity', 'share_a', 'share_b', 'shared_fingerprints',
               'fingerprints_a', 'fingerprints_b')


def write_csv(result: Comparison, path: Path) -> Path:
    """One row per pair and unit flagged (at or above the threshold, with enough code on both sides)."""
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for m in sorted(result.flagged(), key=lambda m: (m.unit.part, m.unit.name, -m.similarity, m.a, m.b)):
            writer.writerow((m.unit.part, m.unit.name, m.a, m.b, f'{m.similarity:.3f}', f'{m.share_a:.3f}',
                             f'{m.share_b:.3f}', m.shared, m.count_a, m.count_b))
    return path


def flagged_pairs(result: Comparison) -> list[tuple[tuple[str, str], list[Match]]]:
    """Flagged matches grouped by pair, most flagged units first."""
    pairs: dict[tuple[str, str], list[Match]] = {}
    for m in result.flagged():
        pairs.setdefault((m.a, m.b), []).append(m)
    return sorted(pairs.items(), key=lambda item: (-len(item[1]), -max(m.similarity for m in item[1]), item[0]))


def _highlighted(text: str, spans: np.ndarray) -> str:
    from copydetect.utils import highlight_overlap
    if not spans.shape[1]:
        return html.escape(text)
    marked, _ = highlight_overlap(text, spans, '<mark>', '</mark>', truncate=CONTEXT_LINES, escape_html=True)
    return marked


_STYLE = ('body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}'
          'td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}'
          '.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}'
          'pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px;margin:0}'
          'mark{background:#ffd54f}h3{margin-bottom:.3em}')


def write_html(result: Comparison, path: Path) -> Path:
    """Each flagged pair (most flagged units first; at most HTML_PAIRS) side by side, matches marked."""
    e = html.escape
    pairs = flagged_pairs(result)
    parts = [f'<!doctype html><meta charset="utf-8"><title>Code similarity</title><style>{_STYLE}</style>',
             '<h1>Code similarity</h1>',
             f'<p>{sum(not s.corpus for s in result.sources)} submissions, '
             f'{sum(s.corpus for s in result.sources)} known solutions (corpus); a function is flagged at '
             f'{result.threshold:.0%} of shared fingerprints or more, when both sides have at least '
             f'{result.min_fingerprints} fingerprints of their own code (starter text removed). '
             f'{len(pairs)} pairs flagged; all rows in <a href="similarity.csv">similarity.csv</a>.</p>']
    if result.too_short or result.untouched:
        raised = ''.join(f', {u.judged_from(result.min_fingerprints)} for {u.name}' for u in UNITS if u.minimum)
        parts.append(f'<p>Not judged (fewer than {result.min_fingerprints} fingerprints of own code{e(raised)}): '
                     + '; '.join(
            f'{e(unit.name)}: ' + ', '.join(text for text in (
                f'{result.too_short[unit.name]} too short' if unit.name in result.too_short else '',
                f'{result.untouched[unit.name]} with no own code' if unit.name in result.untouched else '') if text)
            for unit in UNITS if unit.name in result.too_short or unit.name in result.untouched) + '.</p>')
    problems = [s for s in result.sources if s.problem or s.skipped]
    if problems:
        parts.append('<h2>Not compared</h2><ul>' + ''.join(
            f'<li>{e(s.name)}: {e(s.problem or " ".join(s.skipped))}</li>' for s in problems) + '</ul>')
    parts.append('<table><tr><th>#</th><th>a</th><th>b</th><th>functions flagged</th><th>highest</th></tr>')
    for number, ((a, b), matches) in enumerate(pairs[:HTML_PAIRS], 1):
        parts.append(f'<tr><td><a href="#pair-{number}">{number}</a></td><td>{e(a)}</td><td>{e(b)}</td>'
                     f'<td>{len(matches)}</td><td>{max(m.similarity for m in matches):.0%}</td></tr>')
    parts.append('</table>')
    if len(pairs) > HTML_PAIRS:
        parts.append(f'<p>{len(pairs) - HTML_PAIRS} more flagged pairs are in similarity.csv.</p>')
    for number, ((a, b), matches) in enumerate(pairs[:HTML_PAIRS], 1):
        parts.append(f'<section id="pair-{number}"><h2>{number}. {e(a)} and {e(b)}</h2>')
        for m in sorted(matches, key=lambda m: -m.similarity):
            one, other = result.prints[a, m.unit.name], result.prints[b, m.unit.name]
            left, right = matched_spans(one, other)
            parts.append(f'<h3>{e(m.unit.name)}: {m.similarity:.0%} ({m.shared} shared; {m.share_a:.0%} of '
                         f'{e(a)}\'s {m.count_a}, {m.share_b:.0%} of {e(b)}\'s {m.count_b})</h3>'
                         f'<div class="side"><pre>{_highlighted(one.text, left)}</pre>'
                         f'<pre>{_highlighted(other.text, right)}</pre></div>')
        parts.append('</section>')
    path.write_text(''.join(parts) + '\n', encoding='utf-8')
    return path


# ------------------------------------------------------------------------------------------ the command

def class_sources(folder: Path) -> tuple[list[Source], list[str]]:
    """The submissions of a class folder, found as `batch` finds them (graders/classroom/submissions.py)."""
    jobs, warnings = discover(Path(folder))
    return [read_source(job.path, job.part, job.student) for job in jobs], warnings


def similarity(folder: Path, corpora: list[Path], out: Path, threshold: float = THRESHOLD,
               min_fingerprints: int = MIN_FINGERPRINTS, starters: tuple[Path, ...] = (), log=print) -> Comparison:
    """Read the class and the corpora, compare, write OUT/similarity.csv and .html."""
    started = time.monotonic()
    sources, warnings = class_sources(folder)
    for corpus in corpora:
        sources += read_corpus(corpus)
    for warning in warnings:
        log(f'warning: {warning}')
    result = compare(sources, threshold, min_fingerprints, boilerplate=starter_boilerplate(NOISE_CHARS, starters))
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result, out / 'similarity.csv')
    write_html(result, out / 'similarity.html')
    if (out / 'index.html').is_file():   # a batch's OUT: rebuild its index (from the status files) to link it
        from graders.classroom.gradebook import write_class_outputs
        from graders.engine.rubric import load_rubric
        write_class_outputs(out, load_rubric())
    for s in sources:
        if s.problem or s.skipped:
            log(f'not compared: {s.name}: {s.problem or " ".join(s.skipped)}')
    log(f'{len(sources)} sources, {len(flagged_pairs(result))} pairs flagged '
        f'({len(result.flagged())} functions) in {time.monotonic() - started:.1f} s')
    return result


def similarity_command(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(f'{folder} is not a folder of submissions')
    for option, folders in (('--corpus', args.corpus), ('--starter', args.starter)):
        for given in folders:
            if not Path(given).is_dir():
                raise UserError(f'{option} {given} is not a folder')
    out = Path(args.out) if args.out else Path('out') / 'similarity'
    similarity(folder, [Path(c) for c in args.corpus], out, args.threshold, args.min_fingerprints,
               tuple(Path(s) for s in args.starter))
    print(f'csv:  {out / "similarity.csv"}\nhtml: {out / "similarity.html"}')
    return 0


def add_similarity_commands(subparsers) -> None:
    """`hw1grade similarity DIR [--corpus DIR ...] [--out OUT]`."""
    command = subparsers.add_parser(
        'similarity', help='compare the code students wrote, function by function, across a class',
        description='Fingerprint (winnowing) the code students write in each function of both parts, the '
                    'starter\'s text removed, and compare every pair of submissions in DIR (the layouts '
                    'batch reads) with each other and with known solutions (--corpus). Writes '
                    'similarity.csv and similarity.html. No submitted code runs.')
    command.add_argument('folder', metavar='DIR', help='the class: zips, folders, a Canvas or Gradescope export')
    command.add_argument('--corpus', metavar='DIR', action='append', default=[],
                         help='a folder of known solutions (e.g. cloned repositories); repeatable')
    command.add_argument('--out', metavar='OUT', help='where similarity.csv and .html go (default '
                                                      'out/similarity; the batch\'s OUT links them)')
    command.add_argument('--starter', metavar='DIR', action='append', default=[],
                         help='another starter the class used (e.g. the 2019 one): its text never counts either; '
                              'repeatable')
    command.add_argument('--threshold', type=float, default=THRESHOLD,
                         help=f'flag a function at this share of fingerprints or more (default {THRESHOLD})')
    command.add_argument('--min-fingerprints', type=int, default=MIN_FINGERPRINTS,
                         help=f'judge a function only with this many fingerprints of own code on both sides '
                              f'(default {MIN_FINGERPRINTS})')
    command.set_defaults(handler=similarity_command)
