"""`hw1grade challenge build`: the students' images and the grader's held-back labels."""
import json

import numpy as np
import pytest

from fixtures import tiny_cifar
from graders import cli
from graders.data import challenge, cifar10, heldout


@pytest.fixture
def test_batch(tmp_path):
    """A labelled CIFAR-format batch of 50 images, as its raw file."""
    path = tmp_path / "test_batch"
    path.write_bytes(tiny_cifar.tiny_cifar_files(n_test=50)["test_batch"])
    return path


SECRET = heldout.CourseSecret(b"a course secret of the tests, 32 bytes", "test")
UNTRANSFORMED = {"heldout": {"transform": False}}


def test_images_and_labels_match_the_batch_in_a_secret_order(test_batch, tmp_path):
    images_path, labels_path = challenge.build_challenge(test_batch, tmp_path / "out", SECRET, settings=UNTRANSFORMED)
    images = np.load(images_path, allow_pickle=False)
    labels = challenge.load_labels(labels_path)
    source_images, source_labels = cifar10.load_batch(test_batch)

    assert images.dtype == np.uint8 and images.shape == (50, 32, 32, 3)
    assert labels.n_images == 50
    assert not np.array_equal(images, source_images), "the order must not be the batch's"
    # Every challenge image is a batch image, carrying that image's label.
    for image, label in zip(images, labels.labels):
        matches = np.flatnonzero((source_images == image).all(axis=(1, 2, 3)))
        assert label in source_labels[matches]
    assert labels.images_sha256 == cifar10.file_digest(images_path)


def test_transformed_images_match_no_public_image_exactly_and_keep_their_labels(test_batch, tmp_path):
    """The default build: the same order and labels as the untransformed one, and no image equal to any
    image of the batch (an exact lookup of the public labels finds nothing)."""
    plain = challenge.build_challenge(test_batch, tmp_path / "plain", SECRET, settings=UNTRANSFORMED)
    moved = challenge.build_challenge(test_batch, tmp_path / "moved", SECRET)
    assert challenge.load_labels(plain[1]).labels.tolist() == challenge.load_labels(moved[1]).labels.tolist()
    originals, images = np.load(plain[0]), np.load(moved[0])
    source_images, _ = cifar10.load_batch(test_batch)
    for image, original in zip(images, originals):
        assert not (source_images == image).all(axis=(1, 2, 3)).any()
        # label-preserving: the original, mirrored or not, moved by at most 2 pixels, plus mild noise
        assert closest_move(image, original) < 3


def closest_move(image, original):
    """The smallest mean absolute difference, away from the edges, between `image` and `original`
    mirrored or not and shifted by up to 2 pixels each way."""
    best = np.inf
    for source in (original, original[:, ::-1]):
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                moved = np.roll(source, (dy, dx), axis=(0, 1)).astype(int)
                best = min(best, np.abs(image.astype(int)[2:30, 2:30] - moved[2:30, 2:30]).mean())
    return best


def test_order_and_public_split_come_from_the_secret(test_batch, tmp_path):
    _, first = challenge.build_challenge(test_batch, tmp_path / "a", SECRET)
    _, again = challenge.build_challenge(test_batch, tmp_path / "b", SECRET)
    _, other = challenge.build_challenge(test_batch, tmp_path / "c",
                                         heldout.CourseSecret(b"another secret, 32 bytes long!!"))
    public = challenge.load_labels(first).public_ids
    assert len(public) == 5 and len(set(public.tolist())) == 5
    assert first.read_text() == again.read_text()
    assert not np.array_equal(public, challenge.load_labels(other).public_ids)
    assert challenge.load_labels(other).demo_secret is False and challenge.load_labels(first).demo_secret is False
    assert b"a course secret" not in first.read_bytes()


