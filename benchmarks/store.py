"""The store against what the data costs anyway: restoring a large array in a new process against ``np.load``
from the page cache, saving it against ``np.save``, a DataFrame with string columns against ``dill.dumps``, and
the peak extra memory of a restore against the size of the data. Then the store at scale: a hit, a miss, an
evicting save, a listing and a prune with 10,000 entries against the same on a store of one, and what a store
holds after saves killed mid-way against its limit.

Restores run in a fresh process each (a kernel restart), timed inside it, so imports do not count.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import dill
import numpy as np
import pandas as pd

from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store

from .common import row, timings

SECRET = b"nbcache-benchmark"
KEY = "be" * 32
_RESTORE = """
import json, resource, sys, time
import numpy as np
from nbcache.store.local import Store
kind, where = sys.argv[1], sys.argv[2]

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

try:  # reset the peak to the present, so the imports' own peak does not hide the restore's
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = peak()
start = time.perf_counter()
if kind == "store":
    arr = Store(where, secret={secret!r}, size_limit=None).load({key!r})[0]["outputs"]["arr"]
else:
    arr = np.load(where)
loaded = time.perf_counter()
arr.sum()  # a full pass over the data
passed = time.perf_counter()
print(json.dumps({{"load": loaded - start, "pass": passed - start, "extra": peak() - before}}))
"""


def _in_new_process(kind: str, where: Path) -> dict[str, float]:
    script = textwrap.dedent(_RESTORE.format(secret=SECRET, key=KEY))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script, kind, str(where)], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout)


def _restores(root: Path, npy: Path, repeat: int) -> dict[str, list[dict[str, float]]]:
    """Alternate store and np.load runs so both see the same page cache; the first of each only warms it."""
    runs: dict[str, list[dict[str, float]]] = {"store": [], "numpy": []}
    for i in range(repeat + 1):
        for kind, where in (("store", root), ("numpy", npy)):
            result = _in_new_process(kind, where)
            if i:
                runs[kind].append(result)
    return runs


def _restore_rows(arr: np.ndarray, work: Path, repeat: int) -> list[dict[str, Any]]:
    root, npy = work / "store", work / "arr.npy"
    Store(root, secret=SECRET, size_limit=None).save(KEY, {"outputs": {"arr": arr}, "value": None, "events": []},
                                                     EntryMeta())
    np.save(npy, arr)
    # A restart comes later than this: a blob's check is remembered once its file's clock tick has passed.
    time.sleep(1.1)
    runs = _restores(root, npy, repeat)
    size = f"{arr.nbytes / 2**30:.3g} GiB array"
    ours, theirs = runs["store"], runs["numpy"]
    gib = 2.0**30
    data = [arr.nbytes / gib] * len(ours)
    return [
        row("store restore", f"{size}, new process", [r["load"] for r in ours],
            "np.load, page cache", [r["load"] for r in theirs], "<= 1x", lambda s, b: s <= b),
        row("store restore", f"{size} + full pass", [r["pass"] for r in ours],
            "np.load + full pass", [r["pass"] for r in theirs], "<= 1x", lambda s, b: s <= b),
        # GiB, not seconds, in these rows: a restore's peak extra memory against the data's own size.
        row("store memory", f"{size}: restore peak extra", [r["extra"] / gib for r in ours],
            "size of the data", data, "< 1.1x", lambda s, b: s < 1.1 * b, unit="GiB"),
        row("store memory", f"{size}: np.load peak extra", [r["extra"] / gib for r in theirs],
            "size of the data", data, "", None, unit="GiB"),
    ]


def _save_row(arr: np.ndarray, work: Path, repeat: int) -> dict[str, Any]:
    root, npy = work / "save-store", work / "save.npy"
    payload = {"outputs": {"arr": arr}, "value": None, "events": []}

    def fresh() -> None:
        # Each save really writes (no blob already there to skip) and starts with no dirty pages left by the one
        # before: the kernel's writeback throttling would otherwise charge one side for the other's writes.
        shutil.rmtree(root, ignore_errors=True)
        npy.unlink(missing_ok=True)
        os.sync()

    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeat):  # interleaved, so a noisy neighbour's burst lands on both sides alike
        ours += timings(lambda: Store(root, secret=SECRET, size_limit=None).save(KEY, payload, EntryMeta()), 1, fresh)
        theirs += timings(lambda: np.save(npy, arr), 1, fresh)
    fresh()
    return row("store save", f"{arr.nbytes / 2**30:.3g} GiB array", ours, "np.save", theirs, "<= 1.5x",
               lambda s, b: s <= 1.5 * b)


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": np.arange(rows), "score": rng.random(rows),
        "name": [f"user {i}" for i in range(rows)], "city": [f"city {i % 997}" for i in range(rows)],
    }).astype({"name": object, "city": object})


def _frame_row(rows: int, work: Path, repeat: int) -> dict[str, Any]:
    df, root = _frame(rows), work / "frame-store"
    payload = {"outputs": {"df": df}, "value": None, "events": []}
    # A cell's save always carries refs (at least the namespace): measure with one, as a cell pays it.
    namespace = {"df": df}
    refs = {id(namespace): ("namespace",)}
    ours = timings(lambda: Store(root, secret=SECRET, size_limit=None).save(KEY, payload, EntryMeta(), refs), repeat,
                   lambda: shutil.rmtree(root, ignore_errors=True))
    theirs = timings(lambda: dill.dumps(df), repeat)
    return row("store save", f"DataFrame {rows:,} rows, 2 str columns", ours, "dill.dumps (memory only)", theirs,
               "<= 0.2x", lambda s, b: s <= 0.2 * b)


def run(quick: bool = False) -> list[dict[str, Any]]:
    elements, frame_rows, repeat = (2**21, 20_000, 3) if quick else (2**27, 1_000_000, 5)
    arr = np.random.default_rng(1).random(elements)  # 16 MiB quick, 1 GiB in full
    with tempfile.TemporaryDirectory(prefix="nbcache-bench-store-") as tmp:
        work = Path(tmp)
        rows = _restore_rows(arr, work, repeat)
        rows.append(_save_row(arr, work, repeat))
        rows.append(_frame_row(frame_rows, work, repeat))
    return rows + run_scale(quick)


# ---- a store of many entries against an empty one: what the index is for (issue 13, item 10)

def _small_payload(i: int) -> dict[str, Any]:
    return {"outputs": {"x": i, "name": f"row {i}"}, "value": None, "events": []}


def _filled(root: Path, n: int) -> Store:
    store = Store(root, secret=SECRET, size_limit=None)
    for i in range(n):
        store.save(f"{i:064x}", _small_payload(i), EntryMeta(cell_ident=f"cell-{i % 500}", cell=f"x = {i}"))
    return store


class _Fresh:
    """New keys for saves, so that every timed save is a real one."""

    def __init__(self) -> None:
        self.n = 0

    def key(self) -> str:
        self.n += 1
        return f"f{self.n:063x}"


def _scale_pair(big: Path, small: Path, repeat: int,
                op: Any) -> tuple[list[float], list[float]]:
    """The same operation on the full store and on the empty one, interleaved so noise lands on both."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeat):
        ours += timings(lambda: op(big), 1)
        theirs += timings(lambda: op(small), 1)
    return ours, theirs


