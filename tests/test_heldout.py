"""graders/data/heldout.py: the course secret, the per-grade draw, the label-preserving transforms, the ceilings."""
import numpy as np
import pytest

from graders.data import heldout
from graders.engine.outcome import NoteKind

SECRET = heldout.CourseSecret(b'a secret of the tests, long enough', 'test')


@pytest.fixture(autouse=True)
def no_configured_secret(monkeypatch):
    for name in (heldout.SECRET_ENV, heldout.SECRET_FILE_ENV):
        monkeypatch.delenv(name, raising=False)


def test_the_secret_comes_from_the_environment_a_file_or_the_rubric_else_the_demo(monkeypatch, tmp_path):
    assert heldout.course_secret({}).demo and heldout.course_secret({}).source == 'demo'
    rubric_file = tmp_path / 'rubric-secret'
    rubric_file.write_text('the secret the rubric names\n')
    settings = {'heldout': {'secret_file': str(rubric_file)}}
    assert heldout.course_secret(settings).value == b'the secret the rubric names'
    env_file = tmp_path / 'env-secret'
    env_file.write_text('the secret of HW1_COURSE_SECRET_FILE')
    monkeypatch.setenv(heldout.SECRET_FILE_ENV, str(env_file))
    assert heldout.course_secret(settings).value == b'the secret of HW1_COURSE_SECRET_FILE'
    monkeypatch.setenv(heldout.SECRET_ENV, 'the secret text itself, first of all')
    secret = heldout.course_secret(settings)
    assert secret.value == b'the secret text itself, first of all' and not secret.demo
    assert 'secret text' not in secret.fingerprint and len(secret.fingerprint) == 16


@pytest.mark.parametrize('content', [None, 'short'])
def test_a_configured_secret_that_cannot_be_used_is_an_error_never_the_demo(tmp_path, content):
    path = tmp_path / 'secret'
    if content is not None:
        path.write_text(content)
    with pytest.raises(heldout.SecretError, match='course secret'):
        heldout.course_secret({'heldout': {'secret_file': str(path)}})


def test_the_draw_replays_per_submission_and_differs_between_submissions_runs_and_secrets():
    pool = heldout.HeldOut(np.random.default_rng(0).integers(0, 256, (400, 32, 32, 3), dtype=np.uint8),
                           np.arange(400) % 10)

    def ids(secret, run, key):
        drawn = heldout.draw_for_grade({}, secret, pool, run, 50, key)
        return drawn.labels.tolist(), drawn.images

    first, images = ids(SECRET, 'cifar10.softmax', 'digest-a')
    again, images_again = ids(SECRET, 'cifar10.softmax', 'digest-a')
    assert first == again and np.array_equal(images, images_again)
    assert first != ids(SECRET, 'cifar10.softmax', 'digest-b')[0]
    assert first != ids(SECRET, 'cifar10.two_layer_net', 'digest-a')[0]
    assert first != ids(heldout.CourseSecret(), 'cifar10.softmax', 'digest-a')[0]
    assert first != list(range(50)) and sorted(set(first)) == list(range(10))


def test_perturb_mirrors_shifts_with_edge_pixels_and_adds_mild_noise():
    image = np.arange(32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3) % 251
    images = np.repeat(image[None].astype(np.uint8), 200, axis=0)
    moved = heldout.perturb(images, np.random.default_rng(1), max_shift=1, noise_std=0)
    seen = set()
    for out in moved:
        matches = []
        for flip in (False, True):
            source = image[:, ::-1] if flip else image
            padded = np.pad(source, ((1, 1), (1, 1), (0, 0)), mode='edge')
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    if np.array_equal(out, padded[1 - dy:33 - dy, 1 - dx:33 - dx]):
                        matches.append((flip, dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 18   # every mirror and shift occurs
    noisy = heldout.perturb(images[:20], np.random.default_rng(2), max_shift=0, noise_std=2.0).astype(int)
    differences = [np.abs(n - (image if np.abs(n - image).mean() < np.abs(n - image[:, ::-1]).mean()
                               else image[:, ::-1])) for n in noisy]
    assert all(0.5 < d.mean() < 3 and d.max() <= 12 for d in differences)


def test_an_accuracy_above_the_ceiling_fails_with_a_review_flag():
    notes = []
    heldout.implausible(0.45, {'ceiling': 0.5}, 'softmax: accuracy 0.450', notes)
    heldout.implausible(0.99, {}, 'no ceiling configured', notes)
    assert notes == []
    with pytest.raises(pytest.fail.Exception, match='no points; flagged for manual review'):
        heldout.implausible(0.99, {'ceiling': 0.5}, 'softmax: accuracy 0.990', notes)
    assert notes == ['manual review: softmax: accuracy 0.990 is above 0.50, more than this model can learn '
                     "with the grader's settings (the public test labels looked up?)"]
    assert notes[0].kind is NoteKind.REVIEW   # a review flag as typed, for batch's review column
