"""Issue 19's hostile trees against the engine (fixtures/hostile_trees.py): links, FIFOs and sockets
planted by sandboxed code where the trusted side reads and writes, a poisoned build cache, traps where a
notebook's summary is read, decompression bombs among the Part 2 deliverables, a checkpoint that runs
code when unpickled. Each is contained: no host file read or written, a clear verdict for the item."""
import hashlib
import json
import os
import secrets
import socket
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fixtures import hostile_trees as ht
from fixtures import tiny_cifar
from graders.data import challenge, cifar10
from graders.engine import intake, untrusted
from graders.engine.bridge import SubmissionRaised, Worker
from graders.engine.sandbox import TORCH_LIMITS
from graders.notebooks import grading as ng
from graders.part1.build import CACHE_RECORD, _restore, build_extension
from graders.part2 import deliverables
from tests.helpers import PYX, STARTER_SETUP, bwrap_sandbox, write_package

PLANT = 'import sys; sys.path.insert(0, "."); import plant; print(sorted(plant.plant().items()))'
MODULE = f'im2col_cython{ht.SUFFIX}'


def regular_files(folder: Path):
    """Every regular file under `folder`, links never followed."""
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                yield path


def assert_untouched(secret: Path, before: bytes, *places):
    """The secret is as it was, and its content is in none of `places` (folders or texts)."""
    assert secret.read_bytes() == before and secret.stat().st_uid == 0 and secret.stat().st_mode & 0o777 == 0o600
    token = before.strip()
    for place in places:
        if isinstance(place, Path):
            assert not [p for p in regular_files(place) if token in p.read_bytes()], place
        else:
            assert token.decode() not in place


def part1_tree(folder: Path, secret: Path | None = None) -> Path:
    """The extension's sources (as test_build_cache builds them) and a layers.py; with `secret`, plant.py
    and the plan that booby-traps every Part 1 name."""
    folder.mkdir(parents=True)
    pkg = write_package(folder, PYX, STARTER_SETUP)
    (pkg / 'layers.py').write_text('def affine(x):\n    return x + 1\n')
    if secret is not None:
        ht.write_plan(folder, ht.part1_plan(secret))
    return folder


def plant_in_sandbox(root: Path, make_sandbox):
    """Run plant.py in the sandbox, as the submission's own code would."""
    sandbox = make_sandbox(root)
    run = sandbox.run([sandbox.python, '-I', '-c', PLANT], timeout=60, cwd=root)
    assert run.ok, run.stderr
    return sandbox


@pytest.mark.slow
def test_the_build_cache_follows_no_link_and_keeps_no_poison(tmp_path, make_sandbox):
    secret = ht.host_secret(tmp_path / 'host')
    before = secret.read_bytes()
    cache = tmp_path / 'cache'
    attacker = part1_tree(tmp_path / 'attacker' / '1_cs231n', secret)
    sandbox = plant_in_sandbox(attacker, make_sandbox)
    assert (attacker / 'cs231n' / MODULE).is_symlink() and os.path.lexists(attacker / ht.POISON)

    built = build_extension(attacker, sandbox, cache_dir=cache)
    assert built.ok, built.message
    assert any('build cache was neither used nor filled' in n and ht.POISON in n for n in built.notes)
    assert not cache.exists() or not any(cache.iterdir())           # nothing stored from this tree
    assert (attacker / 'cs231n' / MODULE).is_file() and not (attacker / 'cs231n' / MODULE).is_symlink()
    assert_untouched(secret, before, attacker, built.message, built.log, ' '.join(built.notes))

    honest = part1_tree(tmp_path / 'honest' / '1_cs231n')
    first = build_extension(honest, make_sandbox(honest), cache_dir=cache)
    [entry] = list(cache.iterdir())
    assert first.ok and first.notes == () and sorted(p.name for p in entry.iterdir()) == [CACHE_RECORD, MODULE]
    record = json.loads((entry / CACHE_RECORD).read_text())
    assert record['sha256'] == hashlib.sha256((entry / MODULE).read_bytes()).hexdigest()

    after = part1_tree(tmp_path / 'after' / '1_cs231n')     # the next honest student: the build is reused
    sandbox = make_sandbox(after)
    reused = build_extension(after, sandbox, cache_dir=cache)
    assert reused.ok and 'reused' in reused.message
    assert sorted(p.name for p in (after / 'cs231n').iterdir() if p.name.endswith('.so')) == [MODULE]
    with Worker(after, sandbox) as worker:
        assert worker.call('cs231n.im2col_cython:out_size', 32, 1, 3, 2) == 16
        assert worker.call('cs231n.layers:affine', 1) == 2
    assert_untouched(secret, before, cache, after)


