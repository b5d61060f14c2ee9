"""Sandbox-side helpers of the Part 2 checks: build a submitted model, run it, describe it, train it,
and decode the submitted images and PDF. Everything returned is plain data (numbers, strings, lists,
dicts, numpy arrays) or, for a model, stays in the worker as a handle.

Called through the worker as `part2_probe:<function>`; the trusted side checks every value it gets
back. Standard library and numpy at import; torch, Pillow, `image_decode` and pdftoppm only inside the
functions that need them. Untrusted files (images, PDF) are decoded only here, in the sandbox.

Decoding is bounded as well, so that a crafted file costs its own check and nothing else (the worker
and its time budget serve the other checks): an image declaring more than image_decode.MAX_IMAGE_PIXELS
is refused before its pixels are decompressed (Pillow's decompression-bomb guard, its warning band
included; `image_decode`, shared with the notebook runner, which also makes the report's thumbnails); a
PDF page is rendered to fit a PDF_PAGE_PIXELS box whatever its media box says, by a pdftoppm with its
own memory, CPU, output-size and wall-clock limits, and at most `max_pages` pages.
"""

import functools
import glob
import importlib
import os
import subprocess
import tempfile
import time

import numpy as np

try:
    import resource
except ImportError:   # Windows: the students' self-check imports this module there (no rlimits for pdftoppm)
    resource = None

# train.py's normalization (its "std" values are about 10x smaller than CIFAR-10's real ones).
MEAN = (0.49131522, 0.48209435, 0.44646862)
STD = (0.01897398, 0.03039277, 0.03872553)
PDF_PAGE_PIXELS = 400           # each PDF page is rendered to fit this many pixels square
PDF_MEMORY, PDF_FILE_SIZE = 1 << 30, 64 << 20   # pdftoppm's own limits (bytes)


def _torch():
    import torch
    torch.set_num_threads(1)
    _cpu_only(torch)
    return torch


def _note(text: str) -> None:
    """A note for the TA, through the worker's notes (course_env), once per text."""
    try:
        import course_env
    except ImportError:   # run outside the worker (tests, benchmarks)
        return
    course_env.record(text)


CUDA_NOTE = ('your code moves tensors or the model to CUDA ({what}); the grader has no GPU, so it ran '
             'on the CPU instead (leave device placement to train.py: model.to(device))')


def _is_cuda(device) -> bool:
    import torch
    if isinstance(device, torch.device):
        return device.type == 'cuda'
    if isinstance(device, int) and not isinstance(device, bool):
        return True     # .to(0): a GPU's index
    return isinstance(device, str) and device.strip().lower().startswith('cuda')


@functools.lru_cache(maxsize=None)
def _cpu_only(torch) -> None:
    """Run GPU-only code on the CPU: `.cuda()`, `.to('cuda')`, `device=torch.device('cuda')` and
    `torch.load(..., map_location='cuda')` all land on the CPU, with one note.

    Many 2019 models call `.cuda()` unconditionally (the course machines had GPUs). The grader trains
    on the CPU, with or without a GPU present, so that every submission meets the same recipe and a
    model never splits between devices: a TorchFunctionMode (active for the worker's life) rewrites every
    CUDA device argument of every torch function and tensor method (factories, `Tensor.to`,
    `Tensor.cuda`, `Module.to`/`.cuda`, which go through them); `torch.load` is wrapped for its
    `map_location`. Nothing changes for code that stays on the CPU."""
    from torch.overrides import TorchFunctionMode

    cuda_methods = {torch.Tensor.cuda, getattr(torch.Tensor, 'pin_memory', None)}

    class CpuOnly(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in cuda_methods:
                _note(CUDA_NOTE.format(what='.cuda()' if func is torch.Tensor.cuda else '.pin_memory()'))
                return args[0]
            if 'device' in kwargs and _is_cuda(kwargs['device']):
                _note(CUDA_NOTE.format(what="device='cuda'"))
                kwargs = dict(kwargs, device='cpu')
            if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
                _note(CUDA_NOTE.format(what=".to('cuda')"))
                args = (args[0], 'cpu', *args[2:])
            return func(*args, **kwargs)

    CpuOnly().__enter__()     # never left: the mode stays on for every later call of the worker
    load = torch.load

    @functools.wraps(load)
    def cpu_load(*args, **kwargs):
        location = kwargs.get('map_location')
        if location is None or _is_cuda(location) or callable(location) or isinstance(location, dict):
            if location is not None:
                _note(CUDA_NOTE.format(what="map_location='cuda'"))
            kwargs['map_location'] = 'cpu'
        return load(*args, **kwargs)

    torch.load = cpu_load


def normalize(images: np.ndarray):
    """uint8 images (N, 32, 32, 3) -> float32 tensor (N, 3, 32, 32), normalized as train.py does."""
    torch = _torch()
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / 255.0).permute(0, 3, 1, 2)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def build_model(module: str, cls: str, args: list, seed: int = 0):
    """`module.cls(*args)` with torch seeded; the model stays in the worker (a handle)."""
    torch = _torch()
    torch.manual_seed(seed)
    return getattr(importlib.import_module(module), cls)(*args)


