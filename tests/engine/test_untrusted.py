"""graders/engine/untrusted.py: scratch-tree files read and written without following what the sandbox planted,
and text from the sandbox cleaned before anyone sees it."""
import json
import os
import signal
import socket
from contextlib import contextmanager

import jsonschema
import pytest

from fixtures.hostile_trees import host_secret
from graders.engine import untrusted
from graders.engine.results import SCHEMA_FILE, bounded, write_results
from graders.engine.untrusted import UnsafeFile, clean_notes, clean_text

ESCAPES = '\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32m 5.00 / 5 \x1b[0m\r\x9b2J\x1bP1$r\x1b\\\x07\x00\u202e'


@contextmanager
def no_blocking(seconds=5):
    """Fail instead of hanging if something waits on a FIFO."""
    def alarm(*_):
        raise AssertionError('blocked on a special file')
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def secret(tmp_path):
    return host_secret(tmp_path / 'host')


@pytest.fixture
def tree(tmp_path, secret):
    """A scratch tree with a link, a FIFO, a socket, a folder link and a huge sparse file planted."""
    root = tmp_path / 'scratch'
    (root / 'out').mkdir(parents=True)
    (root / 'out' / 'ok.json').write_text('{}')
    (root / 'out' / 'abs.json').symlink_to(secret)
    (root / 'out' / 'rel.json').symlink_to('../../host/shadow')
    (root / 'linked').symlink_to(secret.parent)
    os.mkfifo(root / 'out' / 'fifo.json')
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / 'out' / 'sock.json'))
    with open(root / 'out' / 'huge.json', 'wb') as f:
        f.truncate(1 << 40)
    yield root
    sock.close()


def test_only_regular_files_are_read_and_nothing_waits(tree, secret):
    with no_blocking():
        assert untrusted.read_file(tree, ('out', 'ok.json'), 10) == b'{}'
        assert untrusted.read_file(tree, 'out/absent.json', 10) is None
        assert untrusted.read_file(tree, 'absent/x.json', 10) is None
        for rel in ('out/abs.json', 'out/rel.json', 'linked/shadow', 'out/fifo.json', 'out/sock.json', 'out',
                    'out/huge.json'):
            with pytest.raises(UnsafeFile):
                untrusted.read_file(tree, rel, 1 << 20)
        assert untrusted.read_file(tree, 'out/huge.json', 16, truncate=True) == b'\0' * 16
        assert untrusted.read_text(tree, 'out/abs.json', 100) == ''
    for rel in ('../host/shadow', '/etc/passwd', 'out/../../host/shadow'):
        with pytest.raises(UnsafeFile):
            untrusted.read_file(tree, rel, 100)


def test_writes_replace_what_sits_at_the_name_and_never_follow_it(tree, secret):
    before = secret.read_bytes()
    for name in ('abs.json', 'rel.json', 'fifo.json', 'sock.json'):
        with no_blocking():
            untrusted.write_file(tree, ('out', name), b'mine')
        assert (tree / 'out' / name).is_file() and not (tree / 'out' / name).is_symlink()
        assert (tree / 'out' / name).read_bytes() == b'mine'
    (tree / 'out' / 'folder').mkdir()
    (tree / 'out' / 'folder' / 'inner').symlink_to(secret)
    untrusted.write_file(tree, 'out/folder', b'mine')
    assert (tree / 'out' / 'folder').read_bytes() == b'mine'
    with pytest.raises(UnsafeFile):
        untrusted.write_file(tree, 'linked/shadow', b'overwritten')
    assert secret.read_bytes() == before and oct(secret.stat().st_mode)[-3:] == '600'


def test_removal_listing_and_ownership_do_not_follow_links(tree, secret):
    assert untrusted.remove(tree, 'linked') and secret.exists()
    assert not untrusted.remove(tree, 'linked')
    kinds = {e.name: e.kind for e in untrusted.entries(tree, 'out')}
    assert kinds['abs.json'] == untrusted.LINK and kinds['fifo.json'] == kinds['sock.json'] == untrusted.OTHER
    assert kinds['ok.json'] == untrusted.FILE
    (tree / 'up').symlink_to('/')
    walked = [rel for rel, _ in untrusted.walk(tree)]
    assert ('up',) in walked and not any(rel[0] == 'up' and len(rel) > 1 for rel in walked)
    with pytest.raises(UnsafeFile):
        untrusted.entries(tree, 'up')
    untrusted.chown(tree, 'out/abs.json', 65534)     # the link itself, never its target
    assert secret.stat().st_uid == 0 and os.lstat(tree / 'out' / 'abs.json').st_uid == 65534
    with untrusted.opened_dir(tree, 'out/abs.json', create=True):   # a link in the way becomes a folder
        pass
    assert (tree / 'out' / 'abs.json').is_dir() and secret.is_file()


def test_clean_text_removes_what_a_terminal_obeys_and_says_what_it_cut():
    cleaned = clean_text(ESCAPES + 'line one\r\nline\ttwo\n' + '\ud800', 1000)
    assert cleaned == ' 5.00 / 5 \nline one\nline\ttwo\n?'
    assert not any(c in cleaned for c in '\x1b\x07\x9b\x00\u202e\r')
    cut = clean_text('x' * 10_000, 100)
    assert len(cut) == 100 and cut.endswith('more characters]') and '9,' not in cut
    assert len(clean_text(ESCAPES * 1_000_000, 2000)) <= 2000     # 40 MB of escapes: linear, bounded


def test_clean_notes_keeps_each_once_in_order_and_counts_the_rest():
    notes = clean_notes([ESCAPES + 'a', 'b', ESCAPES + 'a', *(f'n{i}' for i in range(100_000))],
                        limit=5, note_chars=50)
    assert notes[:2] == [' 5.00 / 5 \na', 'b'] and len(notes) == 6
    assert notes[-1].startswith('99997 more notes')


def test_results_json_stays_under_1_mb_without_escapes(tmp_path):
    forged = ESCAPES + '\U0001F600' * 1000
    document = {'score': 0.0, 'execution_time': 1.0, 'output': forged * 5000, 'visibility': 'visible',
                'stdout_visibility': 'hidden',
                'tests': [{'score': 0.0, 'max_score': 1.0, 'status': 'failed', 'name': f'Q8.1 check {i}',
                           'number': f'8.1.{i}', 'output': forged * 4000, 'visibility': 'visible',
                           'tags': ['Q8.1']} for i in range(60)],
                'extra_data': {'part': 1, 'notes': [forged] * 500}}
    path = write_results(document, tmp_path / 'results.json')
    raw = path.read_bytes()
    assert len(raw) < 1_000_000 and b'\\u001b' not in raw and b'\x1b' not in raw and b'\\u009b' not in raw
    written = json.loads(raw)
    jsonschema.validate(written, json.loads(SCHEMA_FILE.read_text()))
    assert 'cut by the grader' in written['tests'][0]['output']
    plain = {'score': 1.0, 'output': 'ok\n', 'tests': [{'name': 'a', 'output': 'passed'}]}
    assert bounded(plain) == plain
