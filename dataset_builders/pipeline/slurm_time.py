"""Slurm time limits, checked when the config is read rather than by ``sbatch`` mid-build.

``sbatch --time`` takes ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``
(and ``UNLIMITED`` / ``INFINITE``). A bare integer is minutes, as Slurm reads it.
"""

from __future__ import annotations

import re

FORMATS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"

_CLOCK = re.compile(r"^\d+(?::\d{1,2}){0,2}$")  # MM | MM:SS | HH:MM:SS
_DAYS = re.compile(r"^\d+-\d{1,2}(?::\d{1,2}){0,2}$")  # D-HH | D-HH:MM | D-HH:MM:SS


def slurm_time(value: str | int, key: str = "time") -> str:
    """``value`` as the string ``sbatch --time`` gets; ``ValueError`` naming ``key`` when Slurm would refuse it."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    text = value.strip() if isinstance(value, str) else ""
    if text.upper() in ("UNLIMITED", "INFINITE"):
        return text
    if _CLOCK.match(text):
        ok = all(int(p) < 60 for p in text.split(":")[1:])  # minutes and seconds after the first field
    elif _DAYS.match(text):
        hours, *rest = text.split("-", 1)[1].split(":")
        ok = int(hours) < 24 and all(int(p) < 60 for p in rest)
    else:
        ok = False
    if not ok:
        raise ValueError(f"{key}={value!r} is not a Slurm time limit; write {FORMATS} (e.g. 12:00:00 or 1-12:00:00)")
    return text