def fake_entry(cache: Path, data: bytes, sha: str | None = None) -> Path:
    entry = cache / 'entry'
    entry.mkdir(parents=True)
    (entry / MODULE).write_bytes(data)
    (entry / CACHE_RECORD).write_text(json.dumps({
        'module': MODULE, 'sha256': sha or hashlib.sha256(data).hexdigest(), 'bytes': len(data),
        'message': 'built ' + MODULE, 'notes': [], 'log': ''}))
    return entry


def test_a_restore_replaces_a_planted_link_and_refuses_a_tampered_entry(tmp_path):
    secret = ht.host_secret(tmp_path / 'host')
    before = secret.read_bytes()
    ext_dir = tmp_path / 'scratch' / 'cs231n'
    ext_dir.mkdir(parents=True)
    (ext_dir / MODULE).symlink_to(secret)
    restored = _restore(fake_entry(tmp_path / 'cache', b'\x7fELF module'), ext_dir)
    assert restored.ok and 'reused' in restored.message
    assert (ext_dir / MODULE).read_bytes() == b'\x7fELF module' and not (ext_dir / MODULE).is_symlink()
    assert_untouched(secret, before)

    tampered = fake_entry(tmp_path / 'other', b'\x7fELF poisoned', sha='0' * 64)
    (ext_dir / MODULE).unlink()
    assert _restore(tampered, ext_dir) is None and not os.path.lexists(ext_dir / MODULE)
    linked = tmp_path / 'linked'
    linked.mkdir()
    (linked / CACHE_RECORD).symlink_to(tampered / CACHE_RECORD)
    (linked / MODULE).symlink_to(tampered / MODULE)
    assert _restore(linked, ext_dir) is None


# -- the notebook summary ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def tiny_cifar_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp('tiny-cifar')
    return cifar10.ensure_cifar10(tiny_cifar.write_tiny_cifar_archive(base / 'cifar-10-python.tar.gz'),
                                  cache_dir=base / 'cache')


@pytest.mark.slow
@pytest.mark.parametrize('kind, why', [('fifo', 'not a regular file'), ('huge', 'larger than 4 MiB')])
def test_a_fifo_or_a_huge_file_as_the_notebook_summary_is_a_verdict(tmp_path, tiny_cifar_dir, make_sandbox,
                                                                    kind, why):
    root = tmp_path / 'sub'
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(ht.summary_trap_cell(kind, f'{ng.OUTPUT_DIR}/softmax.json')))
    nb.cells.append(nbformat.v4.new_code_cell('x = 1'))
    nbformat.write(nb, root / 'softmax.ipynb')
    make_sandbox(root)   # bubblewrap, or skip
    [report] = ng.run_submission_notebooks(root, names=('softmax.ipynb',), budget_s=120, cifar_dir=tiny_cifar_dir)
    assert report['status'] == 'runner failed', report
    assert any(why in e for e in report['errors']), report


# -- Part 2 deliverables ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def deliverables_worker(tmp_path_factory):
    from PIL import Image
    root = tmp_path_factory.mktemp('part2')
    (root / 'bomb.png').write_bytes(ht.bomb_png())
    (root / 'warning_band.png').write_bytes(ht.bomb_png(9000, 5000))      # 45 M pixels: Pillow only warns
    (root / 'huge_page.pdf').write_bytes(ht.huge_page_pdf())
    (root / 'nested.pdf').write_bytes(ht.nested_pdf())
    (root / 'flate_bomb.pdf').write_bytes(ht.flate_bomb_pdf())
    Image.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)).save(root / 'plot.png')
    sandbox = bwrap_sandbox(root, TORCH_LIMITS)
    with Worker(root, sandbox, timeout=120) as worker:
        yield worker


@pytest.mark.slow
def test_decompression_bomb_images_are_refused_before_decoding(deliverables_worker):
    for name in ('bomb.png', 'warning_band.png'):
        problem = deliverables.image_problem(deliverables_worker, name)
        assert problem.startswith(f'{name} is not a readable PNG or JPEG image') and 'more pixels' in problem
    assert deliverables.image_problem(deliverables_worker, 'plot.png') is None   # the worker is fine


