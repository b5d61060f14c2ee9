"""Part 2 rules that need no sandbox and no CIFAR-10 (fast): where 2_pytorch.pdf uploaded beside the zip
is found (grade's `companions`, filled by graders/classroom/submissions.py for a batch), which plot names count
for which model, when a log's claimed accuracy is flagged, and the zoo's structural verdicts: its
architectures as the checks read them, and the layers that never learn, on random images in-process
(the zoo's training verdicts on real CIFAR-10 are benchmarks/calibrate_part2.py's and, for a few
members, tests/grading/test_part2_zoo.py's)."""
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from fixtures import part2_zoo as zoo
from graders.classroom.submissions import discover
from graders.engine import companions
from graders.engine.rubric import load_rubric
from graders.part2 import deliverables, models

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'graders' / 'inside'))
import part2_probe  # noqa: E402  (the sandbox side, run here on the zoo's own code)

PDF = b'%PDF-1.4 not rendered here\n'


def touch(path: Path, data: bytes = b'x') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---- 2_pytorch.pdf beside the zip -------------------------------------------------------------

def test_the_pdf_beside_a_zip_is_this_submissions_own_never_another_students(tmp_path):
    zip_path = touch(tmp_path / 'alice_2_pytorch.zip')
    touch(tmp_path / 'bob_2_pytorch.pdf')
    assert companions.find_pdf(zip_path, None) is None
    generic = touch(tmp_path / '2_pytorch.pdf')
    assert companions.find_pdf(zip_path, None) == generic
    own = touch(tmp_path / 'Alice-2_PyTorch.PDF')
    assert companions.find_pdf(zip_path, None) == own
    assert companions.find_pdf(zip_path, ()) is None          # none asked for: none looked for


def test_companion_folders_prefer_the_part2_pdf_and_skip_links_and_part1(tmp_path):
    upload = tmp_path / 'submission_1'
    touch(upload / '1_cs231n.pdf')
    host = touch(tmp_path / 'host' / '2_pytorch.pdf', b'%PDF host file')
    (upload / 'linked').mkdir(parents=True)
    (upload / 'linked' / '2_pytorch.pdf').symlink_to(host)
    assert companions.find_pdf(upload / 'x.zip', [upload]) is None
    other = touch(upload / 'nested' / 'HW1 part2 plots.pdf')
    assert companions.find_pdf(upload / 'x.zip', [upload]) == other
    best = touch(upload / '2_pytorch.pdf')
    assert companions.find_pdf(upload / 'x.zip', [upload]) == best


def test_gather_copies_the_pdf_into_the_scratch_copy(tmp_path):
    zip_path = touch(tmp_path / 'up' / '2_pytorch.zip')
    touch(tmp_path / 'up' / '2_pytorch.pdf', PDF)
    root = tmp_path / 'scratch' / '2_pytorch'
    root.mkdir(parents=True)
    assert companions.gather(zip_path, root, None) == []
    assert companions.uploaded(root) == ['.companions/2_pytorch.pdf']
    assert (root / '.companions' / '2_pytorch.pdf').read_bytes() == PDF
    assert deliverables.submitted_files(root) == []            # not listed as a file of the zip


def test_a_batch_passes_each_student_their_own_uploads(tmp_path):
    flat = tmp_path / 'flat'
    touch(flat / 'alice_2_pytorch.zip')
    alice_pdf = touch(flat / 'alice_2_pytorch.pdf')
    touch(flat / 'bob-2_pytorch.zip')
    touch(flat / 'smithcleo_12345_678901_2_pytorch.zip')
    cleo_pdf = touch(flat / 'smithcleo_12345_678902_2_pytorch.pdf')
    jobs, _ = discover(flat)
    found = {job.student: job.companions for job in jobs}
    assert found == {'alice': (alice_pdf,), 'bob': (), 'smithcleo': (cleo_pdf,)}
    folders = tmp_path / 'folders'
    touch(folders / 'dana' / '2_pytorch.zip')
    touch(folders / 'dana' / '2_pytorch.pdf')
    jobs, _ = discover(folders)
    assert [job.companions for job in jobs] == [(folders / 'dana',)]


# ---- plot names ---------------------------------------------------------------------------------

@pytest.mark.parametrize('model, plot, files, accepted', [
    ('convnet', 'gridfilt', ['conv_gridfilt.png'], 'conv_gridfilt.png'),
    ('convnet', 'lossvstrain', ['CNN-Loss_vs_Train.PNG'], 'CNN-Loss_vs_Train.PNG'),
    ('convnet', 'valaccuracy', ['plots/cnn_valacc (2).jpg'], 'plots/cnn_valacc (2).jpg'),
    ('convnet', 'lossvstrain', ['ConvNet/loss.png'], 'ConvNet/loss.png'),
    ('convnet', 'lossvstrain', ['twolayernn_lossvstrain.png', 'q87/twolayernn_lossvstrain.png'],
     'q87/twolayernn_lossvstrain.png'),
    ('convnet', 'lossvstrain', ['twolayernn_lossvstrain.png'], None),       # the two-layer net's own
    ('convnet', 'gridfilt', ['convnet_figure3.png', 'twolayernn_gridfilt.png'], None),
    ('twolayernn', 'lossvstrain', ['twolayernn_lossvstrain.png', 'cnn_lossvstrain.png'],
     'twolayernn_lossvstrain.png'),
    ('softmax', 'gridfilt', ['softmax_gridfilt.png', 'conv_gridfilt.png'], 'softmax_gridfilt.png'),
])
def test_plot_names_students_use(model, plot, files, accepted):
    path, note = deliverables.find_plot(files, model, plot)
    assert path == accepted
    canonical = deliverables.key(f'{model}_{plot}')
    if path is not None and deliverables.key(path.rsplit('/', 1)[-1].rsplit('.', 1)[0]) != canonical:
        assert note.startswith(f'{path} accepted as {model}_{plot}.png')


