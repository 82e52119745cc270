"""Cheap cells in a real kernel (nbclient): a ``%%cache`` hit or miss, status panel included, against the plain cell.

One kernel runs a notebook of cheap cells twice over, each cell once plain and once under ``%%cache`` right after
it (so a busy machine slows both alike): the first pass's cached cells miss (run and store), the second's hit.
Each cell's time is the kernel's own, from its "busy" message to its execute reply (header timestamps), so the
client's speed is left out while every widget message the panel sends is counted. The figures are per-cell
medians of each pass. Each miss's save is timed inside the kernel too (around ``CachedCell._save_entry``: all that
exists only to store the entry, the time its status line reports), so the miss's overhead can be given without
it. Every figure includes a panel that reached the client (``_check_all_hit`` reads it).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from .common import row

# Cheap cells as notebooks have them: a small computation, a print, a value shown.
_BODIES = (
    "a_{i} = [j * {i} for j in range(100)]\nlen(a_{i})",
    "b_{i} = {{'n': {i}, 'sq': {i} ** 2}}\nprint(b_{i})",
    "c_{i} = sum(range({i} * 10))\nc_{i}",
    "d_{i} = '-'.join(str(k) for k in range(20))\nd_{i}[:5]",
)


def _cells(count: int) -> list[str]:
    return [_BODIES[i % len(_BODIES)].format(i=i) for i in range(count)]


def _seconds(cell: Any) -> float:
    timing = cell["metadata"]["execution"]
    busy = datetime.fromisoformat(timing["iopub.status.busy"].replace("Z", "+00:00"))
    reply = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (reply - busy).total_seconds()


# Times each save in the kernel; the last cell prints them.
_TIME_SAVES = """
import time as _bench_time
import nbcache.cell.run as _bench_run
_bench_saves, _bench_save = [], _bench_run.CachedCell._save_entry
def _bench_timed_save(self, *args, **kwargs):
    start = _bench_time.perf_counter()
    try:
        return _bench_save(self, *args, **kwargs)
    finally:
        _bench_saves.append(_bench_time.perf_counter() - start)
_bench_run.CachedCell._save_entry = _bench_timed_save
"""
_PRINT_SAVES = "import json as _bench_json\nprint(_bench_json.dumps(_bench_saves))"


def _saves(cell: Any) -> list[float]:
    return json.loads("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))


def _check_all_hit(cells: list[Any]) -> None:
    """A figure for hits must be made of hits: each second-pass cached cell's status line says so."""
    for cell in cells:
        text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in cell.outputs)
        if "nbcache: hit" not in text:
            raise RuntimeError(f"benchmark cell did not hit: {cell.source!r}: {text[:200]!r}")


def passes(count: int, folder: Path, setup: str = "") -> dict[str, list[float]]:
    """Per-cell kernel seconds of each pass ("plain", "miss", "hit") over ``count`` cheap cells, and of each
    miss's save ("save").

    ``setup``: lines run after loading nbcache (``%config CacheMagics.panel = False`` to leave the panel out).
    """
    import nbformat
    from nbclient import NotebookClient

    pairs = [source for body in _cells(count) for source in (body, f"%%cache\n{body}")]
    sources = [f"%load_ext nbcache\n{setup}\n{_TIME_SAVES}", *pairs, *pairs, _PRINT_SAVES]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    old = os.environ.get("NBCACHE_DIR")
    os.environ["NBCACHE_DIR"] = str(folder / "store")
    try:
        NotebookClient(nb, kernel_name="python3", timeout=300, record_timing=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if old is None:
            os.environ.pop("NBCACHE_DIR", None)
        else:
            os.environ["NBCACHE_DIR"] = old
    _check_all_hit(nb.cells[2 + 2 * count::2])
    times = [_seconds(cell) for cell in nb.cells[1:-1]]
    cached = times[1::2]
    saves = _saves(nb.cells[-1])
    if len(saves) != count:
        raise RuntimeError(f"expected {count} saves, timed {len(saves)}")
    return {"plain": times[0::2], "miss": cached[:count], "hit": cached[count:], "save": saves}


def overheads(times: dict[str, list[float]]) -> dict[str, float]:
    """Median extra seconds a hit and a miss cost over the plain cell."""
    plain = statistics.median(times["plain"])
    return {kind: statistics.median(times[kind]) - plain for kind in ("hit", "miss")}


def paired(cached: list[float], plain: list[float]) -> list[float]:
    """Each cached cell's time less that of the plain cell run just before it, added to the plain cells' median:
    the row's difference of medians is then the median of those pairs' differences, which a burst of load on
    the shared machine moves far less (it lands on both cells of a pair alike) than two medians taken apart."""
    base = statistics.median(plain)
    return [base + c - p for c, p in zip(cached, plain, strict=True)]


def run(quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="nbcache-bench-kernel-") as folder:
        times = passes(8 if quick else 120, Path(folder))
    less_save = [m - s for m, s in zip(times["miss"], times["save"], strict=True)]
    count = len(times["hit"])
    before_miss, before_hit = times["plain"][:count], times["plain"][count:]
    return [
        row("kernel", "cheap cell, hit (panel included)", times["hit"], "the plain cell", times["plain"],
            "<= +2 ms", lambda s, b: s - b <= 0.002),
        row("kernel", "cheap cell, miss incl. save (panel included)", times["miss"], "the plain cell",
            times["plain"], "<= +3 ms + save", None),
        row("kernel", "cheap cell, miss less its own save", less_save, "the plain cell", times["plain"],
            "<= +3 ms", lambda s, b: s - b <= 0.003),
        row("kernel", "the save alone (in those misses)", times["save"], "the plain cell", times["plain"], "", None),
        # The same goals read from differences within pairs of cells (see ``paired``): less noise, same meaning.
        row("kernel", "cheap cell, hit, paired with the plain cell before it", paired(times["hit"], before_hit),
            "the plain cell", times["plain"], "<= +2 ms", lambda s, b: s - b <= 0.002),
        row("kernel", "cheap cell, miss less its save, paired with the plain cell before it",
            paired(less_save, before_miss), "the plain cell", times["plain"], "<= +3 ms",
            lambda s, b: s - b <= 0.003),
    ]
