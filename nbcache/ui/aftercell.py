"""Whether an open view refreshes after every cell: only while a refresh stays cheap.

The sidebar's views (the cache browser, the stale cells) refresh after each cell, on the cell's own time: the
kernel answers once the post-cell hooks are done. A refresh that reads a large store or hashes large inputs again
(the staleness of a cell that reads a 200 MB array hashes it after every cell: 37 ms) would slow every cell of the
notebook. So a view whose last refresh took longer than its limit stops refreshing after cells and says so, with a
button; a click refreshes it, and turns the after-cell refresh back on if that refresh was quick again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nbcache.units import human_time

# A refresh after each cell may cost a cell this much; the first that takes longer turns them off.
LIMIT_S = 0.05


@dataclass
class AfterCell:
    """Times a view's refreshes and decides whether the next cell refreshes it too."""

    what: str  # what the refresh does, for the note: "listing the store", "checking the cells"
    limit_s: float = LIMIT_S
    automatic: bool = True
    took_s: float = 0.0

    def refresh(self, show: Callable[[], Any], note: Any, button: Any) -> None:
        """``show()``, timed; then the view's ``note`` (an HTML widget) says why cells no longer refresh it and its
        refresh ``button`` shows, or both hide while cells do."""
        start = time.perf_counter()
        show()
        self.took_s = time.perf_counter() - start
        self.automatic = self.took_s <= self.limit_s
        note.value = "" if self.automatic else (
            f"<small style='opacity:0.75'>not refreshed after each cell: {self.what} took "
            f"{human_time(self.took_s)}; refresh to update</small>")
        button.layout.display = "none" if self.automatic else None
