"""The one-line status a cached cell ends with: what happened, why, and what it cost or saved."""

from __future__ import annotations

from collections.abc import Iterable

from nbcache.units import human_size, human_time


def _names(names: Iterable[str], limit: int = 4) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def hit_line(outputs: Iterable[str], size: int, elapsed: float, saved: float, note: str = "") -> str:
    outputs = list(outputs)
    restored = f"{_names(outputs)} restored, " if outputs else ""
    tail = f"; {note}" if note else ""
    return (f"nbcache: hit ({restored}{human_size(size)}) in {human_time(elapsed)}, "
            f"saved {human_time(max(saved, 0.0))}{tail}")


def miss_line(reason: str, compute_s: float, stored: int | None, save_s: float, note: str = "") -> str:
    stored_part = f"stored {human_size(stored)} in {human_time(save_s)}" if stored is not None else "not stored"
    tail = f"; {note}" if note else ""
    return f"nbcache: miss ({reason}), ran in {human_time(compute_s)}, {stored_part}{tail}"


def uncached_line(reason: str) -> str:
    return f"nbcache: not cached ({reason})"
