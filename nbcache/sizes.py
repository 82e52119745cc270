"""Sizes and ages as people write them: ``10GiB``, ``100MB``, ``7d``; bad text is a ValueError saying why."""

from __future__ import annotations

import re

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional unit (KB, MB, GB, TB in 1000s; K, KiB, MiB, GiB... in 1024s)."""
    match = re.fullmatch(_NUMBER + r"([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; write it like 500MB, 10GiB or 1048576")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_age(text: str) -> float:
    """Seconds in ``text``: a number with a unit s, m, h, d or w (``7d``, ``12h``)."""
    match = re.fullmatch(_NUMBER + r"([smhdw])\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not an age; write it like 7d, 12h, 30m or 2w")
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]
