"""graders.engine.intake: hostile zips become verdicts, real layouts are found, junk is skipped with notes."""

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from fixtures.hostile_zips import (
    HOSTILE_ZIPS,
    Member,
    file_member,
    reference_files,
    repeated_member_stream,
    tree_members,
    write_raw_zip,
)
from graders.engine import intake
from graders.engine.intake import IntakeError, Limits, open_submission

REPO = Path(__file__).resolve().parents[2]
REFERENCE = {1: REPO / "reference" / "1_cs231n", 2: REPO / "reference" / "2_pytorch"}


@pytest.fixture(scope="module")
def trees():
    """The reference sources of each part, as a collect script would zip them."""
    return {part: reference_files(folder) for part, folder in REFERENCE.items()}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (links included, never followed) with its content (None for folders)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                content = os.readlink(path).encode()
            else:
                content = None if path.is_dir() else path.read_bytes()
            found[path.relative_to(folder).as_posix()] = content
    return found


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def zip_of(tmp_path: Path, tree: dict[str, bytes], prefix: str = "", extra=(), name="sub.zip") -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    return write_raw_zip(tmp_path / "in" / name, tree_members(tree, prefix) + list(extra))


# ------------------------------------------------------------------------------------ hostile and quirky

@pytest.mark.parametrize("name", sorted(HOSTILE_ZIPS))
def test_hostile_zip(name, tmp_path, monkeypatch, trees):
    """Each fixture zip gets its verdict (or its note), and nothing lands outside the scratch directory."""
    case = HOSTILE_ZIPS[name]
    (tmp_path / "in").mkdir()
    (tmp_path / "cwd").mkdir()
    (tmp_path / "scratch").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # a relative write would land here
    zipped = case.build(tmp_path / "in", trees[case.holds])
    before = snapshot(tmp_path)
    if not case.accepted:
        with pytest.raises(IntakeError) as err:
            open_submission(zipped, part=case.part, scratch=tmp_path / "scratch")
        assert case.expect in str(err.value)
        assert snapshot(tmp_path) == before  # nothing written anywhere, the fresh directory removed
        return
    sub = open_submission(zipped, part=case.part, scratch=tmp_path / "scratch")
    assert any(case.expect in note for note in sub.notes), sub.notes
    assert sub.scratch.parent == tmp_path / "scratch" and sub.root == sub.scratch / "1_cs231n"
    assert files_under(sub.root) == trees[1]  # the current copy, without junk or stale copies
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("scratch/")}
    assert after == {k: v for k, v in before.items() if not k.startswith("scratch/")}
    sub.cleanup()
    assert not sub.scratch.exists()


