"""An entry's usage counters (hits, last use, time saved), kept unsigned in ``stats/<key>.json`` next to the signed
manifest: they change on every hit, and damage to them only starts the counting again."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nbcache.store import files


def finite(value: Any, default: float = 0.0) -> float:
    """``value`` as a finite, non-negative number; ``default`` for anything else (NaN, negative, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) and number >= 0 else default


@dataclass(frozen=True)
class Counters:
    hits: float = 0.0
    last_used: float = 0.0  # when it was last restored (0: never)
    saved_s: float = 0.0  # the run time its hits saved, all together

    def after_hits(self, saved_s: float, hits: int = 1, last_used: float | None = None) -> Counters:
        """These counters after ``hits`` more hits that saved ``saved_s`` in all, the last at ``last_used``."""
        return Counters(self.hits + hits, time.time() if last_used is None else last_used,
                        self.saved_s + max(saved_s, 0.0))

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()


def read_counters(path: Path) -> Counters:
    """Counters from a stats file; absent or damaged (NaN, negative, not numbers, a pipe): zeros."""
    try:
        stats = json.loads(files.read_small(path, 1 << 16))
        return Counters(finite(stats["hits"]), finite(stats["last_used"]), finite(stats["saved_s"]))
    except Exception:  # absent or damaged: counters start again
        return Counters()
