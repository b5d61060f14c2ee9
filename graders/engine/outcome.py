"""Whose failure it is: typed outcomes of grading, so that the grader's own failure is never a grade.

A grade is a claim about the submission. When the grader could not do its job here (the sandboxed
interpreter cannot start on this machine, the preflight found the machine unfit, a check's own code
broke), whatever points were counted are not evidence about the submission, and showing them as a
score would hand a student a zero they did not earn. So:

- `GraderError` and its subclasses are raised for failures outside the submission; `graders/engine/bridge.py`
  raises `SandboxUnavailable` when the sandbox cannot start the interpreter for reasons that are not
  the submission's; `graders/engine/grade.py` turns a failed preflight (`graders/engine/doctor.py`) into
  `PreflightFailed`.
- `Status` is the outcome of one submission, carried by `Graded.status` (graders/engine/report.py) and used by
  `grade`, `batch` (status.json, the gradebook) and Gradescope's run_autograder; nothing matches on
  message text.
- `CheckStatus` is the outcome of one check: only `FAILED` and `BUDGET` cost the student points that
  the grade stands behind; `GRADER_ERROR` makes the whole submission a grader error.
- `hw1grade grade` exits with `EXIT_GRADER_ERROR` (3) on a grader error, so that exit status 0 with a
  low score always means the submission earned it.
- `Note` is a note for the report whose `kind` its writer sets: `NoteKind.REVIEW` marks what a TA must
  look at (batch's review column reads the kind, never the wording); notes that came from the sandbox
  are plain text and can never be review notes, however they are worded.
- One exception family: `Hw1gradeError`, whose `exit_code` is what `hw1grade` exits with when one
  reaches the command line (graders/cli.py maps it, in one place): `UserError` (2: an argument, a
  folder, data the person who ran the command can fix), `GraderError` (3: this machine cannot grade).
  `SubmissionError` is the submission's failure: it becomes a verdict with its message, never an exit
  status of `hw1grade grade` (which exits 0 for any grade, however low).
"""

from __future__ import annotations

from enum import StrEnum

EXIT_USER_ERROR, EXIT_GRADER_ERROR = 2, 3

# What a student (on Gradescope) and a TA read when the grader failed. No score is presented as earned.
GRADER_ERROR_MESSAGE = ('The autograder failed on the server, not because of your submission: it was not '
                        'graded, and the 0 shown is not your score. Course staff have been told by the '
                        'grader and will regrade it; you do not need to resubmit.')
NOT_GRADED = 'not graded: the autograder failed on the server (not your code); staff will regrade'


class Status(StrEnum):
    """The outcome of grading one submission (status.json's `status`, gradebook's `partN status`)."""
    GRADED = 'graded'              # every check ran; the score is the submission's
    INVALID = 'invalid'            # the submission could not be opened (broken, hostile, wrong part)
    GRADER_ERROR = 'grader-error'  # the grader failed here; the score means nothing: regrade
    TIMEOUT = 'timeout'            # batch: the task went past its wall-clock limit
    CRASH = 'crash'                # batch: the task raised, or its worker died repeatedly


# Outcomes whose score is not the submission's: nothing is shown or exported as earned; staff regrade.
NOT_A_GRADE = frozenset({Status.GRADER_ERROR, Status.TIMEOUT, Status.CRASH})


class CheckStatus(StrEnum):
    """The outcome of one check."""
    PASSED = 'passed'
    FAILED = 'failed'              # the submission's failure: the message says what to fix
    BUDGET = 'budget-exhausted'    # not graded: the submission used up the part's grading budget
    GRADER_ERROR = 'grader-error'  # the grader could not evaluate it: not the submission's failure


class NoteKind(StrEnum):
    """What a note of the report asks of the TA."""
    INFO = 'info'          # how the submission was read, built, shimmed: nothing to do
    REVIEW = 'review'      # look at it by hand (no points changed): batch's review column, the gradebook


class Note(str):
    """A note for the report, typed by its writer: the text (what the report, results.json and every
    reader of `Graded.notes` see: it is a `str`) and its `kind`. `Note.review(text)` is a review flag."""
    kind: NoteKind

    def __new__(cls, text: str, kind: NoteKind = NoteKind.INFO):
        note = super().__new__(cls, text)
        note.kind = NoteKind(kind)
        return note

    @classmethod
    def review(cls, text: str) -> Note:
        return cls(text, NoteKind.REVIEW)

    def __reduce__(self):   # across Dask and multiprocessing with its kind
        return (Note, (str(self), self.kind))


class Hw1gradeError(Exception):
    """Base of every error hw1grade raises on purpose; str() says what happened and what to do, in one
    line, for whoever reads it; `exit_code` is what `hw1grade` exits with when it reaches the command line."""
    exit_code: int = 1


class UserError(Hw1gradeError):
    """Something the person who ran the command can fix: an argument, a missing folder, broken data."""
    exit_code = EXIT_USER_ERROR


class SubmissionError(Hw1gradeError):
    """The submission's failure (it cannot be opened, its code raised, timed out, died, sent a bad value):
    str() is its verdict for the student. Caught and turned into a verdict; never an exit status of a grade."""


class GraderError(Hw1gradeError):
    """The grader could not grade here, for a reason outside the submission; str() is for a TA."""
    exit_code = EXIT_GRADER_ERROR


class SandboxUnavailable(GraderError):
    """The sandbox cannot start the interpreter on this machine (exec refused, bubblewrap setup error,
    an interpreter that cannot import what it needs), with no submission code involved."""


class PreflightFailed(GraderError):
    """`graders.engine.doctor.preflight` found this machine unfit to grade; nothing of the submission ran."""

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__('this machine cannot grade correctly (hw1grade doctor): ' + '; '.join(self.problems))
