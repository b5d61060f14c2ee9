"""The `hw1grade` command line: `hw1grade GROUP COMMAND [options]`.

Exit codes: 0 when the command did its job; 2 when it could not, because of its arguments (argparse)
or of something the user can fix (missing or broken data); 3 when the grader failed here (`grade`: the
submission was not graded). Then stderr holds exactly one line, `hw1grade: error: ...`, and no
traceback. Code 1 is left for commands that ran but report failures.

To add a command group, write a function that takes the top-level subparsers, adds its parser(s) and
sets `handler` (a function of the parsed args returning the exit code) on each leaf, then list it in
COMMAND_GROUPS. A handler that cannot do its job raises an error of the family of
graders/engine/outcome.py (`UserError`: what the user can fix; `GraderError`: the grader failed here):
`exit_code` below maps it, here and nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graders.classroom.batch import add_batch_commands
from graders.classroom.gradebook import add_gradebook_commands
from graders.classroom.gradescope import add_export_commands
from graders.classroom.leaderboard import add_leaderboard_commands
from graders.classroom.similarity import add_similarity_commands
from graders.course.example import add_example_commands
from graders.course.part2_runs import add_reference_commands
from graders.course.starter import add_starter_commands
from graders.data import cifar10
from graders.data.challenge import add_challenge_commands
from graders.engine.doctor import add_doctor_commands
from graders.engine.grade import add_grade_commands
from graders.engine.outcome import EXIT_USER_ERROR, Hw1gradeError
from graders.notebooks.runner import add_notebooks_commands

EXIT_OK = 0


def exit_code(error: BaseException) -> int | None:
    """The exit status for an error that reached the command line; None: a bug (its traceback is shown).
    An OSError is a file or folder the command was given or must write (missing, unreadable, disk full):
    the user's to fix, its message names the path."""
    if isinstance(error, Hw1gradeError):
        return error.exit_code
    if isinstance(error, OSError):
        return EXIT_USER_ERROR
    return None


def data_fetch(args: argparse.Namespace) -> int:
    """`hw1grade data fetch`: get CIFAR-10 into the cache, optionally link or copy it, print where it is.

    The path is the last line of stdout (the only one with --quiet)."""
    if args.copy and not args.link:
        args.parser.error("--copy needs --link DIR")
    log = (lambda message: None) if args.quiet else print  # progress on stdout: stderr is for the error line
    folder = cifar10.ensure_cifar10(args.archive, args.cache_dir, log=log)
    if args.link:
        placed = cifar10.place(folder, Path(args.link), copy=args.copy)
        log(f"{'copied' if args.copy else 'linked'} {placed} -> {folder}")
        folder = placed
    print(folder)
    return EXIT_OK


def add_data_commands(subparsers: argparse._SubParsersAction) -> None:
    """The `data` group: `hw1grade data fetch`."""
    data = subparsers.add_parser("data", help="get the CIFAR-10 data ready")
    commands = data.add_subparsers(metavar="COMMAND", required=True)
    fetch = commands.add_parser(
        "fetch", help="download or unpack CIFAR-10 into the cache and print its path",
        description="Extract cifar-10-python.tar.gz once into a cache and print the path of "
                    "cifar-10-batches-py (with --link, the path of the link). The archive is --from PATH, "
                    f"else ${cifar10.ARCHIVE_ENV}, else what the cache holds, else the official download "
                    "(checked against the official md5).")
    fetch.add_argument("--from", dest="archive", metavar="PATH",
                       help=f"a local cifar-10-python.tar.gz (overrides ${cifar10.ARCHIVE_ENV})")
    fetch.add_argument("--cache-dir", metavar="DIR",
                       help=f"where to extract (default ${cifar10.CACHE_ENV}, else "
                            "${XDG_CACHE_HOME:-~/.cache}/hw1grade/cifar10)")
    fetch.add_argument("--link", metavar="DIR",
                       help="make DIR/cifar-10-batches-py a symlink to the cached data, e.g. cs231n/datasets")
    fetch.add_argument("--copy", action="store_true", help="with --link: copy the data instead of linking")
    fetch.add_argument("--quiet", action="store_true", help="print only the resulting path")
    fetch.set_defaults(handler=data_fetch, parser=fetch)


# One entry per top-level group.
COMMAND_GROUPS = [add_grade_commands, add_data_commands, add_challenge_commands, add_reference_commands,
                  add_notebooks_commands, add_example_commands, add_starter_commands,
                  add_leaderboard_commands, add_batch_commands, add_export_commands, add_doctor_commands,
                  add_similarity_commands, add_gradebook_commands]


def build_parser() -> argparse.ArgumentParser:
    """The full `hw1grade` parser, one subparser per entry of COMMAND_GROUPS."""
    parser = argparse.ArgumentParser(prog="hw1grade", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(metavar="GROUP", required=True)
    for add_commands in COMMAND_GROUPS:
        add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `hw1grade` command and return its exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except Exception as e:
        code = exit_code(e)
        if code is None:
            raise
        print(f"hw1grade: error: {' '.join(str(e).split())}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