def _scores(output):
    """A tensor output as a float32 array; anything else as it is (the trusted side says what it is)."""
    torch = _torch()
    if isinstance(output, torch.Tensor):
        return output.detach().float().cpu().numpy()
    return output


def forward(model, images: np.ndarray):
    """Scores of uint8 images (N, 32, 32, 3) in eval mode, without gradients."""
    torch = _torch()
    model.eval()
    with torch.no_grad():
        return _scores(model(normalize(images)))


def describe(model, images: np.ndarray) -> dict:
    """The model's parameter count and shapes, and its Linear/Conv2d/activation layers in the order
    they run on `images`: type, sizes, and whether a layer's input is exactly the previous recorded
    layer's output (no nonlinearity between them)."""
    torch = _torch()
    nn = torch.nn
    layers, hooks, previous = [], [], {}

    def record(module, inputs, output):
        entry = {'type': type(module).__name__}
        if isinstance(module, nn.Linear):
            entry.update(in_features=int(module.in_features), out_features=int(module.out_features))
        elif isinstance(module, nn.Conv2d):
            entry.update(in_channels=int(module.in_channels), out_channels=int(module.out_channels),
                         kernel_size=[int(k) for k in module.kernel_size])
        x = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        before = previous.get('output')
        entry['follows_previous_directly'] = bool(
            x is not None and before is not None and x.shape == before.shape and torch.equal(x, before))
        if isinstance(output, torch.Tensor):
            previous['output'] = output.detach().clone()
        layers.append(entry)

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            hooks.append(module.register_forward_hook(record))
    model.eval()
    try:
        with torch.no_grad():
            model(normalize(images))
    finally:
        for hook in hooks:
            hook.remove()
    return {'parameters': int(sum(p.numel() for p in model.parameters())),
            'parameter_shapes': [[int(s) for s in p.shape] for p in model.parameters()],
            'layers': layers}


def _log_probabilities(scores):
    """Scores as log-probabilities: a model that already applies softmax in forward gets a log."""
    torch = _torch()
    rows = scores.sum(dim=1)
    if scores.min() >= 0 and torch.allclose(rows, torch.ones_like(rows), atol=1e-3):
        return scores.clamp_min(1e-12).log()
    return torch.log_softmax(scores, dim=1)


def _predict(model, images, batch: int = 500):
    """Predicted labels (N,) of uint8 images, in eval mode."""
    torch = _torch()
    model.eval()
    predictions = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            scores = model(normalize(images[start:start + batch]))
            predictions.append(scores.argmax(dim=1).cpu().numpy())
    return np.concatenate(predictions).astype(np.int64)