def test_bomb_with_understated_header_is_not_unpacked(tmp_path):
    """A 1 GB stream whose header claims 10 bytes: at most the declared bytes are read, then the CRC fails."""
    stream, crc = repeated_member_stream(bytes(1 << 20), 1024)
    zipped = zip_of(tmp_path, trees_minimal(), extra=[Member("cs231n/zeros.npy", stream, 8, size=10, crc=crc)])
    with pytest.raises(IntakeError, match="damaged"):
        open_submission(zipped, scratch=tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def trees_minimal() -> dict[str, bytes]:
    """The smallest tree intake recognizes as Part 1."""
    return {"cs231n/layers.py": b"# layers\n"}


def test_copy_capped_counts_bytes_actually_read():
    out = io.BytesIO()
    assert intake.copy_capped(io.BytesIO(b"x" * 100), out, 100) == 100 and out.getvalue() == b"x" * 100
    with pytest.raises(intake._Overflow):
        intake.copy_capped(io.BytesIO(b"x" * 101), io.BytesIO(), 100)

    class Failing(io.RawIOBase):
        def read(self, n=-1):
            raise zlib.error("invalid stored block lengths")
    with pytest.raises(intake._Unreadable):
        intake.copy_capped(Failing(), io.BytesIO(), 100)


def test_caps_are_configurable(tmp_path):
    tree = {"cs231n/layers.py": b"x" * 2000, "cs231n/other.py": b"y" * 2000}
    zipped = zip_of(tmp_path, tree)
    with pytest.raises(IntakeError, match="limit for one file"):
        open_submission(zipped, scratch=tmp_path, limits=Limits(max_file_bytes=1999))
    with pytest.raises(IntakeError, match="limit for the whole submission"):
        open_submission(zipped, scratch=tmp_path, limits=Limits(max_total_bytes=3999))
    with pytest.raises(IntakeError, match="too many entries"):
        open_submission(zipped, scratch=tmp_path, limits=Limits(max_entries=1))
    with pytest.raises(IntakeError, match="over the limit of"):
        open_submission(zipped, scratch=tmp_path, limits=Limits(max_archive_bytes=100))
    assert open_submission(zipped, scratch=tmp_path, limits=Limits(max_total_bytes=4000)).part == 1


def test_entry_count_is_checked_before_and_after_reading_the_directory(tmp_path):
    """The end record's count is checked before zipfile loads the directory, and the loaded count after,
    since the end record may understate it."""
    zipped = zip_of(tmp_path, {f"cs231n/{i}.py": b"" for i in range(30)})
    with open(zipped, "rb") as f:
        assert intake.declared_directory(f)[0] == 30
    raw = bytearray(zipped.read_bytes())
    raw[-22 + 8:-22 + 12] = struct.pack("<2H", 1, 1)  # entries on this disk, entries in all
    zipped.write_bytes(bytes(raw))
    with open(zipped, "rb") as f:
        assert intake.declared_directory(f)[0] == 1
    with pytest.raises(IntakeError, match="too many entries \\(30;"):
        open_submission(zipped, scratch=tmp_path, limits=Limits(max_entries=10))


def test_declared_directory_reads_zip64_end_records(tmp_path):
    zipped = zip_of(tmp_path, trees_minimal())
    raw = zipped.read_bytes()
    _, _, _, _, count, size, offset, _ = struct.unpack("<4s4H2LH", raw[-22:])
    body = raw[:-22]
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    zipped.write_bytes(body + record + locator + end)
    with open(zipped, "rb") as f:
        assert intake.declared_directory(f) == (count, size)
    assert open_submission(zipped, scratch=tmp_path).part == 1  # zipfile agrees the zip is sound


@pytest.mark.parametrize("content, expected", [
    (None, "There is no file or folder"),
    (b"", "empty file"),
    (b"\x1f\x8b\x08\x00", "gzip/.tar.gz archive"),
])
def test_unusable_inputs(tmp_path, content, expected):
    given = tmp_path / "1_cs231n.zip"
    if content is not None:
        given.write_bytes(content)
    with pytest.raises(IntakeError, match=expected):
        open_submission(given, scratch=tmp_path / "scratch")


def test_bad_utf8_name_with_utf8_flag_is_a_damaged_zip(tmp_path):
    zipped = zip_of(tmp_path, trees_minimal(), extra=[Member(b"cs231n/\xff\xfe.py", b"", flags=0x800)])
    with pytest.raises(IntakeError, match="damaged zip"):
        open_submission(zipped, scratch=tmp_path)


def test_last_guard_before_writing(tmp_path):
    """Names reach the filesystem one plain name at a time, whatever checks came before."""
    for name in ("..", ".", "", "a/b"):
        with pytest.raises(IntakeError, match="Refusing to write"):
            intake._make_dirs(tmp_path, ("ok", name))


def test_file_and_folder_of_the_same_name(tmp_path):
    zipped = zip_of(tmp_path, {"cs231n/layers.py": b"x", "cs231n/classifiers": b"a file",
                               "cs231n/classifiers/softmax.py": b"y"})
    with pytest.raises(IntakeError, match="both as a file and as a folder"):
        open_submission(zipped, scratch=tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


# ---------------------------------------------------------------------------------------- valid layouts

PREFIXES = ["", "{folder}/", "assignment/{folder}/", "hw1/submission/{folder}/", "My Homework (final)/"]


@pytest.mark.parametrize("part", [1, 2])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_layouts_found_for_both_parts(part, prefix, tmp_path, trees):
    prefix = prefix.format(folder=intake.PART_FOLDERS[part])
    zipped = zip_of(tmp_path, trees[part], prefix)
    for asked in (None, part):
        sub = open_submission(zipped, part=asked, scratch=tmp_path / "scratch")
        assert sub.part == part and sub.root.name == intake.PART_FOLDERS[part]
        assert files_under(sub.root) == trees[part]
        where = f"in {prefix}" if prefix else "at the top of the zip"
        assert sub.notes == [f"Part {part} found {where}."]
        assert sub.source == zipped


def test_other_part_asked(tmp_path, trees):
    with pytest.raises(IntakeError, match="This is a Part 1 submission.*upload 2_pytorch.zip"):
        open_submission(zip_of(tmp_path, trees[1]), part=2, scratch=tmp_path)


def test_both_parts_with_the_part_given(tmp_path, trees):
    zipped = write_raw_zip(tmp_path / "hw1.zip", tree_members(trees[1], "hw1/1_cs231n/")
                           + tree_members(trees[2], "hw1/2_pytorch/"))
    sub = open_submission(zipped, part=2, scratch=tmp_path)
    assert files_under(sub.root) == trees[2]
    assert "Part 1 files in hw1/1_cs231n/ were ignored (Part 2 is graded)." in sub.notes


def test_locate_part_prefers_the_most_complete_then_the_shallowest():
    full = [f"deep/er/{f}" for f in intake.PART_FILES[1]] + [f"b/{f}" for f in intake.PART_FILES[1]]
    notes = []
    assert intake.locate_part(["cs231n/layers.py", *full, *(f"a/{f}" for f in intake.PART_FILES[1])],
                              None, "zip", notes) == (1, ("a",), [])
    assert notes[0] == "Part 1 found in a/."
    assert sum("was ignored" in n for n in notes) == 3  # b/ (same depth, later name), deep/er/, the top
    notes = []
    found = intake.locate_part(["x/cs231n/layers.py", "x/cs231n/classifier_trainer.py"], 1, "zip", notes)
    assert found == (1, ("x",), [])
    assert "Expected files missing from Part 1: cs231n/classifiers/softmax.py" in notes[1]
    with pytest.raises(IntakeError, match="No homework files"):
        intake.locate_part(["train.py", "README.md"], None, "zip", [])  # train.py alone is not Part 2


def test_one_guess_of_the_part_from_a_name_or_a_listing(tmp_path):
    """Before grading (a class folder, a Gradescope upload, a zip that cannot be opened) the part is
    guessed in one place: intake.part_from_name / part_from_listing, which each caller uses."""
    from graders.classroom import gradescope, submissions
    from graders.engine import grade
    for name, part in (("gburdell3_2_pytorch.zip", 2), ("HW1_PyTorch.zip", 2), ("1_CS231N.zip", 1),
                       ("alice_1_cs231n", 1), ("cs231n_hw1_pytorch.zip", 2), ("homework.zip", None)):
        assert intake.part_from_name(name) == part, name
        assert grade._guess_part(tmp_path / name) == (part or 1)
        assert submissions.guess_part(tmp_path / name) == part or name == "homework.zip"
    assert intake.part_from_listing(["x/cs231n/", "x/cs231n/layers.py"]) == 1
    assert intake.part_from_listing(["models/", "train.py"]) == intake.part_from_listing(["a/train.py"]) == 2
    assert intake.part_from_listing(["README.md"]) is None
    (tmp_path / "up" / "hw" / "models").mkdir(parents=True)
    assert gradescope._guess_part(gradescope.Upload(None, tmp_path / "up")) == 2
    assert [u.part for u in gradescope.plan_uploads(tmp_path / "up", "both")] == [1, 2]


# ------------------------------------------------------------------------------------------------ junk

JUNK_ENTRIES = {
    "cs231n/__pycache__/layers.cpython-36.pyc": "compiled Python caches",
    "cs231n/layers.pyc": "compiled Python caches",
    ".ipynb_checkpoints/softmax-checkpoint.ipynb": "notebook checkpoints",
    "__MACOSX/cs231n/._layers.py": "macOS metadata",
    ".DS_Store": "macOS metadata",
    "cs231n/im2col_cython.cp36-win_amd64.pyd": "compiled im2col_cython builds",
    "cs231n/im2col_cython.cpython-37m-darwin.so": "compiled im2col_cython builds",
    "cs231n/im2col_cython.cpython-311-x86_64-linux-gnu.so": "compiled im2col_cython builds",
    "cs231n/im2col_cython.dylib": "compiled im2col_cython builds",
    "cs231n/im2col_cython.c": "compiled im2col_cython builds",
    "cs231n/build/temp.linux-x86_64-3.6/im2col_cython.o": "compiled im2col_cython builds",
    ".git/HEAD": "version control data",
    "cs231n/datasets/cifar-10-batches-py/data_batch_1": "datasets",
    "cs231n/datasets/cifar-10-python.tar.gz": "datasets",
}


def test_junk_is_skipped_with_notes_and_data_is_kept(tmp_path, trees):
    extra = [file_member(name, b"junk") for name in JUNK_ENTRIES]
    extra += [file_member("convnet.pt", b"PK\x03\x04 a checkpoint"), file_member("old.zip", b"PK\x05\x06")]
    sub = open_submission(zip_of(tmp_path, trees[1], extra=extra), scratch=tmp_path)
    kept = files_under(sub.root)
    assert kept == {**trees[1], "convnet.pt": b"PK\x03\x04 a checkpoint", "old.zip": b"PK\x05\x06"}
    for name, reason in JUNK_ENTRIES.items():
        assert any(n.startswith(f"Skipped {reason}") for n in sub.notes), (name, sub.notes)
    assert "Saved PyTorch models kept as data (the grader never loads them itself): convnet.pt." in sub.notes
    assert "Zips inside the submission are kept as plain files, not opened: old.zip." in sub.notes
    # one note per kind, listing the junk folder rather than each file in it
    assert "Skipped version control data: .git/." in sub.notes


def test_permissions_never_come_from_the_zip(tmp_path, monkeypatch, trees):
    extra = [file_member("cs231n/setuid.py", b"x", mode=stat.S_IFREG | 0o4777),
             file_member("run_me.sh", b"echo hi\n", mode=stat.S_IFREG | 0o600),
             Member("cs231n/open_dir/", mode=stat.S_IFDIR | 0o777)]
    old = os.umask(0)  # mkdir -p style parents would then be world-writable
    try:
        sub = open_submission(zip_of(tmp_path, trees[1], extra=extra), scratch=tmp_path)
    finally:
        os.umask(old)
    modes = {p.relative_to(sub.root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in sub.root.rglob("*")}
    assert modes["cs231n/setuid.py"] == 0o644 and modes["run_me.sh"] == 0o755
    assert modes["cs231n/open_dir"] == 0o755 and modes["cs231n/classifiers"] == 0o755
    assert modes["collect_submission.sh"] == 0o755 and modes["cs231n/layers.py"] == 0o644
    assert stat.S_IMODE(sub.root.stat().st_mode) == 0o755


def test_name_encodings(tmp_path):
    extra = [file_member("cs231n/résumé-flagged.md", b"1"),             # UTF-8 with the flag
             file_member("cs231n/résumé-mac.md".encode(), b"2"),        # UTF-8 bytes, no flag (macOS)
             file_member("cs231n/café-dos.md".encode("cp437"), b"3")]   # cp437 bytes, no flag (DOS/Windows)
    sub = open_submission(zip_of(tmp_path, trees_minimal(), extra=extra), scratch=tmp_path)
    assert sorted(p.name for p in (sub.root / "cs231n").iterdir()) == [
        "café-dos.md", "layers.py", "résumé-flagged.md", "résumé-mac.md"]


def test_duplicate_entries_keep_the_last(tmp_path):
    extra = [file_member("cs231n/layers.py", b"# second\n")]
    sub = open_submission(zip_of(tmp_path, trees_minimal(), extra=extra), scratch=tmp_path)
    assert (sub.root / "cs231n/layers.py").read_bytes() == b"# second\n"
    assert any("same name" in n and "cs231n/layers.py" in n for n in sub.notes)


# ---------------------------------------------------------------------------------------- folder input

def write_tree(folder: Path, tree: dict[str, bytes]) -> Path:
    for name, content in tree.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def test_folder_is_copied_not_used_and_links_are_not_followed(tmp_path, trees):
    folder = write_tree(tmp_path / "hw" / "2_pytorch", trees[2])
    write_tree(folder, {"__pycache__/train.cpython-311.pyc": b"junk", "data/cifar-10-python.tar.gz": b"gz",
                        "convnet.pt": b"weights"})
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "outside_link.py").symlink_to(tmp_path / "secret.txt")
    (folder / "inside_link.py").symlink_to("train.py")
    (folder / "data" / "cifar-10-batches-py").symlink_to(tmp_path, target_is_directory=True)
    before = snapshot(tmp_path / "hw")
    sub = open_submission(tmp_path / "hw", scratch=tmp_path / "scratch")
    assert sub.part == 2 and sub.root != folder and sub.root.name == "2_pytorch"
    assert files_under(sub.root) == {**trees[2], "convnet.pt": b"weights"}
    assert not any(p.is_symlink() for p in sub.root.rglob("*"))
    assert snapshot(tmp_path / "hw") == before
    assert sub.notes[0].startswith("Symbolic links are not followed; skipped: ")
    for link in ("2_pytorch/data/cifar-10-batches-py ->", "2_pytorch/inside_link.py -> train.py",
                 f"2_pytorch/outside_link.py -> {tmp_path / 'secret.txt'}"):
        assert link in sub.notes[0]
    assert "Part 2 found in 2_pytorch/." in sub.notes
    assert any(n.startswith("Skipped compiled Python caches: 2_pytorch/__pycache__/") for n in sub.notes)


def test_folder_of_the_reference_itself(tmp_path):
    """The built reference folder (with its .so, build/, caches and data link) is taken as a submission."""
    sub = open_submission(REFERENCE[1], scratch=tmp_path)
    assert sub.part == 1 and "Part 1 found at the top of the folder." in sub.notes
    copied = files_under(sub.root)
    assert copied["cs231n/layers.py"] == (REFERENCE[1] / "cs231n/layers.py").read_bytes()
    assert not [p for p in copied if p.endswith((".so", ".pyc", ".c")) or "build/" in p or "datasets/cifar" in p]


def test_folder_caps_and_special_files(tmp_path):
    folder = write_tree(tmp_path / "sub", {**trees_minimal(), **{f"many/{i}.txt": b"" for i in range(20)}})
    with pytest.raises(IntakeError, match="too many entries"):
        open_submission(folder, scratch=tmp_path, limits=Limits(max_entries=10))
    os.mkfifo(folder / "pipe")
    with pytest.raises(IntakeError, match="special file"):
        open_submission(folder, scratch=tmp_path)


# ---------------------------------------------------------------------------------------------- digest

def test_digest_is_stable_and_tracks_content(tmp_path, trees):
    zipped = zip_of(tmp_path, trees[1])
    first = open_submission(zipped, scratch=tmp_path)
    assert first.digest == open_submission(zipped, scratch=tmp_path).digest
    assert first.digest == intake.hashlib.sha256(zipped.read_bytes()).hexdigest()

    one = write_tree(tmp_path / "one", trees[1])
    two = write_tree(tmp_path / "elsewhere" / "two", trees[1])
    (two / "cs231n" / "__pycache__").mkdir()
    (two / "cs231n" / "__pycache__" / "x.pyc").write_bytes(b"junk does not count")
    digest = open_submission(one, scratch=tmp_path).digest
    assert open_submission(two, scratch=tmp_path).digest == digest
    (two / "cs231n" / "layers.py").write_bytes(b"# changed\n")
    assert open_submission(two, scratch=tmp_path).digest != digest