def _scale_rows(n: int, repeat: int, work: Path) -> list[dict[str, Any]]:
    big, small = work / "many", work / "empty"
    _filled(big, n)
    _filled(small, 1)
    fresh = _Fresh()
    label = f"{n:,} entries"

    def miss(root: Path) -> None:  # a miss asks for the cell's last entry (the reason), then saves
        store = stores[root]
        store.latest_for_cell("cell-new")
        store.save(fresh.key(), _small_payload(0), EntryMeta(cell_ident="cell-new"))

    def evicting_save(root: Path) -> None:
        store = stores[root]
        store.size_limit = max(store._index.usage() - 1, 0)  # just over: the save evicts
        store.save(fresh.key(), _small_payload(0), EntryMeta(cell_ident="cell-new"))
        store.size_limit = DEFAULT_SIZE_LIMIT

    # With the default size limit, as users have it: every save then checks the store's usage against it.
    stores = {root: Store(root, secret=SECRET) for root in (big, small)}
    results = {
        "hit": _scale_pair(big, small, repeat * 4, lambda r: stores[r].load(f"{0:064x}")),
        "miss": _scale_pair(big, small, repeat * 4, miss),
        "evict": _scale_pair(big, small, repeat, evicting_save),
        # A new store object, as `nbcache ls` in a new process (%cache_info reuses the kernel's: no slower).
        "list": _scale_pair(big, small, repeat, lambda r: Store(r, secret=SECRET).entries()),
        "prune": _scale_pair(big, small, repeat,
                             lambda r: Store(r, secret=SECRET).prune(max(stores[r]._index.usage() - 1, 0))),
    }
    within = {"hit": 0.002, "miss": 0.020, "evict": 1.0, "list": 1.0, "prune": 1.0}
    text = {"hit": "hit (load)", "miss": "trivial miss (last entry of the cell, save)",
            "evict": "save that evicts", "list": "listing (ls, %cache_info)", "prune": "prune"}
    rows = []
    for what, (ours, theirs) in results.items():
        goal = f"+{within[what] * 1000:g} ms" if what == "hit" else f"< {within[what] * 1000:g} ms"
        met = ((lambda s, b, w=within[what]: s - b <= w) if what == "hit"
               else (lambda s, b, w=within[what]: s < w))
        rows.append(row("store scale", f"{text[what]}, {label}", ours, "the same, 1 entry", theirs, goal, met))
    return rows


