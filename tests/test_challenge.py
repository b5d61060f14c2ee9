"""`hw1grade challenge build`: the students' images and the grader's held-back labels."""
import json

import numpy as np
import pytest

from fixtures import tiny_cifar
from graders import challenge, cifar10, cli


@pytest.fixture
def test_batch(tmp_path):
    """A labelled CIFAR-format batch of 50 images, as its raw file."""
    path = tmp_path / "test_batch"
    path.write_bytes(tiny_cifar.tiny_cifar_files(n_test=50)["test_batch"])
    return path


def test_images_and_labels_match_the_batch_in_a_shuffled_order(test_batch, tmp_path):
    images_path, labels_path = challenge.build_challenge(test_batch, tmp_path / "out", seed=3)
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


def test_public_split_is_a_seeded_tenth(test_batch, tmp_path):
    _, first = challenge.build_challenge(test_batch, tmp_path / "a", seed=0)
    _, again = challenge.build_challenge(test_batch, tmp_path / "b", seed=0)
    _, other = challenge.build_challenge(test_batch, tmp_path / "c", seed=1)
    public = challenge.load_labels(first).public_ids
    assert len(public) == 5 and len(set(public.tolist())) == 5
    assert first.read_text() == again.read_text()
    assert not np.array_equal(public, challenge.load_labels(other).public_ids)


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