def _optimizer(parameters, kind: str, lr: float, momentum: float, weight_decay: float):
    torch = _torch()
    if kind == 'adam':
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _snapshot(model, optimizer):
    import copy
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def train_and_predict(model, train_images: np.ndarray, train_labels: np.ndarray, heldout_images: np.ndarray,
                      recipe: dict, seed: int = 0) -> dict:
    """The grader's recipe: a race between optimizers, then the winner trained to the end.

    The last `recipe['validation']` training images are kept apart for validation. Every candidate
    (`[optimizer, lr, momentum]`, optimizer 'sgd' or 'adam') trains from the same initial weights on the
    same batches for `trial_steps` steps; the one with the best validation accuracy goes on to `steps`
    steps in all, validated every `trial_steps` steps, and the weights that validated best predict the
    held-out images. So a correct model is trained with whichever common setting suits its architecture
    (Adam for deep sigmoid networks, SGD with momentum for a softmax on train.py's large inputs), and a
    setting that diverges loses the race.

    Training stops early, with what it has, when it has used `cpu_seconds` of CPU time (a model too
    slow for the budget is trained less, and the trusted side says so).

    Returns {'predictions' (M,), 'chosen' (the winning candidate's index), 'validation' (the accuracy of
    each candidate after its trial, then of the winner at each later check), 'steps' (the steps the
    winner trained), 'cpu_seconds' (CPU time the run took), 'frozen' (names of
    parameters of layers that ran but never received a gradient: detached, frozen or whose output
    never reaches the scores), 'unused' (names of parameters of modules forward never called)}."""
    torch = _torch()
    n_val = int(recipe['validation'])
    steps, trial, batch_size = int(recipe['steps']), int(recipe['trial_steps']), int(recipe['batch_size'])
    x_all = normalize(train_images)
    y_all = torch.from_numpy(np.asarray(train_labels, dtype=np.int64))
    x, y = x_all[:-n_val], y_all[:-n_val]
    val_images, val_labels = train_images[-n_val:], np.asarray(train_labels[-n_val:])
    generator = torch.Generator().manual_seed(seed)
    orders = [torch.randperm(len(y), generator=generator) for _ in range(steps * batch_size // len(y) + 1)]
    order = torch.cat(orders)

    ran, gradients = set(), set()
    hooks = [module.register_forward_hook(lambda module, i, o: ran.add(id(module)))
             for module in model.modules()]

    def validate():
        return float(np.mean(_predict(model, val_images) == val_labels))

    def train(optimizer, first: int, last: int) -> int:
        model.train()
        for step in range(first, last):
            if step > first and time.process_time() > deadline:
                return step
            batch = order[step * batch_size:(step + 1) * batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(_log_probabilities(model(x[batch]).float()), y[batch])
            loss.backward()
            gradients.update(name for name, p in model.named_parameters() if p.grad is not None)
            optimizer.step()
        return last

    # CPU seconds, not wall-clock: a loaded machine trains the same steps, only slower.
    started = time.process_time()
    deadline = started + float(recipe.get('cpu_seconds', float('inf')))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    candidates = [list(c) for c in recipe['candidates']]
    after_trial, validation = [], []
    try:
        for kind, lr, momentum in candidates:
            model.load_state_dict(initial)
            torch.manual_seed(seed)
            optimizer = _optimizer(model.parameters(), kind, lr, momentum, recipe.get('weight_decay', 0.0))
            train(optimizer, 0, trial)
            validation.append(validate())
            after_trial.append(_snapshot(model, optimizer))
        chosen = max(range(len(candidates)), key=lambda i: (validation[i], -i))
        kind, lr, momentum = candidates[chosen]
        model.load_state_dict(after_trial[chosen][0])
        optimizer = _optimizer(model.parameters(), kind, lr, momentum, recipe.get('weight_decay', 0.0))
        optimizer.load_state_dict(after_trial[chosen][1])
        best, best_state = validation[chosen], after_trial[chosen][0]
        del after_trial
        done = trial
        while done < steps and time.process_time() < deadline:
            done = train(optimizer, done, min(done + trial, steps))
            validation.append(validate())
            if validation[-1] > best:
                best, best_state = validation[-1], {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
    finally:
        for hook in hooks:
            hook.remove()
    modules_ran = {name for name, module in model.named_modules() if id(module) in ran}
    frozen, unused = [], []
    for name, parameter in model.named_parameters():
        owner = name.rpartition('.')[0]
        if name in gradients:
            continue
        (frozen if owner in modules_ran else unused).append(name)
    return {'predictions': _predict(model, heldout_images), 'chosen': chosen, 'validation': validation,
            'steps': done, 'frozen': frozen, 'unused': unused,
            'cpu_seconds': round(time.process_time() - started, 1)}


def image_stats(path: str, thumbnail: int = 0) -> dict:
    """Decode an image file: {'format', 'width', 'height', 'std' (of its grayscale pixels)}, with
    `thumbnail` > 0 also 'thumbnail': its pixels scaled to fit that many pixels square, for the report
    (`image_decode`); ValueError for one that declares more than image_decode.MAX_IMAGE_PIXELS (checked
    from its header, before decoding)."""
    import image_decode
    return image_decode.decode(path, thumbnail)


def _limit_pdftoppm(cpu_seconds: int):
    for limit, value in ((resource.RLIMIT_AS, PDF_MEMORY), (resource.RLIMIT_FSIZE, PDF_FILE_SIZE)):
        resource.setrlimit(limit, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def pdf_pages(path: str, max_pages: int = 40, timeout: float = 60) -> list:
    """Render a PDF with pdftoppm (gray, each page scaled to fit PDF_PAGE_PIXELS square): one
    {'width', 'height', 'std'} per page; ValueError when it cannot be rendered within the limits."""
    from PIL import Image

    import image_decode
    with tempfile.TemporaryDirectory() as scratch:
        try:
            proc = subprocess.run(['pdftoppm', '-scale-to', str(PDF_PAGE_PIXELS), '-gray', '-l', str(max_pages),
                                   path, os.path.join(scratch, 'page')], capture_output=True, timeout=timeout,
                                  preexec_fn=functools.partial(_limit_pdftoppm, int(timeout)) if resource else None)
        except subprocess.TimeoutExpired:
            raise ValueError('pdftoppm did not render it within %g s' % timeout) from None
        if proc.returncode:
            stopped = (' (stopped by signal %d: over its memory, CPU or output limit)' % -proc.returncode
                       if proc.returncode < 0 else '')
            raise ValueError('pdftoppm could not render it%s: %s'
                             % (stopped, proc.stderr.decode('utf-8', 'replace').strip()[-300:]))
        pages = []
        for page in sorted(glob.glob(os.path.join(scratch, 'page-*.pgm'))):
            with Image.open(page) as image:
                pages.append(image_decode.pixel_stats(image))
        return pages


def predict_with_weights(model, path: str, images: np.ndarray, batch: int = 500) -> dict:
    """The challenge cross-check: load the submitted weights into `model` and predict uint8 images.

    `path` must hold a state_dict (train.py saves `<model>_weights.pt`); it is read with
    torch.load(weights_only=True), which rebuilds tensors and plain containers only and runs no code,
    and only here, in the sandbox. Returns {'plain': labels (N,), 'flip_tta': labels (N,) of each image's
    probabilities averaged with its mirror image's (test.py --flip-tta)}."""
    import pickle
    torch = _torch()
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError('%s is not a state_dict but holds objects that only unpickling code could rebuild '
                         '(a whole model saved with torch.save(model)?): save the weights with '
                         "torch.save(model.state_dict(), 'mymodel_weights.pt')" % path) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TypeError('%s does not hold a state_dict (a dict of tensors): save it with '
                        'torch.save(model.state_dict(), path)' % path)
    model.load_state_dict(state)
    model.eval()
    plain, tta = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = normalize(images[start:start + batch])
            scores, mirrored = model(x).float(), model(x.flip(3)).float()
            plain.append(scores.argmax(dim=1).cpu().numpy())
            tta.append((scores.softmax(dim=1) + mirrored.softmax(dim=1)).argmax(dim=1).cpu().numpy())
    return {'plain': np.concatenate(plain).astype(np.int64), 'flip_tta': np.concatenate(tta).astype(np.int64)}
