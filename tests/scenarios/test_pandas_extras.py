"""Attributes set on a DataFrame or Series beyond pandas' own (``df.design_info``, set by formula libraries and read
by statsmodels; ``df.note = ...``) are keyed and restored. Before, a change to one was a stale hit, and pandas'
pickle dropped them, so a hit gave back a frame without them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nbcache.errors import SerializationError
from nbcache.keys.values import hash_value
from nbcache.store import serialize
from tests.scenarios.restarts import Step, differential
from tests.support import Shell


def test_a_changed_attribute_of_a_frame_makes_the_cell_reading_it_run_again(shell: Shell) -> None:
    shell.run("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nobject.__setattr__(df, 'note', 'v1')")
    shell.cached("seen = df.note")
    shell.run("object.__setattr__(df, 'note', 'v2')")
    shell.cached("seen = df.note")
    assert shell.ns["seen"] == "v2" and shell.runs == 2


def test_attributes_set_on_a_frame_and_a_series_are_restored_after_a_restart(tmp_path: Path) -> None:
    steps: list[Step] = [
        ("import pandas as pd", False),
        ("df = pd.DataFrame({'a': [1, 2]})\nobject.__setattr__(df, 'design_info', {'terms': ['a']})\n"
         "s = df['a'] * 2\nobject.__setattr__(s, 'unit', 'kg')", True),
        ("print(df.design_info, s.unit)", True),  # hits after the restore: keyed alike
        ("print(hasattr(df, 'design_info'), hasattr(s, 'unit'), type(df).__name__)", False),
    ]
    plain = differential(steps, tmp_path)
    assert plain[3]["stdout"] == "True True DataFrame\n"


class Tagged(pd.DataFrame):
    """A subclass whose ``_metadata`` pandas' pickle keeps: its value is content too."""

    _metadata = ["tag"]

    @property
    def _constructor(self) -> type:
        return Tagged


def test_a_subclass_metadata_is_hashed_and_a_plain_frame_hashes_as_before() -> None:
    a, b = Tagged({"x": [1]}), Tagged({"x": [1]})
    a.tag, b.tag = "train", "test"
    assert hash_value(a) != hash_value(b)
    plain = pd.DataFrame({"x": [1]})
    saved = serialize.dumps({"outputs": {"df": plain}})
    back = serialize.loads(saved.data, saved.buffers)["outputs"]["df"]
    assert hash_value(back) == hash_value(plain)  # its unpickling sets `_typ` on it: pandas's own, not an extra


class Unpicklable:
    """Like patsy's DesignInfo, which formula models attach to their frames: it refuses pickling."""

    def __reduce__(self) -> tuple:
        raise NotImplementedError("Sorry, pickling not yet supported")


def test_an_attribute_that_cannot_be_written_makes_the_save_fail_naming_it() -> None:
    """Pandas' pickle drops it; a hit giving the frame back without it would differ from a re-run (a later
    ``X.design_info`` would raise), so nbcache refuses to save instead. The frame still hashes (the attribute counts
    as absent, so a cell only reading such a frame is cached), and another attribute still changes the hash."""
    df = pd.DataFrame({"x": [1, 2]})
    object.__setattr__(df, "design_info", Unpicklable())
    object.__setattr__(df, "note", "kept")
    with pytest.raises(SerializationError, match=r"output 'df' \(DataFrame\).*attribute 'design_info' \(Unpicklable\)"):
        serialize.dumps({"outputs": {"df": df}})
    before = hash_value(df)
    object.__setattr__(df, "note", "changed")
    assert hash_value(df) != before


def test_a_cell_making_a_frame_with_an_attribute_that_cannot_be_written_is_not_stored(tmp_path: Path) -> None:
    """A formula library's design matrix (patsy's ``dmatrices``): the cell runs every time, so a later cell reading
    ``X.design_info`` works after a restart as after a plain run."""
    design = ("class Design:\n    def __init__(self, terms):\n        self.terms = terms\n"
              "    def __reduce__(self):\n        raise NotImplementedError('Sorry, pickling not yet supported')\n")
    steps: list[Step] = [
        ("import pandas as pd\n" + design, False),
        ("X = pd.DataFrame({'a': [1.0, 2.0]})\nobject.__setattr__(X, 'design_info', Design(['a']))", True),
        ("print(X.design_info.terms, X['a'].sum())", False),
    ]
    differential(steps, tmp_path, stored=False)


def test_a_cell_reading_into_what_was_set_on_a_frame_of_an_input_hits_after_a_restart(tmp_path: Path) -> None:
    """An output held an object that the input reached through ``df.design_info`` (statsmodels' quantile
    regression notebook): it was written as that path, which a hit could not follow where the attribute was not
    restored, so the entry could never be loaded. Such paths are never taken; here the object is found by its
    other path."""
    steps: list[Step] = [
        ("import pandas as pd\nclass Design:\n    def __init__(self, terms):\n        self.terms = terms\n"
         "class Box:\n    pass", False),
        ("terms = ['a', 'b']\ndf = pd.DataFrame({'a': [1]})\nobject.__setattr__(df, 'design_info', Design(terms))\n"
         "model = Box()\nmodel.frame = df\nmodel.deep = Box()\nmodel.deep.inner = Box()\n"
         "model.deep.inner.more = Box()\nmodel.deep.inner.more.terms = terms\ndel terms", True),
        ("names = model.deep.inner.more.terms\nprint(names)", True),
    ]
    differential(steps, tmp_path)
