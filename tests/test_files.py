"""graders/files.py: the one atomic writer and the one deterministic zip writer of the grader's own files."""
import stat
import zipfile

import pytest

from graders.files import ZIP_DATE, atomic_path, deterministic_zip, write_atomic


def test_an_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / 'out' / 'results.json'
    write_atomic(target, '{"score": 1}\n')
    assert target.read_text() == '{"score": 1}\n' and stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"sco')             # a writer that fails half-way
            raise RuntimeError('killed')
    assert target.read_text() == '{"score": 1}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ['results.json']   # no temporary left
    write_atomic(target, b'\x00bytes')
    assert target.read_bytes() == b'\x00bytes'


def test_a_deterministic_zip_is_the_same_bytes_for_the_same_files(tmp_path):
    data = tmp_path / 'data.bin'
    data.write_bytes(bytes(range(256)) * 100)

    def build(name):
        with deterministic_zip(tmp_path / name) as archive:
            archive.add('run.sh', b'#!/bin/sh\necho hi\n', executable=True)
            archive.add('a/readme.txt', b'hello\n' * 50)
            archive.add_file('data/data.bin', data, compress=False)
        return (tmp_path / name).read_bytes()

    assert build('one.zip') == build('two.zip')
    with zipfile.ZipFile(tmp_path / 'one.zip') as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert list(infos) == ['run.sh', 'a/readme.txt', 'data/data.bin']
        assert {info.date_time for info in infos.values()} == {ZIP_DATE}
        assert stat.S_IMODE(infos['run.sh'].external_attr >> 16) == 0o755
        assert stat.S_IMODE(infos['a/readme.txt'].external_attr >> 16) == 0o644
        assert infos['data/data.bin'].compress_type == zipfile.ZIP_STORED
        assert infos['a/readme.txt'].compress_type == zipfile.ZIP_DEFLATED
        assert archive.read('data/data.bin') == data.read_bytes() and archive.testzip() is None
