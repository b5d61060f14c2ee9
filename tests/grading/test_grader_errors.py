"""A failure of the grader's machine is the grader's, never the student's (graders/engine/outcome.py).

A simulated bare machine: the sandbox's interpreter lives where the sandbox user cannot reach it (a
0700 folder, as pyenv or conda in root's home directory), or the preflight finds the machine unfit.
Either way `grade` ends with the grader-error status and exit code 3, results.json says so in words a
student and a TA understand and presents no score, no check is marked failed, and `batch` records
`grader-error` and flags the gradebook row.
"""
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from graders import cli
from graders.classroom.batch import grade_task, store
from graders.classroom.gradebook import write_class_outputs
from graders.classroom.submissions import Job
from graders.engine import doctor
from graders.engine.grade import grade
from graders.engine.options import GradeOptions
from graders.engine.outcome import EXIT_GRADER_ERROR, GRADER_ERROR_MESSAGE, NOT_GRADED, CheckStatus, Status
from graders.engine.rubric import load_rubric
from graders.engine.sandbox import Sandbox
from tests.helpers import results_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'examples' / '1_cs231n.zip'
QUICK = dict(visible_only=True, notebooks=False)


@pytest.fixture
def unreachable_interpreter(tmp_path, monkeypatch):
    """Every sandbox's Python is a link to the real one inside a folder only root may enter."""
    private = tmp_path / 'home' / '.pyenv' / 'bin'
    private.mkdir(parents=True)
    (private / 'python3.11').symlink_to(sys.executable)
    (tmp_path / 'home').chmod(0o700)
    original = Sandbox.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.python = str(private / 'python3.11')
    monkeypatch.setattr(Sandbox, '__init__', init)


@pytest.fixture
def failing_preflight(monkeypatch):
    """The doctor's preflight finds the sandboxed interpreter unable to start."""
    found = doctor.Preflight(ok=False, isolation='bubblewrap', checks=(),
                             problems=('sandboxed python: cannot start (fix: see hw1grade doctor)',))
    monkeypatch.setattr(doctor, 'preflight', lambda part=None, *, sandbox_uid=None: found)


def assert_not_a_grade(out_dir: Path, graded=None):
    document = results_of(out_dir)
    assert document['extra_data']['status'] == 'grader-error'
    assert document['output'].startswith(GRADER_ERROR_MESSAGE)
    assert document['score'] == 0 and document['tests']
    # Hidden tests: Gradescope then hides the total from students; none says the code failed.
    assert all(t['visibility'] == 'hidden' and t['output'] == NOT_GRADED for t in document['tests'])
    report = (out_dir / 'report.html').read_text()
    assert 'not graded' in report and 'points, graded in' not in report
    if graded is not None:
        assert graded.status is Status.GRADER_ERROR and not graded.is_grade
        assert not any(s.check.status is CheckStatus.FAILED for s in graded.scored)


@pytest.mark.slow
def test_an_interpreter_the_sandbox_cannot_start_mid_run_is_a_grader_error(unreachable_interpreter, tmp_path):
    graded = grade(EXAMPLE, out_dir=tmp_path / 'out', preflight=False, **QUICK)
    assert_not_a_grade(tmp_path / 'out', graded)
    assert 'cannot start the grader\'s Python' in graded.verdict
    # The first check that needed the sandbox found out; the rest were not run, not failed.
    assert {s.check.status for s in graded.scored} <= {CheckStatus.GRADER_ERROR, CheckStatus.PASSED}


def test_a_failed_preflight_exits_3_before_the_submission_is_touched(failing_preflight, tmp_path, capsys):
    out = tmp_path / 'out'
    assert cli.main(['grade', str(EXAMPLE), '--out', str(out), '--no-notebooks']) == EXIT_GRADER_ERROR == 3
    assert_not_a_grade(out)
    assert 'sandboxed python: cannot start' in results_of(out)['output']
    assert 'grader error' in capsys.readouterr().err


def test_batch_records_grader_error_and_the_gradebook_flags_the_row(failing_preflight, tmp_path):
    result = grade_task(Job('alice', 1, EXAMPLE), GradeOptions(notebooks=False), time_limit=300)
    assert result['record']['status'] == 'grader-error'
    store(tmp_path, result, 'sha', 'version')
    assert json.loads((tmp_path / 'alice' / 'part1' / 'status.json').read_text())['status'] == 'grader-error'
    write_class_outputs(tmp_path, load_rubric())
    book = pd.read_csv(tmp_path / 'gradebook.csv', keep_default_na=False).set_index('student')
    assert book.loc['alice', 'part1 status'] == 'grader-error'
    assert book.loc['alice', 'total'] == ''
    assert book.loc['alice', 'review'].startswith('part1: GRADER-ERROR, not a grade')
    canvas = pd.read_csv(tmp_path / 'canvas.csv', keep_default_na=False, dtype=str)
    assert canvas.iloc[0]['HW1 Q8'] == ''
