"""`hw1grade data fetch`, graders.data.cifar10 and get_datasets.sh, on tiny archives in the official format."""

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from fixtures import tiny_cifar
from graders import cli
from graders.data import cifar10

REPO = Path(__file__).resolve().parents[1]
GET_DATASETS = REPO / "reference/1_cs231n/cs231n/datasets/get_datasets.sh"
HW1GRADE = Path(sys.executable).with_name("hw1grade")
REAL_ARCHIVE = os.environ.get(cifar10.ARCHIVE_ENV)  # read before the autouse fixture clears it


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No archive from the environment, a cache in tmp_path, and an official URL that cannot be reached."""
    monkeypatch.delenv(cifar10.ARCHIVE_ENV, raising=False)
    monkeypatch.setenv(cifar10.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(cifar10, "OFFICIAL_URL", (tmp_path / "no-such-download.tar.gz").as_uri())


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def tiny_archive(tmp_path):
    return tiny_cifar.write_tiny_cifar_archive(tmp_path / "cifar-10-python.tar.gz")


@pytest.fixture
def extractions(monkeypatch):
    """Count calls of safe_extract."""
    calls = []
    real = cifar10.safe_extract
    monkeypatch.setattr(cifar10, "safe_extract", lambda *args: calls.append(args) or real(*args))
    return calls


def fetch(capsys, *args):
    """Run `hw1grade data fetch ARGS` in-process; return (exit code, stdout, stderr)."""
    code = cli.main(["data", "fetch", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code, err, *words):
    assert code == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hw1grade: error: "), err
    for word in words:
        assert word in lines[0]


# The tiny archive itself


def test_tiny_archive_has_the_official_format(tiny_archive):
    with tarfile.open(tiny_archive) as tar:
        names = sorted(tar.getnames())
        meta = tar.extractfile("cifar-10-batches-py/batches.meta").read()
        batch = tar.extractfile("cifar-10-batches-py/data_batch_1").read()
    expected = ["batches.meta", *cifar10.TRAIN_BATCHES, "readme.html", "test_batch"]
    assert names == ["cifar-10-batches-py"] + [f"cifar-10-batches-py/{name}" for name in expected]
    assert batch[:2] == b"\x80\x02"
    as_str, as_bytes = pickle.loads(batch, encoding="latin1"), pickle.loads(batch, encoding="bytes")
    assert list(as_str) == ["batch_label", "labels", "data", "filenames"]
    assert list(as_bytes) == [b"batch_label", b"labels", b"data", b"filenames"]
    assert as_str["data"].dtype == np.uint8 and as_str["data"].shape == (20, 3072)
    assert np.array_equal(as_str["data"], as_bytes[b"data"])
    assert pickle.loads(meta, encoding="latin1")["label_names"] == tiny_cifar.LABEL_NAMES
    assert pickle.loads(meta, encoding="bytes")[b"num_vis"] == 3072


def test_tiny_archive_is_reproducible(tmp_path):
    first = tiny_cifar.write_tiny_cifar_archive(tmp_path / "a.tar.gz", seed=3)
    second = tiny_cifar.write_tiny_cifar_archive(tmp_path / "b.tar.gz", seed=3)
    other = tiny_cifar.write_tiny_cifar_archive(tmp_path / "c.tar.gz", seed=4)
    assert first.read_bytes() == second.read_bytes() != other.read_bytes()


# Fetching good archives


def test_fetch_from_flag(capsys, tiny_archive, cache):
    code, out, err = fetch(capsys, "--from", tiny_archive)
    assert code == 0 and err == ""
    assert out.splitlines() == [f"extracting {tiny_archive} into {cache}", str(cache / "cifar-10-batches-py")]
    Xtr, ytr, Xte, yte = cifar10.load_batches(cache / "cifar-10-batches-py")
    assert Xtr.shape == (100, 32, 32, 3) and Xtr.dtype == np.uint8 and Xte.shape == (20, 32, 32, 3)
    assert np.bincount(ytr).tolist() == [10] * 10 and np.bincount(yte).tolist() == [2] * 10
    assert cifar10.load_label_names(cache / "cifar-10-batches-py")[0] == "airplane"
    stamp = json.loads((cache / "stamp.json").read_text())
    assert stamp["sha256"] == hashlib.sha256(tiny_archive.read_bytes()).hexdigest()


def test_images_are_channel_major_rows(tiny_archive, cache):
    root = cifar10.ensure_cifar10(tiny_archive)
    with open(root / "test_batch", "rb") as f:
        row = pickle.load(f, encoding="latin1")["data"][0]
    image = cifar10.load_batch(root / "test_batch")[0][0]
    assert np.array_equal(image[:, :, 0].ravel(), row[:1024])  # red plane first
    assert np.array_equal(image[:, :, 2].ravel(), row[2048:])


def test_fetch_from_env(capsys, monkeypatch, tiny_archive, cache):
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(tiny_archive))
    code, out, _ = fetch(capsys, "--quiet")
    assert code == 0 and out == f"{cache / 'cifar-10-batches-py'}\n"


def test_flag_beats_env(capsys, monkeypatch, tmp_path, tiny_archive):
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(tmp_path / "missing.tar.gz"))
    assert fetch(capsys, "--from", tiny_archive)[0] == 0


def test_cache_dir_flag_beats_env(capsys, tmp_path, tiny_archive):
    code, out, _ = fetch(capsys, "--from", tiny_archive, "--cache-dir", tmp_path / "mine", "--quiet")
    assert code == 0 and out == f"{tmp_path / 'mine' / 'cifar-10-batches-py'}\n"


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(cifar10.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cifar10.resolve_cache_dir() == tmp_path / "xdg" / "hw1grade" / "cifar10"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cifar10.resolve_cache_dir() == Path.home() / ".cache" / "hw1grade" / "cifar10"


def test_second_fetch_of_the_same_archive_is_a_no_op(capsys, tiny_archive, cache, extractions):
    assert fetch(capsys, "--from", tiny_archive)[0] == 0
    before = (cache / "cifar-10-batches-py").stat()
    code, out, err = fetch(capsys, "--from", tiny_archive)
    assert code == 0 and "already extracted" in out
    code, out, err = fetch(capsys)  # no archive named at all: the cache is used, nothing is downloaded
    assert code == 0 and "already in" in out
    after = (cache / "cifar-10-batches-py").stat()
    assert len(extractions) == 1
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_a_different_archive_re_extracts(capsys, tmp_path, tiny_archive, cache, extractions):
    other = tiny_cifar.write_tiny_cifar_archive(tmp_path / "other.tar.gz", seed=1)
    root = cifar10.ensure_cifar10(tiny_archive)
    first = cifar10.load_batches(root)[0]
    assert cifar10.ensure_cifar10(other) == root
    second = cifar10.load_batches(root)[0]
    assert len(extractions) == 2
    assert not np.array_equal(first, second)
    assert sorted(p.name for p in cache.iterdir()) == [".lock", "cifar-10-batches-py", "stamp.json"]


def test_concurrent_fetches_extract_once(tiny_archive, extractions):
    with ThreadPoolExecutor(4) as pool:
        roots = list(pool.map(lambda _: cifar10.ensure_cifar10(tiny_archive), range(4)))
    assert len(set(roots)) == 1 and len(extractions) == 1
    cifar10.validate_layout(roots[0])


def test_a_damaged_cache_is_extracted_again(tiny_archive, cache, extractions):
    root = cifar10.ensure_cifar10(tiny_archive)
    (root / "test_batch").unlink()
    assert cifar10.ensure_cifar10(tiny_archive) == root
    assert (root / "test_batch").is_file() and len(extractions) == 2


# Placing the data where the notebooks look for it


def test_link(capsys, tmp_path, tiny_archive, cache):
    datasets = tmp_path / "cs231n" / "datasets"
    code, out, _ = fetch(capsys, "--from", tiny_archive, "--link", datasets)
    link = datasets / "cifar-10-batches-py"
    assert code == 0 and out.splitlines()[-2:] == [f"linked {link} -> {cache / 'cifar-10-batches-py'}", str(link)]
    assert link.is_symlink() and link.resolve() == (cache / "cifar-10-batches-py").resolve()
    assert cifar10.load_batches(link)[0].shape == (100, 32, 32, 3)


def test_link_replaces_a_stale_symlink(capsys, tmp_path, tiny_archive, cache):
    link = tmp_path / "cifar-10-batches-py"
    link.symlink_to(tmp_path / "gone")
    assert fetch(capsys, "--from", tiny_archive, "--link", tmp_path)[0] == 0
    assert link.is_symlink() and link.resolve() == (cache / "cifar-10-batches-py").resolve()


def test_copy(capsys, tmp_path, tiny_archive):
    code, out, _ = fetch(capsys, "--from", tiny_archive, "--link", tmp_path / "datasets", "--copy", "--quiet")
    copied = tmp_path / "datasets" / "cifar-10-batches-py"
    assert code == 0 and out == f"{copied}\n"
    assert copied.is_dir() and not copied.is_symlink()
    cifar10.validate_layout(copied)
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == ["cifar-10-batches-py"]


@pytest.mark.parametrize("copy", [[], ["--copy"]])
def test_refuses_to_clobber_a_real_folder(capsys, tmp_path, tiny_archive, copy):
    mine = tmp_path / "datasets" / "cifar-10-batches-py"
    mine.mkdir(parents=True)
    (mine / "my_notes.txt").write_text("keep me")
    code, out, err = fetch(capsys, "--from", tiny_archive, "--link", tmp_path / "datasets", *copy)
    assert_one_error_line(code, err, str(mine), "not a symlink")
    assert (mine / "my_notes.txt").read_text() == "keep me"


def test_copy_needs_link(capsys, tiny_archive):
    with pytest.raises(SystemExit) as exit:
        fetch(capsys, "--from", tiny_archive, "--copy")
    assert exit.value.code == 2 and "--copy needs --link" in capsys.readouterr().err


# Broken or absent data: one clear line, exit code 2, nothing left half done


BROKEN = {
    "truncated": (tiny_cifar.write_truncated_archive, "truncated or corrupt"),
    "corrupt": (tiny_cifar.write_corrupt_archive, "truncated or corrupt"),
    "not gzip": (tiny_cifar.write_not_gzip, "not a readable .tar.gz"),
    "no test_batch": (tiny_cifar.write_archive_without, "lacks test_batch"),
    "no folder": (tiny_cifar.write_archive_wrong_folder, "no cifar-10-batches-py/ folder"),
    "other folder": (lambda p: tiny_cifar.write_archive_wrong_folder(p, "cifar-10-batches-bin"), "no cifar"),
    "wrong shape": (tiny_cifar.write_archive_wrong_shape, "data_batch_3: 'data' must be uint8 of shape (n, 3072)"),
    "parent path": (lambda p: tiny_cifar.write_archive_with_member(p, "../evil"), "unsafe path '../evil'"),
    "absolute path": (lambda p: tiny_cifar.write_archive_with_member(p, "/tmp/hw1grade-evil"), "unsafe path"),
    "symlink": (lambda p: tiny_cifar.write_archive_with_member(
        p, "cifar-10-batches-py/passwd", tarfile.SYMTYPE, "/etc/passwd"), "link or special file"),
    "hard link": (lambda p: tiny_cifar.write_archive_with_member(
        p, "cifar-10-batches-py/x", tarfile.LNKTYPE, "cifar-10-batches-py/test_batch"), "link or special file"),
    "device": (lambda p: tiny_cifar.write_archive_with_member(
        p, "cifar-10-batches-py/tty", tarfile.CHRTYPE), "link or special file"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_archive(capsys, tmp_path, cache, kind):
    write, words = BROKEN[kind]
    archive = write(tmp_path / "cifar-10-python.tar.gz")
    code, out, err = fetch(capsys, "--from", archive)
    assert_one_error_line(code, err, str(archive), words)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/hw1grade-evil").exists()
    assert sorted(p.name for p in cache.iterdir()) == [".lock"]  # no folder, stamp or scratch left


def test_broken_archive_keeps_the_previous_good_data(capsys, tmp_path, tiny_archive, cache):
    assert fetch(capsys, "--from", tiny_archive)[0] == 0
    broken = tiny_cifar.write_truncated_archive(tmp_path / "broken.tar.gz")
    assert fetch(capsys, "--from", broken)[0] == 2
    cifar10.validate_layout(cache / "cifar-10-batches-py")


def test_missing_archive_file(capsys, tmp_path):
    code, out, err = fetch(capsys, "--from", tmp_path / "nowhere.tar.gz")
    assert_one_error_line(code, err, "no CIFAR-10 archive at", "nowhere.tar.gz")


def test_missing_archive_from_env(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(cifar10.ARCHIVE_ENV, str(tmp_path / "nowhere.tar.gz"))
    assert_one_error_line(*fetch(capsys)[::2], "nowhere.tar.gz")


def test_absent_data_with_the_download_unreachable(capsys, cache):
    code, out, err = fetch(capsys)
    assert_one_error_line(code, err, "no CIFAR-10 data", "--from PATH", cifar10.ARCHIVE_ENV)
    assert not list(cache.glob("*.tar.gz*"))


def test_absent_data_without_network(capsys, monkeypatch, cache):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(cifar10, "OFFICIAL_URL", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10.urllib.request, "urlopen", offline)
    code, out, err = fetch(capsys)
    assert_one_error_line(code, err, "could not download", "Temporary failure in name resolution")


def test_download_with_the_wrong_md5_is_rejected(capsys, monkeypatch, tiny_archive, cache):
    monkeypatch.setattr(cifar10, "OFFICIAL_URL", tiny_archive.as_uri())
    code, out, err = fetch(capsys)
    assert_one_error_line(code, err, "md5", cifar10.OFFICIAL_MD5)
    assert sorted(p.name for p in cache.iterdir()) == [".lock"]


def test_download_with_the_right_md5_is_kept_in_the_cache(capsys, monkeypatch, tiny_archive, cache):
    monkeypatch.setattr(cifar10, "OFFICIAL_URL", tiny_archive.as_uri())
    monkeypatch.setattr(cifar10, "OFFICIAL_MD5", hashlib.md5(tiny_archive.read_bytes()).hexdigest())
    code, out, err = fetch(capsys)
    assert code == 0 and "downloading" in out
    assert (cache / cifar10.ARCHIVE_NAME).read_bytes() == tiny_archive.read_bytes()
    cifar10.validate_layout(cache / "cifar-10-batches-py")


# The real console script


def run_hw1grade(*args, env=None):
    assert HW1GRADE.exists(), "install the package: pip install -e ."
    return subprocess.run([HW1GRADE, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


def test_console_script(tmp_path, tiny_archive, cache):
    done = run_hw1grade("data", "fetch", "--from", tiny_archive, "--link", tmp_path / "datasets", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path / 'datasets' / 'cifar-10-batches-py'}\n"

    broken = tiny_cifar.write_truncated_archive(tmp_path / "broken.tar.gz")
    done = run_hw1grade("data", "fetch", "--from", broken)
    assert_one_error_line(done.returncode, done.stderr, "truncated or corrupt")


def test_console_script_without_any_data(tmp_path):
    env = {**os.environ, cifar10.CACHE_ENV: str(tmp_path / "empty"),
           cifar10.ARCHIVE_ENV: str(tmp_path / "not-there.tar.gz")}
    done = run_hw1grade("data", "fetch", env=env)
    assert_one_error_line(done.returncode, done.stderr, "no CIFAR-10 archive at")
    assert done.stdout == ""


# The students' get_datasets.sh


@pytest.fixture
def datasets_dir(tmp_path):
    """A fresh copy of cs231n/datasets holding only get_datasets.sh and get_datasets.py."""
    folder = tmp_path / "cs231n" / "datasets"
    folder.mkdir(parents=True)
    shutil.copy2(GET_DATASETS, folder)
    shutil.copy2(GET_DATASETS.with_suffix(".py"), folder)
    return folder


SCRIPTS = ["get_datasets.py", "get_datasets.sh"]


def run_get_datasets(folder, **env):
    return subprocess.run([folder / "get_datasets.sh"], capture_output=True, text=True, env={**os.environ, **env},
                          cwd=folder.parent, timeout=120)


def test_get_datasets_is_executable():
    assert os.access(GET_DATASETS, os.X_OK)


def test_get_datasets_unpacks_a_local_archive(datasets_dir, tiny_archive):
    done = run_get_datasets(datasets_dir, HW1_CIFAR10_ARCHIVE=str(tiny_archive))
    assert done.returncode == 0, done.stderr
    cifar10.validate_layout(datasets_dir / "cifar-10-batches-py")
    assert sorted(p.name for p in datasets_dir.iterdir()) == ["cifar-10-batches-py"] + SCRIPTS
    assert tiny_archive.exists()  # the user's own copy is left alone

    again = run_get_datasets(datasets_dir, HW1_CIFAR10_ARCHIVE=str(tiny_archive))
    assert again.returncode == 0 and "already here" in again.stdout


def test_get_datasets_rejects_a_broken_local_archive(datasets_dir, tmp_path):
    broken = tiny_cifar.write_archive_without(tmp_path / "broken.tar.gz")
    done = run_get_datasets(datasets_dir, HW1_CIFAR10_ARCHIVE=str(broken))
    assert done.returncode != 0 and "test_batch" in done.stderr
    assert sorted(p.name for p in datasets_dir.iterdir()) == SCRIPTS


def test_get_datasets_rejects_a_download_with_the_wrong_md5(datasets_dir, tiny_archive):
    # A "mirror" serving the tiny archive: its md5 is not the official one.
    done = run_get_datasets(datasets_dir, HW1_CIFAR10_URL=tiny_archive.resolve().as_uri())
    assert done.returncode != 0 and "md5" in done.stderr
    assert sorted(p.name for p in datasets_dir.iterdir()) == SCRIPTS


def test_get_datasets_says_what_to_do_when_the_download_fails(datasets_dir, tmp_path):
    done = run_get_datasets(datasets_dir, HW1_CIFAR10_URL=(tmp_path / "nowhere.tar.gz").as_uri())
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "could not download" in done.stderr and "HW1_CIFAR10_ARCHIVE=" in done.stderr
    assert sorted(p.name for p in datasets_dir.iterdir()) == SCRIPTS


def test_get_datasets_python_route_needs_no_shell(datasets_dir, tiny_archive):
    """Windows: `python get_datasets.py`, with no POSIX tool on PATH."""
    done = subprocess.run([sys.executable, "get_datasets.py"], capture_output=True, text=True, timeout=120,
                          cwd=datasets_dir, env={"PATH": "", "HW1_CIFAR10_ARCHIVE": str(tiny_archive)})
    assert done.returncode == 0, done.stderr
    cifar10.validate_layout(datasets_dir / "cifar-10-batches-py")


# The real archive (CI sets HW1_CIFAR10_ARCHIVE to the shared copy)


@pytest.mark.cifar
@pytest.mark.skipif(not REAL_ARCHIVE, reason=f"{cifar10.ARCHIVE_ENV} is not set")
def test_real_archive(tmp_path):
    root = cifar10.ensure_cifar10(REAL_ARCHIVE, tmp_path / "real-cache")
    Xtr, ytr, Xte, yte = cifar10.load_batches(root)
    assert Xtr.shape == (50000, 32, 32, 3) and Xte.shape == (10000, 32, 32, 3)
    assert Xtr.dtype == Xte.dtype == np.uint8
    assert np.bincount(ytr, minlength=10).tolist() == [5000] * 10
    assert np.bincount(yte, minlength=10).tolist() == [1000] * 10
    assert cifar10.load_label_names(root) == tiny_cifar.LABEL_NAMES
