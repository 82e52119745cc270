"""Units as people write and read them: sizes, durations, ages, counts, dates; bad text is a ValueError saying why."""

from __future__ import annotations

import re
import time

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


def human_size(n: float) -> str:
    """Bytes in binary units, as the size limit and ``parse_size`` write them: 512 B, 1.5 KiB, 10.0 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # not reached: GiB is the largest unit shown


def human_time(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f} min {rest:.0f} s"


def plural(count: int, one: str, many: str) -> str:
    """``1 entry``, ``3 entries``: a count with its noun."""
    return f"{count} {one if count == 1 else many}"


def when(timestamp: float) -> str:
    """A moment as the listings show it: local date and minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
