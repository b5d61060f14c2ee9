"""Labels a submission cannot look up (issue 19, item 2): the hostile fixtures of fixtures/label_lookup.py
against the held-out draw, its transforms, the plausibility ceilings and the Q8.8 cross-check.

Where the held-out images come from the public test batch, an exact lookup is defeated (the draw is
secret, the pixels are transformed) and a lookup that still works (here: the transforms turned off, as an
approximate search would) is detected: zero and a review flag, not prevented.
"""
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures import label_lookup
from graders.data import challenge, cifar10, heldout
from graders.engine.grade import grade
from graders.engine.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cifar, pytest.mark.slow]


def with_heldout(**values):
    rubric = load_rubric()
    settings = {**rubric.settings, 'heldout': {**rubric.settings['heldout'], **values}}
    return dataclasses.replace(rubric, settings=settings)


@pytest.fixture(autouse=True)
def demo_secret(monkeypatch):
    for name in (heldout.SECRET_ENV, heldout.SECRET_FILE_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope='module')
def part1_lookup(tmp_path_factory, cifar10_dir):
    return label_lookup.part1_lookup_submission(tmp_path_factory.mktemp('lookup1') / '1_cs231n', cifar10_dir)


def accuracy_checks(graded):
    return {s.check.question: s for s in graded.scored if s.check.name == 'test_cifar10_accuracy'}


