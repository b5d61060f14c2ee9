"""GradeOptions (graders/engine/options.py): one frozen value for how to grade, passed as is by the CLI,
batch and Gradescope; what of it changes a grade is batch's grader version. Seconds: nothing is graded."""
import dataclasses
import tempfile
from pathlib import Path

import pytest

from graders.classroom.batch import grader_version
from graders.engine.grade import grade
from graders.engine.options import GradeOptions


def test_options_are_frozen_and_an_unknown_override_is_refused_before_grading(tmp_path, monkeypatch):
    options = GradeOptions(notebooks=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.notebooks = True
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))   # no scratch folder is made for a call that cannot grade
    with pytest.raises(TypeError, match='no_such_option'):
        grade(tmp_path / 'sub.zip', options, no_such_option=1)
    assert list(tmp_path.iterdir()) == []


def test_the_grader_version_follows_what_changes_a_grade_only():
    fast = GradeOptions(notebooks=False, visible_only=True, select='test_loss')
    version = grader_version(fast)
    assert grader_version(dataclasses.replace(fast, build_cache=Path('/elsewhere'), keep_scratch=True)) == version
    for change in ({'select': 'test_forward'}, {'notebooks': True}, {'visible_only': False}, {'call_timeout': 30.0}):
        assert grader_version(dataclasses.replace(fast, **change)) != version, change