def test_labels_stay_out_of_the_students_folder(test_batch, tmp_path):
    challenge.build_challenge(test_batch, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out" / "students").iterdir()] == ["test_images.npy"]


@pytest.mark.parametrize("field, value", [("labels", [0, 11]), ("public_ids", [0, 0]), ("public_ids", [99])])
def test_malformed_labels_file_is_rejected(test_batch, tmp_path, field, value):
    _, labels_path = challenge.build_challenge(test_batch, tmp_path / "out")
    raw = json.loads(labels_path.read_text())
    raw[field] = value
    labels_path.write_text(json.dumps(raw))
    with pytest.raises(ValueError):
        challenge.load_labels(labels_path)


def test_cli_builds_from_the_cached_test_batch(tmp_path, monkeypatch, capsys):
    archive = tiny_cifar.write_tiny_cifar_archive(tmp_path / "cifar-10-python.tar.gz", n_test=30)
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(archive))
    monkeypatch.setenv(cifar10.CACHE_ENV, str(tmp_path / "cache"))
    assert cli.main(["challenge", "build", "--out", str(tmp_path / "out")]) == 0
    assert "30 challenge images" in capsys.readouterr().out
    assert np.load(tmp_path / "out" / "students" / "test_images.npy").shape == (30, 32, 32, 3)


def test_cli_says_when_the_demo_secret_built_it(tmp_path, monkeypatch, capsys):
    archive = tiny_cifar.write_tiny_cifar_archive(tmp_path / "cifar-10-python.tar.gz", n_test=20)
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(archive))
    monkeypatch.setenv(cifar10.CACHE_ENV, str(tmp_path / "cache"))
    for name in (heldout.SECRET_ENV, heldout.SECRET_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["challenge", "build", "--out", str(tmp_path / "demo")]) == 0
    assert "public demo secret" in capsys.readouterr().out
    assert challenge.load_labels(tmp_path / "demo" / "grader" / challenge.LABELS_FILE).demo_secret
    secret_file = tmp_path / "secret"
    secret_file.write_text("the course's own secret, kept off the repository\n")
    assert cli.main(["challenge", "build", "--out", str(tmp_path / "course"), "--secret-file", str(secret_file)]) == 0
    assert "public demo secret" not in capsys.readouterr().out
    course = challenge.load_labels(tmp_path / "course" / "grader" / challenge.LABELS_FILE)
    assert not course.demo_secret
    assert not np.array_equal(np.load(tmp_path / "demo" / "students" / challenge.IMAGES_FILE),
                              np.load(tmp_path / "course" / "students" / challenge.IMAGES_FILE))


def test_cli_builds_from_a_staff_folder_of_images(tmp_path, capsys):
    from PIL import Image
    rng = np.random.default_rng(0)
    folder = tmp_path / "staff"
    folder.mkdir()
    rows = ["file,label"]
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
        rows.append(f"img{i}.png,{heldout.CLASS_NAMES[i % 10] if i % 2 else i % 10}")
    (folder / heldout.LABELS_CSV).write_text("\n".join(rows) + "\n")
    assert cli.main(["challenge", "build", "--from", str(folder), "--out", str(tmp_path / "out")]) == 0
    assert "12 challenge images" in capsys.readouterr().out
    labels = challenge.load_labels(tmp_path / "out" / "grader" / challenge.LABELS_FILE)
    assert sorted(labels.labels.tolist()) == sorted(i % 10 for i in range(12))


@pytest.mark.parametrize("rows, says", [
    (["file,label", "missing.png,3"], "not a file inside"),
    (["file,label", "img.png,11"], "neither 0-9 nor a CIFAR-10 class name"),
    (["name,class", "img.png,3"], "header file,label"),
])
def test_a_broken_staff_folder_is_named(tmp_path, rows, says):
    from PIL import Image
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    (tmp_path / heldout.LABELS_CSV).write_text("\n".join(rows) + "\n")
    with pytest.raises(heldout.ImagesError, match=says):
        heldout.load_image_folder(tmp_path)