def test_the_part1_lookup_would_have_scored_full_marks_on_the_old_heldout_set(part1_lookup, cifar10_dir):
    """The attack is real: on the first 1000 public test images, centred as the grader centres them, it
    answers every label (by pixels, and by position)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('lookup_under_test', part1_lookup / 'cs231n' / '_lookup.py')
    lookup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lookup)
    train_x, _, test_x, test_y = cifar10.load_batches(cifar10_dir)
    mean = train_x[:5000].astype(np.float64).mean(axis=0)
    lookup.remember_mean(train_x[0] - mean)
    assert np.mean(lookup.labels(test_x[:1000] - mean) == test_y[:1000]) == 1.0
    assert lookup.state['hits'] == 1000


def test_part1_lookup_is_defeated_by_the_secret_draw_and_the_transforms(part1_lookup):
    graded = grade(part1_lookup, part=1, select='cifar10_accuracy and (q8_1 or q8_2)', notebooks=False)
    checks = accuracy_checks(graded)
    assert set(checks) == {'Q8.1', 'Q8.2'}
    for scored in checks.values():
        assert not scored.check.passed and scored.score == 0
        assert scored.check.measured['accuracy'] < 0.2   # chance: neither pixels nor positions find a label
        assert 'below the' in scored.check.message
    assert heldout.DEMO_NOTE in graded.notes
    assert not any('manual review' in note for note in graded.notes)


def test_part1_lookup_that_finds_the_labels_is_zeroed_and_flagged(part1_lookup):
    """Without the transforms the exact lookup works (as an approximate search would): accuracy 1.0, above
    the ceiling, so zero points and a review flag."""
    graded = grade(part1_lookup, part=1, rubric=with_heldout(transform=False),
                   select='cifar10_accuracy and (q8_1 or q8_2)', notebooks=False)
    for question, scored in accuracy_checks(graded).items():
        assert scored.check.measured['accuracy'] == 1.0, question
        assert not scored.check.passed and scored.score == 0
        assert 'flagged for manual review' in scored.check.message
    flags = graded.review   # the notes the checks made as review notes (Note.review)
    assert len(flags) == 2 and all(flag.startswith('manual review:') and 'public test labels looked up' in flag
                                   for flag in flags)


def test_part2_lookup_model_gains_nothing_from_transformed_images_and_is_flagged_without_them(tmp_path, cifar10_dir):
    tree = label_lookup.part2_lookup_model(tmp_path / '2_pytorch', cifar10_dir)
    select = 'test_training and q8_5'
    honest = grade(tree, part=2, select=select, notebooks=False)
    [scored] = honest.scored
    ceiling = load_rubric().settings['part2_training']['softmax']['ceiling']
    assert scored.check.passed and scored.check.measured['accuracy'] < ceiling   # a softmax's accuracy
    assert not any('manual review' in note for note in honest.notes)
    found = grade(tree, part=2, select=select, rubric=with_heldout(transform=False), notebooks=False)
    [scored] = found.scored
    assert scored.check.measured['accuracy'] > 0.99
    assert not scored.check.passed and 'flagged for manual review' in scored.check.message
    assert any(flag.startswith('manual review:') for flag in found.review) and not honest.review


def test_predictions_from_public_labels_are_defeated_by_the_secret_challenge(cifar10_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(cifar10.CACHE_ENV, str(tmp_path / 'cache' / 'cifar10'))
    labels_path = challenge.default_labels(cifar10_dir)
    labels = challenge.load_labels(labels_path)
    images = challenge.images_beside(labels_path, labels)
    text, hits = label_lookup.lookup_predictions(images, cifar10_dir)
    assert hits == 0   # no challenge image is a public test image, pixel for pixel
    predicted = challenge.read_predictions(text, labels.n_images)
    assert challenge.accuracies(predicted, labels)[1] < load_rubric().settings['challenge']['chance_accuracy']
    # The same attack on the challenge the README once documented (seed 0, untransformed): full marks.
    test_images, test_labels = cifar10.load_batch(Path(cifar10_dir) / cifar10.TEST_BATCH)
    old = test_images[np.random.default_rng(0).permutation(len(test_labels))]
    text, hits = label_lookup.lookup_predictions(old[:500], cifar10_dir)
    assert hits == 500


# ---- the cross-check: predictions.csv against the submitted MyModel (no training: fresh weights) ----

@pytest.fixture(scope='module')
def mymodel_submission(tmp_path_factory):
    """The reference 2_pytorch with a fresh MyModel saved as train.py saves it: mymodel.pt (the whole
    module) and mymodel_weights.pt (its state_dict)."""
    from graders.course.part2_runs import run_in
    folder = tmp_path_factory.mktemp('crosscheck') / '2_pytorch'
    shutil.copytree(ROOT / 'reference' / '2_pytorch', folder, ignore=shutil.ignore_patterns('data', '__pycache__'))
    proc = run_in(folder, 'python', '-c', 'import torch; from models.mymodel import MyModel; torch.manual_seed(0); '
                  'model = MyModel((3, 32, 32), 16, 3, 10); torch.save(model, "mymodel.pt"); '
                  'torch.save(model.state_dict(), "mymodel_weights.pt")')
    assert proc.returncode == 0, proc.stderr
    return folder


def grade_crosscheck(folder: Path, labels_path: Path, predicted: np.ndarray, out: Path):
    (folder / 'predictions.csv').write_text('image_id,label\n' + ''.join(f'{i},{v}\n' for i, v in enumerate(predicted)))
    rubric = load_rubric()
    rubric = dataclasses.replace(rubric, settings={**rubric.settings, 'challenge': {
        **rubric.settings['challenge'], 'labels': str(labels_path), 'crosscheck_images': 200}})
    graded = grade(folder, part=2, rubric=rubric, select='q8_8', notebooks=False, out_dir=out)
    notes = [n for n in graded.notes if 'cross-check' in n or 'MyModel' in n]
    assert [n for n in notes if n in graded.review] == [n for n in notes if n.startswith('manual review')]
    return notes


def test_crosscheck_flags_predictions_that_do_not_come_from_the_submitted_model(mymodel_submission, tmp_path):
    """The model's own predictions agree; the true labels (what an approximate search of the public batch
    finds) disagree with it and are flagged; without the weights a note says the check was not done.
    The sandbox only ever receives images: the model's predictions are computed there by the grader."""
    from fixtures import tiny_cifar
    batch = tmp_path / 'test_batch'
    batch.write_bytes(tiny_cifar.tiny_cifar_files(n_test=300)['test_batch'])
    images_path, labels_path = challenge.build_challenge(batch, tmp_path / 'challenge')
    labels = challenge.load_labels(labels_path)
    folder = mymodel_submission

    # What the submitted model predicts, as a student's test.py would write it.
    import sys

    import torch
    sys.path.insert(0, str(folder))
    try:
        from graders.inside.part2_probe import predict_with_weights
        from models.mymodel import MyModel
        own = predict_with_weights(MyModel((3, 32, 32), 16, 3, 10), str(folder / 'mymodel_weights.pt'),
                                   np.load(images_path))['flip_tta']
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == 'models' or m.startswith('models.')]:
            del sys.modules[name]
    assert torch.is_grad_enabled()

    [note] = grade_crosscheck(folder, labels_path, own, tmp_path / 'own')
    assert note.startswith('predictions.csv agrees with the submitted MyModel') and not note.startswith('manual')
    [note] = grade_crosscheck(folder, labels_path, labels.labels, tmp_path / 'truth')
    assert note.startswith('manual review: predictions.csv disagrees with the submitted MyModel')
    assert 'predictions.csv scores 1.000 there' in note
    # Only the whole pickled module (train.py's mymodel.pt): refused by weights_only=True, said so.
    (folder / 'mymodel_weights.pt').rename(folder / 'weights.keep')
    try:
        [note] = grade_crosscheck(folder, labels_path, labels.labels, tmp_path / 'module')
        assert note.startswith('predictions.csv could not be cross-checked') and 'is not a state_dict' in note
        (folder / 'mymodel.pt').rename(folder / 'module.keep')
        [note] = grade_crosscheck(folder, labels_path, labels.labels, tmp_path / 'none')
        assert note.startswith('predictions.csv could not be cross-checked') and 'no mymodel_weights.pt' in note
    finally:
        for kept, name in (('weights.keep', 'mymodel_weights.pt'), ('module.keep', 'mymodel.pt')):
            if (folder / kept).exists():
                (folder / kept).rename(folder / name)


def test_a_configured_secret_that_cannot_be_read_is_the_graders_error(monkeypatch, tmp_path):
    """Never a silent fall-back to the public demo draw, never the student's zero."""
    from graders.engine.outcome import CheckStatus, Status
    monkeypatch.setenv(heldout.SECRET_FILE_ENV, str(tmp_path / 'no-such-secret'))
    graded = grade(ROOT / 'reference' / '1_cs231n', part=1, select='cifar10_accuracy and q8_1', notebooks=False)
    [scored] = graded.scored
    assert scored.check.status == CheckStatus.GRADER_ERROR and 'course secret' in scored.check.message
    assert graded.status == Status.GRADER_ERROR
    assert heldout.DEMO_NOTE not in graded.notes
