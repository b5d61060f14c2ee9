"""One exception family, mapped to exit codes in one place (graders/cli.py `exit_code`): what the user can
fix exits 2, the grader's failure 3, each with one `hw1grade: error:` line; anything else is a bug and keeps
its traceback. Seconds: no submission is graded."""
import pytest

from graders import cli
from graders.classroom.gradescope import ExportError
from graders.course.example import ExampleError
from graders.course.starter import MarkerError
from graders.data.challenge import PredictionsError
from graders.data.cifar10 import DataError
from graders.data.heldout import ImagesError, SecretError
from graders.engine.bridge import CallTimeout, SubmissionRaised
from graders.engine.intake import IntakeError
from graders.engine.outcome import (
    EXIT_GRADER_ERROR,
    EXIT_USER_ERROR,
    GraderError,
    Hw1gradeError,
    PreflightFailed,
    SandboxUnavailable,
    SubmissionError,
    UserError,
)


@pytest.mark.parametrize('error, code', [
    (UserError('x'), EXIT_USER_ERROR), (DataError('x'), EXIT_USER_ERROR), (SecretError('x'), EXIT_USER_ERROR),
    (ImagesError('x'), EXIT_USER_ERROR), (MarkerError('x'), EXIT_USER_ERROR), (ExampleError('x'), EXIT_USER_ERROR),
    (ExportError('x'), EXIT_USER_ERROR), (FileNotFoundError('x'), EXIT_USER_ERROR),
    (GraderError('x'), EXIT_GRADER_ERROR), (SandboxUnavailable('x'), EXIT_GRADER_ERROR),
    (PreflightFailed(['no sandbox']), EXIT_GRADER_ERROR),
    (ValueError('a bug'), None), (KeyError('a bug'), None)])
def test_each_error_has_its_exit_code(error, code):
    assert cli.exit_code(error) == code


def test_the_submissions_failures_are_of_the_family_and_not_a_users_or_the_graders():
    for error in (IntakeError('x'), CallTimeout('x'), SubmissionRaised('f', 'ValueError', 'x', ''),
                  PredictionsError('x')):
        assert isinstance(error, SubmissionError) and isinstance(error, Hw1gradeError)
        assert not isinstance(error, (UserError, GraderError))
    # The old bases stay, for the callers that catch them.
    assert isinstance(SecretError('x'), ValueError) and isinstance(PredictionsError('x'), ValueError)


@pytest.mark.parametrize('argv, says', [
    (['leaderboard', '{tmp}/nowhere'], 'is not a folder of submissions'),
    (['batch', '{tmp}/nowhere'], 'is not a folder of submissions'),
    # A user error raised as a ValueError used to end in a traceback (exit 1): now one line, exit 2.
    (['challenge', 'build', '--out', '{tmp}/out', '--secret-file', '{tmp}/no-secret'], 'cannot be read'),
])
def test_a_user_error_is_one_line_and_exit_2(argv, says, tmp_path, capsys):
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith('hw1grade: error: ') and says in err and len(err.splitlines()) == 1, err


def test_a_bug_keeps_its_traceback_and_a_grader_error_exits_3(monkeypatch, capsys):
    def add_commands(subparsers):
        for name, error in (('bug', ValueError('a bug in a command')), ('machine', GraderError('no sandbox here'))):
            def handler(args, error=error):
                raise error
            subparsers.add_parser(name).set_defaults(handler=handler)
    monkeypatch.setattr(cli, 'COMMAND_GROUPS', [add_commands])
    with pytest.raises(ValueError, match='a bug in a command'):
        cli.main(['bug'])
    assert cli.main(['machine']) == EXIT_GRADER_ERROR == 3
    assert capsys.readouterr().err == 'hw1grade: error: no sandbox here\n'
