"""Restoring a DataFrame with an object-string column from the store against ``pd.read_pickle`` of the same frame.

Both read files the page cache holds (each is read once before timing) and run in this process, in turns, so a
noisy neighbour's burst lands on both alike. The entry is saved with a ref, as a cell's save always is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store

from .common import row, timings

SECRET = b"nbcache-benchmark"
KEY = "fa" * 32


def string_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": np.arange(rows), "score": rng.random(rows),
        "name": pd.Series([f"user {i}" for i in range(rows)], dtype=object),
    })


def _restore_row(rows: int, work: Path, repeat: int) -> dict[str, Any]:
    frame, pickled = string_frame(rows), work / "frame.pkl"
    store = Store(work / "store", secret=SECRET, size_limit=None)
    namespace = {"frame": frame}
    store.save(KEY, {"outputs": {"frame": frame}, "value": None, "events": []}, EntryMeta(),
               {id(namespace): ("namespace",)})
    frame.to_pickle(pickled)
    del frame

    def ours() -> None:
        loaded = Store(work / "store", secret=SECRET, size_limit=None).load(KEY)
        assert loaded is not None

    ours()
    pd.read_pickle(pickled)  # both files now in the page cache
    subject: list[float] = []
    baseline: list[float] = []
    for _ in range(repeat):
        subject += timings(ours, 1)
        baseline += timings(lambda: pd.read_pickle(pickled), 1)
    return row("frame restore", f"DataFrame {rows / 1e6:g}M rows with an object str column", subject,
               "pd.read_pickle, page cache", baseline, "<= 1x", lambda s, b: s <= b)


def run(quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="nbcache-bench-frames-") as tmp:
        return [_restore_row(20_000 if quick else 2_000_000, Path(tmp), 3 if quick else 7)]
