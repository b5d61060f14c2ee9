"""The self-check's stand-in for graders/engine/companions.py. The assignment has 2_pytorch.pdf uploaded
as its own file beside 2_pytorch.zip, and the TA's grader then looks beside the zip; on the student's
machine that is beside the 2_pytorch folder (a PDF in the folder itself is found first, by the check)."""

import re
from pathlib import Path


def uploaded(root) -> list[str]:
    """2_pytorch.pdf (any case, '-', '_' or spaces) beside the folder `root`, as a path the check can open."""
    beside = Path(root).resolve().parent
    return [p.as_posix() for p in sorted(beside.glob('*.[pP][dD][fF]'))
            if re.sub(r'[^a-z0-9]', '', p.stem.lower()) == '2pytorch' and p.is_file() and not p.is_symlink()]