_CRASH = """
import os, sys
import numpy as np
from nbcache.store import local
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
def die(*args, **kwargs):
    os._exit(3)
local.write_atomic = die  # killed after its blobs, before its manifest
Store(sys.argv[1], secret={secret!r}, size_limit=None).save(sys.argv[2], {{"outputs": {{"x": np.full(int(sys.argv[3]),
    int(sys.argv[4]), dtype=np.uint8)}}}}, EntryMeta())
"""


def _growth_row(work: Path, entry: int, crashes: int) -> dict[str, Any]:
    """Saves killed between their blobs and their manifest, then one save: what the folder holds against the limit
    plus the largest entry (goal: at most that)."""
    root, limit = work / "crashes", 4 * entry
    store = Store(root, secret=SECRET, size_limit=limit)
    for i in range(6):
        store.save(f"{i:064x}", {"outputs": {"x": np.full(entry, i, dtype=np.uint8)}}, EntryMeta())
    script = textwrap.dedent(_CRASH.format(secret=SECRET))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for i in range(crashes):
        subprocess.run([sys.executable, "-c", script, str(root), f"c{i:063x}", str(entry), str(100 + i)], env=env,
                       check=False)
    grown = sum(p.stat().st_size for p in (root / "blobs").iterdir())
    Store(root, secret=SECRET, size_limit=limit).save(f"{99:064x}", {"outputs": {"x": np.ones(entry, np.uint8)}},
                                                      EntryMeta())
    after = sum(p.stat().st_size for p in (root / "blobs").iterdir())
    bound = float(limit + entry)
    # Bytes, not seconds: the folder after the next save against the limit plus one entry.
    return {**row("store growth", f"{crashes} saves killed, then one save (before it: {grown / bound:.2f}x)",
                  [after], "limit + largest entry", [bound], "<= 1x", lambda s, b: s <= b), "unit": "bytes"}


def run_scale(quick: bool = False) -> list[dict[str, Any]]:
    n, repeat, entry = (300, 3, 2**20) if quick else (10_000, 5, 2**24)
    with tempfile.TemporaryDirectory(prefix="nbcache-bench-scale-") as tmp:
        return [*_scale_rows(n, repeat, Path(tmp)), _growth_row(Path(tmp), entry, 3)]
