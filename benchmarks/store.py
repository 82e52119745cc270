"""The store against what the data costs anyway: restoring a large array in a new process against ``np.load``
from the page cache, saving it against ``np.save``, a DataFrame with string columns against ``dill.dumps``, and
the peak extra memory of a restore against the size of the data.

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
from pathlib import Path
from typing import Any

import dill
import numpy as np
import pandas as pd

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
    Store(root, secret=SECRET, size_limit=None).save(KEY, {"outputs": {"arr": arr}, "value": None, "events": []}, {})
    np.save(npy, arr)
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
        ours += timings(lambda: Store(root, secret=SECRET, size_limit=None).save(KEY, payload, {}), 1, fresh)
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
    ours = timings(lambda: Store(root, secret=SECRET, size_limit=None).save(KEY, payload, {}, refs), repeat,
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
    return rows
