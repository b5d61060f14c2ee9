"""The Part 2 model checks Q8.5-Q8.7 share: build a submitted model in the sandbox with the sizes its
own run script asks for, run it on fresh images, look at its layers (the grader's training run, a hidden
check, is graders/part2/training.py).

The run scripts are read as text (never executed): `--hidden-dim N` and `--kernel-size N` are all the
checks take from them. Every value the sandbox returns is checked here before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graders.engine import untrusted
from graders.engine.bridge import SubmissionRaised
from graders.engine.checks import as_array, describe
from graders.engine.plugin import fail

PROBE = 'part2_probe'
IM_SIZE = (3, 32, 32)
N_CLASSES = 10
PIXELS = int(np.prod(IM_SIZE))
# When a run script does not set a size (or sets an absurd one), the grader builds the model with these.
DEFAULT_FLAGS = {'hidden_dim': 32, 'kernel_size': 3}
MAX_FLAGS = {'hidden_dim': 4096, 'kernel_size': 15}
FLAG_PATTERNS = {'hidden_dim': re.compile(r'--hidden[-_]dim(?:\s+|=)\s*["\']?(\d+)'),
                 'kernel_size': re.compile(r'--kernel[-_]size(?:\s+|=)\s*["\']?(\d+)')}
SCRIPT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """One of the homework's models: train.py's --model name, where the class lives, what it takes."""
    name: str                    # 'convnet': run_convnet.sh, convnet.log, convnet_*.png
    module: str                  # 'models.convnet'
    cls: str                     # 'CNN'
    flags: tuple[str, ...]       # constructor arguments between im_size and n_classes

    def args(self, flags: dict) -> list:
        return [IM_SIZE, *(flags[f] for f in self.flags), N_CLASSES]

    def signature(self, flags: dict) -> str:
        sizes = ''.join(f', {f}={flags[f]}' for f in self.flags)
        return f'{self.cls}(im_size={IM_SIZE}{sizes}, n_classes={N_CLASSES})'


SPECS = {
    'softmax': ModelSpec('softmax', 'models.softmax', 'Softmax', ()),
    'twolayernn': ModelSpec('twolayernn', 'models.twolayernn', 'TwoLayerNN', ('hidden_dim',)),
    'convnet': ModelSpec('convnet', 'models.convnet', 'CNN', ('hidden_dim', 'kernel_size')),
    'mymodel': ModelSpec('mymodel', 'models.mymodel', 'MyModel', ('hidden_dim', 'kernel_size')),
}


def script_flags(root: Path, spec: ModelSpec) -> tuple[dict, list[str]]:
    """The sizes run_<model>.sh passes to train.py (read as text, comments dropped), and notes on
    the defaults used where it passes none or an unusable one."""
    text = untrusted.read_text(root, (f'run_{spec.name}.sh',), SCRIPT_BYTES)
    code = '\n'.join(line.split('#', 1)[0] for line in text.splitlines())
    flags, notes = {}, []
    for flag in spec.flags:
        found = FLAG_PATTERNS[flag].findall(code)
        value = int(found[-1]) if found else None
        option = '--' + flag.replace('_', '-')
        if value is None or not 1 <= value <= MAX_FLAGS[flag]:
            flags[flag] = DEFAULT_FLAGS[flag]
            why = 'sets no' if value is None else f'sets an unusable {option} {value} (1 to {MAX_FLAGS[flag]}) as'
            notes.append(f'run_{spec.name}.sh {why} {option}: {spec.cls} was built with {flag}={flags[flag]}')
        else:
            flags[flag] = value
    return flags, notes


def explain(err: SubmissionRaised) -> str:
    """The student's message for an error of their model, with the usual causes named."""
    said = f'{err.exc_type}: {err.message}'
    if err.traceback:
        said += '\nTraceback (most recent call last, grader frames omitted):\n' + err.traceback.rstrip()
    text = f'{err.exc_type} {err.message}'.lower()
    if 'cuda' in text or 'nvidia' in text:
        return (f'{said}\nYour code uses CUDA (an unconditional .cuda() or device="cuda"?): there is no GPU '
                'in the grader. Leave device placement to train.py (model.to(device)).')
    if any(word in text for word in ('urlopen', 'urlerror', 'name resolution', 'download', 'hub', 'http')):
        return (f'{said}\nYour model needs something from the internet (pretrained weights?): the grader '
                'runs it without network access.')
    return said


def build(worker, spec: ModelSpec, flags: dict, seed: int = 0):
    """The submitted model in the worker (a Handle); the check fails with the constructor's error."""
    try:
        return worker.call(f'{PROBE}:build_model', spec.module, spec.cls, spec.args(flags), seed)
    except SubmissionRaised as err:
        fail(f'{spec.signature(flags)} failed: {explain(err)}')


def random_images(rng: np.random.Generator, n: int = 8) -> np.ndarray:
    """Fresh uint8 images (n, 32, 32, 3), as CIFAR-10 stores them."""
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def expect_scores(worker, spec: ModelSpec, flags: dict, images: np.ndarray) -> np.ndarray:
    """forward(images) must give finite float scores (N, 10)."""
    model = build(worker, spec, flags)
    try:
        scores = worker.call(f'{PROBE}:forward', model, images)
    except SubmissionRaised as err:
        fail(f'{spec.cls}.forward on a batch of {len(images)} images (N, 3, 32, 32) failed: {explain(err)}')
    scores = as_array(f'{spec.cls}.forward(images) for {len(images)} images', scores,
                      (len(images), N_CLASSES), kind='f')
    if not np.all(np.isfinite(scores)):
        fail(f'{spec.cls}.forward(images) contains nan or inf')
    return scores


