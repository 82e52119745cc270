"""``%cache_info`` as text: one row per entry, then totals."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .status import human_size, human_time


def _age(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def format_entries(entries: Sequence[Any], location: str) -> str:
    if not entries:
        return f"nbcache: no entries in {location}"
    header = f"{'key':<12} {'created':<16} {'hits':>4} {'size':>9} {'compute':>9} {'saved':>9}  cell"
    rows = [
        f"{e.key[:12]:<12} {_age(e.created):<16} {e.hits:>4} {human_size(e.size):>9} "
        f"{human_time(e.compute_s):>9} {human_time(e.saved_s):>9}  {e.cell[:60]}"
        for e in entries
    ]
    total_size = sum(e.size for e in entries)
    total_saved = sum(e.saved_s for e in entries)
    footer = (f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {human_size(total_size)}, "
              f"{human_time(total_saved)} saved in all; store: {location}")
    return "\n".join([header, *rows, footer])
