"""What a submitted notebook claims: the accuracies printed in the outputs saved in the .ipynb.

Read as data (the notebook is never executed for this): every output text is searched for an
accuracy figure and the words next to it say which (test, validation, training). Shown in the report
beside what the grader's own run measured; `graders.notebooks.figures` is the parser of the
figures a run prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graders.notebooks.figures import output_texts

# "test accuracy: 0.38", "Test accuracy:  0.512", "best validation accuracy: 0.512", "val acc = 49.3%",
# "accuracy on the test set: 0.41", "training accuracy on the 50 images: 0.98": the first number within
# 40 characters after the word with a decimal point or a percent sign.
_CLAIM = re.compile(r'(?i)\b(?P<word>acc(?:uracy)?)\b(?P<between>[^\n]{0,40}?)'
                    r'(?<![\d.])(?P<number>\d*\.\d+|\d+(?=\s*%))(?P<percent>\s*%)?')
_KINDS = (('test', re.compile(r'(?i)\btest(ing)?\b')),
          ('validation', re.compile(r'(?i)\bval(idation)?\b')),
          ('training', re.compile(r'(?i)\btrain(ing)?\b')))
_CLAIM_ORDER = ('test', 'validation', 'training')


def _kind_of(before: str, between: str) -> str | None:
    """test/validation/training from the words next to 'accuracy' (the nearest one before it wins)."""
    best = None
    for kind, pattern in _KINDS:
        for m in pattern.finditer(before):
            if best is None or m.start() > best[0]:
                best = (m.start(), kind)
    if best:
        return best[1]
    for kind, pattern in _KINDS:
        if pattern.search(between):
            return kind
    return None


def claimed_accuracies(nb: Any) -> dict[str, float]:
    """kind ('test', 'validation', 'training') -> the last accuracy of that kind printed in the
    notebook's saved outputs, as a fraction."""
    claims: dict[str, float] = {}
    for text in output_texts(nb):
        for line in text.splitlines():
            for m in _CLAIM.finditer(line[:2000]):
                kind = _kind_of(line[max(0, m.start() - 40):m.start()], m.group('between'))
                try:
                    value = float(m.group('number'))
                except ValueError:
                    continue
                if m.group('percent') or value > 1:
                    value /= 100
                if kind and 0 <= value <= 1:
                    claims[kind] = value
    return claims


def format_claims(claims: Mapping[str, float]) -> str:
    return ', '.join(f'{kind} accuracy {claims[kind]:.3f}' for kind in _CLAIM_ORDER if kind in claims)
