"""Where things are: the one module that knows the repository's layout.

Every other module asks here for the repository root, the reference solution, the starter, the rubric
and the sandbox-side code, so that moving a module between rooms never changes what it finds.
"""

from pathlib import Path

GRADERS = Path(__file__).resolve().parent            # the graders package
REPO = GRADERS.parent                                # the checkout (on Gradescope: /autograder/source/hw1grade)
INSIDE = GRADERS / 'inside'                          # the only code mounted into the sandbox
RUBRIC_FILE = GRADERS / 'rubric.toml'
REFERENCE = REPO / 'reference'                       # the reference solution (never reaches students)
STUDENT = REPO / 'student'                           # the starter as generated from the reference


def checks_dir(part: int) -> Path:
    """The folder of one part's checks (pytest tests with a points marker)."""
    return GRADERS / f'part{part}'
