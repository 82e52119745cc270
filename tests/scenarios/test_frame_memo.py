"""A cached cell reading a frame with an object-string column, against plain cells that change one string in
place: the memo of string digests must never turn such a change into a hit, and must hit when nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbcache.keys import memo
from tests.support import Shell, run_in_new_process

ROWS = 3 * memo.MIN_ITEMS + 7  # long enough to be memoised
SETUP = f"""
import numpy as np
import pandas as pd
words = np.array([f"w{{i}}" for i in range(500)], dtype=object)
df = pd.DataFrame({{
    "s": pd.Series([f"user {{i}}" for i in range({ROWS})], dtype=object),
    "t": pd.Series(words[np.arange({ROWS}) % 500], dtype=object),
}})
"""
READ = "summary = (df['s'].str.len().sum(), df['s'].iloc[0], df['t'].iloc[-1], len(df))"
CHANGES = [
    "df.loc[0, 's'] = 'someone else'",
    "df.iat[len(df) - 1, 1] = 'w1 '",
    "v = df['s'].values\nv.flags.writeable = True\nv[0] = 'user 0 '",
    "df['s'] = df['s'].str.upper()",
]


@pytest.mark.parametrize("change", CHANGES, ids=["loc", "iat", "values", "str-op"])
def test_a_string_changed_in_place_is_a_miss(shell: Shell, change: str) -> None:
    shell.run(SETUP)
    shell.cached(READ)
    _, hit = shell.cached(READ)
    assert shell.runs == 1 and "hit" in hit.stderr
    assert len(memo.MEMO) >= 2  # both columns' digests were reused, not recomputed
    before = shell.ns["summary"]
    shell.run(f"{change}\n{READ.replace('summary', 'want')}")  # what a plain cell computes now
    want = shell.ns["want"]
    _, miss = shell.cached(READ)
    assert shell.runs == 2 and "miss (input df changed)" in miss.stderr, miss.stderr
    assert shell.ns["summary"] == want != before
    _, again = shell.cached(READ)
    assert shell.runs == 2 and "hit" in again.stderr and shell.ns["summary"] == want


RESTART = """
import json
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbcache.keys import arrays

ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbcache")
hashed = []
real = arrays._strings_digest
arrays._strings_digest = lambda h, flat: hashed.append(len(flat)) or real(h, flat)
seen = {{}}
steps = [("setup", {setup!r}, False), ("add", {add!r}, True), ("read", {read!r}, True),
         ("change", {change!r}, False), ("again", {read!r}, True)]
for name, source, cached in steps:
    if cached:
        source = "%%cache\\nopen({marker!r}, 'a').write('.')\\n" + source
    before = len(hashed)
    with capture_output() as captured:
        ip.run_cell(source)
    seen[name] = {{"status": captured.stderr, "strings_hashed": len(hashed) - before}}
seen["summary"] = repr(ip.user_ns["summary"])
print("SEEN" + json.dumps(seen))
"""


def test_a_restored_frame_is_read_without_hashing_its_strings(tmp_path: Path) -> None:
    """A cached cell adds a column to a frame: the frame is an input hashed before and after the run, so its
    entry is saved with its string digests. After a restart that cell hits; the next cell reading the frame hits
    without hashing a string (the restore seeded the memo), and a string changed in place after that is still
    seen: the changed frame's key is its own."""
    marker = tmp_path / "runs.txt"
    script = RESTART.format(setup=SETUP, add="df['k'] = 1", read=READ, change="df.loc[1, 's'] = 'changed'",
                            marker=str(marker))
    runs = []
    for _ in range(2):
        out = run_in_new_process(script, cwd=tmp_path)
        runs.append(json.loads(next(line for line in out.splitlines() if line.startswith("SEEN"))[4:]))
    cold, warm = runs
    assert marker.read_text() == "..."  # cold: add, read, the read after the change; warm: none
    assert "hit" in warm["add"]["status"] and "hit" in warm["read"]["status"], warm
    assert warm["read"]["strings_hashed"] == 0 < warm["add"]["strings_hashed"]
    assert warm["again"]["strings_hashed"] == 1  # the changed column only
    # the changed frame's own entry, not the one before the change (a stale digest would restore that one)
    assert "hit" in warm["again"]["status"] and warm["summary"] == cold["summary"]
