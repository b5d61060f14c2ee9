"""The self-check's stand-in for graders/engine/pictures.py: the TA's report shows each plot as a
thumbnail; the self-check's table shows none, so no thumbnail is asked of the decoder (a side of 0)
and the pictures the checks record are left out of the table."""

from __future__ import annotations

from dataclasses import dataclass

THUMBNAIL_SIDE = 0


@dataclass(frozen=True)
class Picture:
    title: str
    png: bytes = b''
    note: str = ''


def thumbnail(title: str, value) -> Picture:
    return Picture(title)