@pytest.mark.slow
def test_pdf_bombs_render_small_or_fail_clearly(deliverables_worker):
    [page] = deliverables_worker.call('part2_probe:pdf_pages', 'huge_page.pdf')
    assert max(page['width'], page['height']) <= 400 and page['std'] > 1
    for name in ('nested.pdf', 'flate_bomb.pdf'):
        try:
            pages = deliverables_worker.call('part2_probe:pdf_pages', name, 2, 10, timeout=60)   # 10 s for pdftoppm
        except SubmissionRaised as err:
            assert err.exc_type == 'ValueError' and 'pdftoppm' in err.message
        else:
            assert all(max(p['width'], p['height']) <= 400 for p in pages)
    assert deliverables.image_problem(deliverables_worker, 'plot.png') is None


MYMODEL = '''
import torch


class MyModel(torch.nn.Module):
    def __init__(self, im_size, hidden_dim, kernel_size, n_classes):
        super().__init__()
        try:
            torch.load('mymodel.pt', weights_only=False)     # the student's own code may do this
        except Exception:
            pass
        self.fc = torch.nn.Linear(3 * 32 * 32, n_classes)

    def forward(self, images):
        return self.fc(images.flatten(1))
'''


@pytest.mark.slow
def test_a_code_running_checkpoint_runs_only_inside_the_sandbox(tmp_path, make_sandbox):
    host_marker = f'/tmp/hw1grade-pt-payload-{secrets.token_hex(8)}'
    root = tmp_path / '2_pytorch'
    (root / 'models').mkdir(parents=True)
    (root / 'models' / '__init__.py').write_text('')
    (root / 'models' / 'mymodel.py').write_text(MYMODEL)
    (root / 'mymodel.pt').write_bytes(ht.code_running_checkpoint([host_marker, 'payload-ran-here']))
    sandbox = make_sandbox(root, TORCH_LIMITS)
    with Worker(root, sandbox, timeout=120) as worker:
        model = worker.call('part2_probe:build_model', 'models.mymodel', 'MyModel', [3 * 32 * 32, 10, 3, 10])
        assert worker.call('part2_probe:forward', model, np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 10)
    assert (root / 'payload-ran-here').read_text() == 'payload ran'   # it ran, in the sandbox
    assert not os.path.exists(host_marker)                             # and reached nothing outside


def test_the_trusted_side_never_unpickles_a_checkpoint(tmp_path):
    """Intake, the Part 2 file listing and every text read of the trusted side, on a submission whose
    every .pt would run code when unpickled: no pickle global is ever looked up (audit hook)."""
    host_marker = tmp_path / 'payload-ran'
    src = tmp_path / 'src' / '2_pytorch'
    (src / 'models').mkdir(parents=True)
    for name in ('train.py', 'models/softmax.py', 'models/mymodel.py', 'extra.md', 'softmax.log'):
        (src / name).write_text('# text\n')
    for name in ('mymodel.pt', 'softmax.pt', 'mymodel_weights.pt', 'models/cnn.pth', 'extra.pt'):
        (src / name).write_bytes(ht.code_running_checkpoint([str(host_marker)]))
    looked_up = []
    sys.addaudithook(lambda event, args: event == 'pickle.find_class' and looked_up.append(args))
    submission = intake.open_submission(src, part=2, scratch=tmp_path / 'scratch')
    files = deliverables.submitted_files(submission.root)
    assert 'mymodel.pt' in files
    texts = [untrusted.read_text(submission.root, f, deliverables.TEXT_BYTES) for f in files]
    assert any('never loads them' in n for n in submission.notes) and len(texts) == len(files)
    assert looked_up == [] and not host_marker.exists()


def test_part2_deliverables_planted_as_links_and_fifos_read_nothing(tmp_path):
    """What plant.py leaves at every Part 2 name: the trusted side's listing skips them and its reads
    come back empty, without blocking on the FIFO (here planted directly: the same tree)."""
    secret = ht.host_secret(tmp_path / 'host')
    root = tmp_path / '2_pytorch'
    root.mkdir()
    the_plan = ht.part2_plan(secret)
    for name, target in the_plan['links'].items():
        (root / name).symlink_to(target)
    for name in the_plan['fifos']:
        os.mkfifo(root / name)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / 'mymodel_valaccuracy.png'))
    try:
        assert deliverables.submitted_files(root) == []
        for name in (*ht.PART2_NAMES, 'mymodel_valaccuracy.png'):
            assert deliverables.read_text(root, name) == ''
        with pytest.raises(challenge.PredictionsError, match='missing'):
            challenge.submitted_predictions(root, 10)
    finally:
        sock.close()
    assert secret.read_text().startswith('HOST-SECRET-')