@dataclass(frozen=True)
class Layer:
    type: str
    sizes: dict
    follows_previous_directly: bool

    def __str__(self):
        if self.type == 'Linear':
            return f'Linear({self.sizes["in_features"]}->{self.sizes["out_features"]})'
        if self.type == 'Conv2d':
            k = self.sizes['kernel_size']
            return f'Conv2d({self.sizes["in_channels"]}->{self.sizes["out_channels"]}, {k[0]}x{k[1]})'
        return self.type


@dataclass(frozen=True)
class Anatomy:
    """What the probe saw: the parameter count and the Linear/Conv2d layers in the order they ran."""
    parameters: int
    layers: list[Layer]

    def of_type(self, kind: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.type == kind]

    def summary(self) -> str:
        return ', '.join(map(str, self.layers)) or 'no Linear or Conv2d layer'


def _anatomy(value) -> Anatomy:
    """Check the probe's description field by field (it crossed from the sandbox)."""
    def bad():
        fail(f'the grader could not read the layers of your model (got {describe(value)})')
    if type(value) is not dict or type(value.get('parameters')) is not int or type(value.get('layers')) is not list:
        bad()
    layers = []
    for entry in value['layers']:
        if type(entry) is not dict or type(entry.get('type')) is not str \
                or type(entry.get('follows_previous_directly')) is not bool:
            bad()
        sizes = {k: v for k, v in entry.items() if k not in ('type', 'follows_previous_directly')}
        if not all(type(v) is int or (type(v) is list and all(type(i) is int for i in v)) for v in sizes.values()):
            bad()
        needed = {'Linear': ('in_features', 'out_features'),
                  'Conv2d': ('in_channels', 'out_channels', 'kernel_size')}.get(entry['type'], ())
        if any(k not in sizes for k in needed):
            bad()
        layers.append(Layer(entry['type'], sizes, entry['follows_previous_directly']))
    return Anatomy(value['parameters'], layers)


def softmax_problem(anatomy: Anatomy) -> str | None:
    """Softmax must be one affine map from the pixels to the scores (with or without a bias)."""
    linear = anatomy.of_type('Linear')
    one_map = (len(anatomy.layers) == 1 and len(linear) == 1 and linear[0].sizes['in_features'] == PIXELS
               and linear[0].sizes['out_features'] == N_CLASSES)
    if not one_map or anatomy.parameters not in SOFTMAX_PARAMETERS:
        return (f'Softmax must be one affine map from the {PIXELS} pixels to {N_CLASSES} scores '
                f'({SOFTMAX_PARAMETERS[0]:,} parameters); yours has {anatomy.parameters:,} parameters and runs '
                f'{anatomy.summary()}')
    return None


SOFTMAX_PARAMETERS = (PIXELS * N_CLASSES + N_CLASSES, PIXELS * N_CLASSES)


def twolayer_problem(anatomy: Anatomy, flags: dict) -> str | None:
    """TwoLayerNN: Linear(3072 -> hidden_dim), a nonlinearity, Linear(hidden_dim -> 10)."""
    hidden = flags['hidden_dim']
    linear = anatomy.of_type('Linear')
    sizes = [(layer.sizes['in_features'], layer.sizes['out_features']) for layer in linear]
    if len(anatomy.layers) != 2 or sizes != [(PIXELS, hidden), (hidden, N_CLASSES)]:
        return (f'{SPECS["twolayernn"].signature(flags)} must run Linear({PIXELS}->{hidden}), a nonlinearity, '
                f'Linear({hidden}->{N_CLASSES}); yours runs {anatomy.summary()}')
    if linear[1].follows_previous_directly:
        return ('the output layer receives the hidden layer\'s values unchanged: without a nonlinearity '
                '(e.g. ReLU) between them the two layers are one affine map')
    return None


def convnet_problem(anatomy: Anatomy, flags: dict) -> tuple[str | None, str | None]:
    """(why the CNN is not a convnet, a note): it must run a convolution; one that ignores the
    kernel_size its script passes (hard-coded filters) gets a note for the TA, no deduction: the
    assignment asks for a convnet, not for a kernel size."""
    k = flags['kernel_size']
    convolutions = anatomy.of_type('Conv2d')
    if not convolutions:
        return (f'{SPECS["convnet"].signature(flags)} never runs a convolution (nn.Conv2d) in forward; it runs '
                f'{anatomy.summary()}'), None
    if not any(layer.sizes['kernel_size'] == [k, k] for layer in convolutions):
        return None, (f'CNN ignores kernel_size: run_convnet.sh passes --kernel-size {k}, but its '
                      f'convolutions are {", ".join(str(c) for c in convolutions[:6])}')
    return None, None


def anatomy(worker, spec: ModelSpec, flags: dict, images: np.ndarray) -> Anatomy:
    model = build(worker, spec, flags)
    try:
        return _anatomy(worker.call(f'{PROBE}:describe', model, images))
    except SubmissionRaised as err:
        fail(f'{spec.cls}.forward on a batch of {len(images)} images failed: {explain(err)}')