def test_mymodel_has_no_filter_grid_to_deliver():
    assert deliverables.MODEL_PLOTS['mymodel'] == ('lossvstrain', 'valaccuracy')


# ---- claimed vs measured ------------------------------------------------------------------------

SETTINGS = load_rubric().settings


@pytest.mark.parametrize('model, claimed, grader, flagged', [
    ('softmax', 0.373, 0.289, False),      # the reference's log and the grader's run
    ('twolayernn', 0.534, 0.35, False),
    ('convnet', 0.655, 0.43, False),
    ('convnet', 0.87, 0.45, False),        # a strong CNN trained for hours
    ('softmax', 0.60, 0.30, True),         # more than any linear classifier reaches
    ('twolayernn', 0.70, 0.45, True),
    ('convnet', 0.55, 0.11, True),         # the grader's run learned nothing: not this code
    ('convnet', 0.25, 0.11, False),        # ... unless the claim is close to chance too
    ('convnet', 0.95, 0.30, True),         # more than longer training adds
    ('softmax', 0.40, None, False),        # no measurement (the training check did not run)
    ('softmax', 0.90, None, True),
])
def test_a_claim_is_flagged_only_when_the_budget_cannot_explain_it(model, claimed, grader, flagged):
    why = deliverables.implausible_claim(model, claimed, grader, SETTINGS)
    assert (why is not None) == flagged, why


# ---- the zoo, structurally ----------------------------------------------------------------------

def instantiate(member: zoo.Member, torch):
    module = types.ModuleType(f'zoo_{zoo.slug(member)}')
    exec(compile(member.source, module.__name__, 'exec'), module.__dict__)
    cls = models.SPECS[member.model].cls
    flags = flag_values(member)
    torch.manual_seed(0)
    return getattr(module, cls)(*models.SPECS[member.model].args(flags)), flags


def flag_values(member: zoo.Member) -> dict:
    given = {'hidden_dim': member.hidden_dim, 'kernel_size': member.kernel_size}
    return {k: v if v is not None else models.DEFAULT_FLAGS[k] for k, v in given.items()}


@pytest.fixture(scope='module')
def torch(monkeypatch_module):
    # The CUDA shim is the worker's (it stays on for the worker's life): not installed in this process.
    monkeypatch_module.setattr(part2_probe, '_cpu_only', lambda torch: None)
    return part2_probe._torch()


@pytest.fixture(scope='module')
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


TINY_RECIPE = {'validation': 16, 'steps': 3, 'trial_steps': 1, 'batch_size': 16,
               'candidates': [['sgd', 1e-3, 0.9], ['adam', 1e-3, 0.0]], 'cpu_seconds': 60, 'weight_decay': 0.0}


def test_the_zoo_is_as_large_as_the_issue_asks():
    kernels = {m.kernel_size for m in zoo.CORRECT if m.model == 'convnet'}
    assert len(zoo.CORRECT) >= 12 and len(zoo.BROKEN) >= 6
    assert {1, 2, 7} <= kernels and min(m.hidden_dim or 99 for m in zoo.CORRECT) == 10


@pytest.mark.parametrize('member', zoo.ZOO, ids=zoo.slug)
def test_zoo_architecture_and_gradients(member, torch):
    """Every member's architecture reads as declared, and exactly the members declared frozen (layers
    that run but get no gradient) are found so by a few training steps on random images."""
    model, flags = instantiate(member, torch)
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    anatomy = models._anatomy(part2_probe.describe(model, images[:4]))
    if member.model == 'softmax':
        problem = models.softmax_problem(anatomy)
    elif member.model == 'twolayernn':
        problem = models.twolayer_problem(anatomy, flags)
    else:
        problem, note = models.convnet_problem(anatomy, flags)
        assert (note is not None) == ('ignores kernel_size' in member.name)
    if member.fails == 'test_architecture':
        assert problem is not None and member.says in problem
        return
    assert problem is None, problem
    labels = np.arange(64) % 10
    outcome = part2_probe.train_and_predict(model, images, labels, images[:8], TINY_RECIPE)
    assert outcome['predictions'].shape == (8,) and outcome['steps'] == 3
    assert bool(outcome['frozen']) == (member.says == 'never updated'), outcome['frozen']


def test_a_run_script_without_usable_sizes_builds_with_the_defaults_and_says_so(tmp_path):
    """run_<model>.sh read as text: a size it does not set, or sets out of range, is the default, with a note
    naming the script (a comment does not count)."""
    (tmp_path / 'run_convnet.sh').write_text('python train.py --model convnet --kernel-size 99 \\\n'
                                            '    # --hidden-dim 64\n')
    flags, notes = models.script_flags(tmp_path, models.SPECS['convnet'])
    assert flags == models.DEFAULT_FLAGS
    assert notes == ['run_convnet.sh sets no --hidden-dim: CNN was built with hidden_dim=32',
                     'run_convnet.sh sets an unusable --kernel-size 99 (1 to 15) as --kernel-size: CNN was built '
                     'with kernel_size=3']
    (tmp_path / 'run_convnet.sh').write_text('python train.py --model convnet --hidden-dim 16 --kernel-size=5\n')
    assert models.script_flags(tmp_path, models.SPECS['convnet']) == ({'hidden_dim': 16, 'kernel_size': 5}, [])
