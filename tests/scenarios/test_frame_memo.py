"""A cached cell reading a frame with an object-string column, against plain cells that change one string in
place: the memo of string digests must never turn such a change into a hit, and must hit when nothing changed."""

from __future__ import annotations

import pytest

from nbcache.keys import memo
from tests.support import Shell

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
