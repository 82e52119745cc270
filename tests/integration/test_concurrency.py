"""Four processes writing and reading one store at once: every load is whole and right, nothing warns or fails."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO

WORKER = """
import json, random, sys, warnings
import numpy as np
from nbcache.errors import CacheWarning
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store

warnings.simplefilter("error", CacheWarning)  # any warning is a failure of this test
root, seed = sys.argv[1], int(sys.argv[2])
# A limit of about four entries: saves evict while other processes read.
store = Store(root, secret=b"team", size_limit=4 * 400_000)
rng = random.Random(seed)
counts = {"hits": 0, "misses": 0, "errors": 0}

def expected(i):
    return {"arr": np.full(50_000, i, dtype=np.int64), "label": f"entry {i}", "shared": [i] * 3}

for _ in range(40):
    i = rng.randrange(8)
    key = f"{i:02x}" * 16
    try:
        loaded = store.load(key)
        if loaded is None:
            store.save(key, {"outputs": expected(i)}, EntryMeta(cell=f"cell {i}"))
            counts["misses"] += 1
        else:
            out = loaded[0]["outputs"]
            assert np.array_equal(out["arr"], expected(i)["arr"]) and out["label"] == f"entry {i}"
            counts["hits"] += 1
        if rng.random() < 0.1:
            store.entries()
    except BaseException as exc:
        counts["errors"] += 1
        print(repr(exc), file=sys.stderr)
print(json.dumps(counts))
"""


KERNEL = """
import json, random, sys, warnings
from IPython.core.interactiveshell import InteractiveShell
from nbcache.errors import CacheWarning

marker, seed = sys.argv[1], int(sys.argv[2])
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbcache")
rng = random.Random(seed)
counts = {"cells": 0, "errors": 0}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(12):
        i = rng.randrange(4)
        ip.user_ns.update(i=i, arr=None, label=None)
        result = ip.run_cell(f"%%cache -q\\nopen({marker!r}, 'a').write('.')\\nimport numpy as np\\n"
                             "arr = np.full(50_000, i)\\nlabel = f'entry {i}'")
        ok = result.success and int(ip.user_ns["arr"][0]) == i and ip.user_ns["label"] == f"entry {i}"
        counts["cells"] += 1
        counts["errors"] += not ok
counts["errors"] += sum(issubclass(w.category, CacheWarning) for w in caught)
print(json.dumps(counts))
"""


def _run_four(script: str, args: list[list[str]]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *a], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for a in args]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_four_kernels_run_cached_cells_on_one_store(tmp_path: Path) -> None:
    markers = [tmp_path / f"runs-{n}.txt" for n in range(4)]
    results = _run_four(KERNEL, [[str(m), str(n)] for n, m in enumerate(markers)])
    assert sum(r["errors"] for r in results) == 0, results
    runs = sum(len(m.read_text()) for m in markers if m.exists())
    # Four distinct cells: each ran at least once, and at most once per kernel; every other cell was a hit.
    assert 4 <= runs <= 16 and sum(r["cells"] for r in results) == 48


def test_four_processes_share_one_store(tmp_path: Path) -> None:
    results = _run_four(WORKER, [[str(tmp_path / "store"), str(seed)] for seed in range(4)])
    assert sum(r["errors"] for r in results) == 0, [r for r in results]
    assert sum(r["hits"] + r["misses"] for r in results) == 4 * 40
    assert sum(r["hits"] for r in results) > 0


WAITER = """
import sys
from IPython.core.interactiveshell import InteractiveShell
marker, go = sys.argv[1], sys.argv[2]
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbcache")
r = ip.run_cell(f"%%cache\\nopen({marker!r}, 'a').write('.')\\nimport os, time\\n"
                f"while not os.path.exists({go!r}):\\n    time.sleep(0.02)\\nresult = 6 * 7")
assert r.success, r
print("RESULT", ip.user_ns["result"], flush=True)
"""


def _lines(stream: IO[str], into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_a_second_kernel_waits_for_the_first_instead_of_recomputing(tmp_path: Path) -> None:
    marker, go = tmp_path / "runs.txt", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", textwrap.dedent(WAITER), str(marker), str(go)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    first = start()
    while not marker.exists():  # the first kernel is inside the cell, holding the key's lock
        assert first.poll() is None, first.communicate()
        time.sleep(0.02)
    second, lines = start(), queue.Queue()
    threading.Thread(target=_lines, args=(second.stderr, lines), daemon=True).start()
    seen = []
    while not any("waiting for its result" in line for line in seen):
        line = lines.get(timeout=120)  # a guard against a hang, not a measurement
        assert line is not None, seen
        seen.append(line)
    go.touch()  # now the first kernel finishes and stores; the second restores its result
    outs = [first.communicate(timeout=120)[0], second.communicate(timeout=120)[0]]
    assert all("RESULT 42" in out for out in outs) and marker.read_text() == "."
    while (line := lines.get(timeout=120)) is not None:
        seen.append(line)
    assert any("nbcache: hit" in line for line in seen)


CLEARER = """
import sys, time, warnings
from nbcache.errors import CacheWarning
from nbcache.store.local import Store

warnings.simplefilter("error", CacheWarning)
store, stop = Store(sys.argv[1], secret=b"team"), time.monotonic() + 20
cleared = 0
while time.monotonic() < stop and cleared < 60:
    store.clear() if cleared % 3 == 0 else store.prune(400_000) if cleared % 3 == 1 else store.remove("0")
    cleared += 1
    time.sleep(0.05)
print('{"hits": 0, "misses": 0, "errors": 0}')
"""


def test_clears_and_prunes_while_others_save_never_break_an_entry(tmp_path: Path) -> None:
    """Every sweep spares the blobs of an entry being written: a clear between a save's blobs and its manifest
    would otherwise leave an entry whose data is missing (a warning, counted as an error)."""
    root = str(tmp_path / "store")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    clearer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CLEARER), root], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    results = _run_four(WORKER, [[root, str(seed)] for seed in range(10, 14)])
    out, err = clearer.communicate(timeout=300)
    assert clearer.returncode == 0, err
    assert sum(r["errors"] for r in results) == 0, results
