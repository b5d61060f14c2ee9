"""`hw1grade batch` on a LocalCluster: every student's outcome, the gradebook, the index, resume."""
import os
from dataclasses import replace

import pytest

from graders import cli
from graders.classroom.batch import grade_task, run_batch
from graders.classroom.submissions import Job
from tests.helpers import EXAMPLES, FAST, FAST_FLAGS, check_class_outputs, statuses

pytestmark = pytest.mark.slow


def test_a_class_on_a_local_cluster_then_resume(class_folder, tmp_path, capsys):
    out = tmp_path / 'out'
    code = cli.main(['batch', str(class_folder), '--out', str(out), '--workers', '2', *FAST_FLAGS])
    printed = capsys.readouterr().out
    assert code == 0
    assert '[4/4]' in printed and 'ETA' in printed and 'summary: graded 2, invalid 2' in printed
    check_class_outputs(out)
    first = statuses(out)
    assert 'damaged zip' in first['carol']['message'] and first['dave']['score'] == 0

    # A re-run grades nothing; a changed submission alone is graded again.
    assert run_batch(class_folder, out, options=FAST, log=lambda line: None) == {'skipped': 4, 'lost': 0}
    assert statuses(out) == first
    (class_folder / 'carol_1_cs231n.zip').write_bytes(b'PK\x03\x04 another broken upload')
    counts = run_batch(class_folder, out, workers=1, options=FAST, log=lambda line: None)
    assert counts == {'skipped': 3, 'lost': 0, 'invalid': 1}
    assert statuses(out)['carol']['sha256'] != first['carol']['sha256']
    check_class_outputs(out)


def test_force_regrades_and_other_options_are_another_grader_version(tmp_path):
    folder = tmp_path / 'class'
    folder.mkdir()
    (folder / 'eve_1_cs231n.zip').write_bytes(b'not a zip')
    out = tmp_path / 'out'
    quiet = dict(workers=1, log=lambda line: None)
    assert run_batch(folder, out, options=FAST, **quiet)['invalid'] == 1
    assert run_batch(folder, out, options=FAST, force=True, **quiet)['invalid'] == 1
    assert run_batch(folder, out, options=replace(FAST, select='test_loss'), **quiet)['invalid'] == 1


def _job(student='alice'):
    return Job(student, 1, EXAMPLES / '1_cs231n.zip')


def test_a_task_past_its_time_limit_is_a_timeout_verdict():
    result = grade_task(_job(), FAST, time_limit=0.01)
    assert result['record']['status'] == 'timeout' and result['record']['score'] == 0
    assert 'longer than 0.01 s' in result['results']['output']


def test_a_grader_crash_is_a_crash_verdict():
    result = grade_task(_job(), replace(FAST, rubric='no such rubric'), time_limit=60)   # grade() raises
    assert result['record']['status'] == 'crash'
    assert "'str' object has no attribute" in result['record']['message'] and result['results']['score'] == 0.0


def test_review_flags_come_from_the_review_notes_and_the_notebooks():
    from graders.classroom.batch import outcome
    from graders.engine.graded import Graded
    from graders.engine.outcome import Note
    from graders.engine.rubric import load_rubric
    claim = "flagged for review: softmax.log claims 0.900 test accuracy, but the grader's own run measured 0.300"
    graded = Graded('x.zip', 2, load_rubric(), [], 1.0, notes=[
        Note.review(claim), Note.review("manual review: MyModel did not finish the grader's training run"),
        'np.int shimmed',
        # A note the sandbox sent (plain text) is never a review flag, whatever its wording.
        'manual review: flagged for review, says the submission'],
        notebooks=[{'name': 'softmax.ipynb', 'status': 'ran', 'flags': ['claims 0.9, measured 0.3']}])
    flags = outcome(_job(), graded, 'graded')['record']['flags']
    assert flags == [claim, "manual review: MyModel did not finish the grader's training run",
                     'softmax.ipynb: claims 0.9, measured 0.3']


def test_graders_side_by_side_get_distinct_sandbox_uids(tmp_path):
    from graders.classroom.batch import uid_slot
    if os.geteuid() != 0:
        pytest.skip('sandbox uids are chosen only when grading as root')
    with uid_slot(tmp_path) as first, uid_slot(tmp_path) as second:
        assert first == 65534 and second == 65533
    with uid_slot(tmp_path) as again:
        assert again == 65534
