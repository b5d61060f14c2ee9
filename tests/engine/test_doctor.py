"""`hw1grade doctor` and `preflight()`: the table, its JSON, and exit status 1 exactly when grading here
would be wrong (issue 11 item 2)."""
import json
import os
import subprocess
import textwrap

import pytest

from graders import cli
from graders.engine import doctor
from graders.engine.doctor import Check, Preflight
from tests.helpers import CROSSTALK_UID, ROOT


def test_preflight_here_is_ok_fast_and_cached(monkeypatch):
    monkeypatch.delenv('HW1GRADE_ISOLATION', raising=False)
    doctor._preflights.clear()
    found = doctor.preflight(1, sandbox_uid=CROSSTALK_UID)
    if found.isolation != 'bubblewrap' and not os.environ.get('CI'):
        pytest.skip('this host grades at %s' % found.isolation)
    assert found.ok, found.problems
    assert found.problems == () and found.isolation == 'bubblewrap'
    names = [c.name for c in found.checks]
    assert 'sandboxed python + numpy' in names and 'seccomp filter' in names and 'CIFAR-10' in names
    assert 'cython build in the sandbox' not in names          # the doctor's, not the per-grade preflight's
    assert doctor.preflight(1, sandbox_uid=CROSSTALK_UID) is found   # cached per process


def test_the_table_and_its_json(capsys, monkeypatch):
    monkeypatch.delenv('HW1GRADE_ISOLATION', raising=False)
    doctor._preflights.clear()
    code = cli.main(['doctor', '--quick', '--part', '1', '--uid', str(CROSSTALK_UID), '--json'])
    document = json.loads(capsys.readouterr().out)
    assert code == (0 if document['ok'] else 1)
    assert set(document) == {'ok', 'isolation', 'problems', 'checks'}
    for line in document['checks']:
        assert set(line) == {'name', 'ok', 'detail', 'fix', 'required', 'status'}
        assert line['status'] == ('ok' if line['ok'] else 'FAIL' if line['required'] else 'WARN')
        assert line['ok'] or line['fix']                    # every failing line says how to fix it
    assert cli.main(['doctor', '--quick', '--part', '1', '--uid', str(CROSSTALK_UID)]) == code
    table = capsys.readouterr().out
    assert 'sandboxed python + numpy' in table and table.rstrip().splitlines()[-1].startswith('grading here')


def test_format_marks_failures_and_warnings_with_their_fix():
    found = doctor._summarize([
        Check('sandboxed python', False, 'cannot start /x/python: Permission denied', 'install bubblewrap'),
        Check('network namespace', False, 'denied here', 'use a seccomp profile that allows it', required=False),
        Check('pdftoppm', True, 'pdftoppm version 22')], 'rlimits')
    assert isinstance(found, Preflight) and not found.ok
    assert found.problems == ('sandboxed python: cannot start /x/python: Permission denied '
                              '(fix: install bubblewrap)',)
    assert found.warnings == ('network namespace: denied here (fix: use a seccomp profile that allows it)',)
    lines = doctor.format_table(found).splitlines()
    assert lines[0].startswith('FAIL') and lines[1].strip() == 'fix: install bubblewrap'
    assert lines[2].startswith('WARN') and lines[4].startswith('ok')
    assert 'WRONG' in lines[-1]


def test_a_failing_probe_is_a_failed_line_not_a_crash():
    def broken():
        raise RuntimeError('no /proc here')
    [line] = doctor._guarded('isolation', broken, required=False)
    assert not line.ok and not line.required and 'RuntimeError: no /proc here' in line.detail


DRIVER = textwrap.dedent('''
    import argparse, json, os, sys
    sys.path.insert(0, sys.argv[1])
    from graders.engine import doctor
    code = doctor.doctor_command(argparse.Namespace(json=True, quick=True, part=1, uid=int(sys.argv[2])))
    print(json.dumps({'code': code}))
''')


@pytest.mark.parametrize('level', ['rlimits', 'bubblewrap'])
def test_exit_status_1_when_the_sandboxed_interpreter_cannot_start(private_venv, level):
    """A simulated bare machine: the grader's interpreter under a 0700 folder. Where nothing can bind it
    (the rlimits level) the interpreter cannot start: FAIL, exit 1, the fix named. With bubblewrap it
    starts (this venv has no numpy: still FAIL, for that reason)."""
    if os.geteuid() != 0:
        pytest.skip('the sandbox uid differs from the grader\'s only as root')
    venv, _ = private_venv
    env = dict(os.environ, HW1GRADE_ISOLATION=level)
    proc = subprocess.run([str(venv / 'bin' / 'python'), '-I', '-c', DRIVER, str(ROOT), str(CROSSTALK_UID)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    table, tail = proc.stdout.rsplit('\n{"code"', 1)
    document = json.loads(table)
    assert json.loads('{"code"' + tail)['code'] == 1 and not document['ok']
    line = next(c for c in document['checks'] if c['name'].startswith('sandboxed python'))
    assert line['status'] == 'FAIL'
    if document['isolation'] == 'rlimits':
        assert 'Permission denied' in line['detail'] and 'bubblewrap' in line['fix']
        assert any(p.startswith('sandboxed python') for p in document['problems'])
    else:
        assert 'numpy' in line['detail'] and 'pip install' in line['fix']
