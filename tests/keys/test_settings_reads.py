"""Keying reads the library settings on every hit: a setting compared in place must key as a fresh read does."""

from __future__ import annotations

import ast
import logging

import pytest

from nbcache.keys import settings
from tests.support import Shell


def _rc_input() -> str | None:
    return settings.setting_inputs(ast.parse("x = 1"), []).get("setting:matplotlib.rcParams")


def test_rcparams_compared_in_place_key_as_a_fresh_read(monkeypatch: pytest.MonkeyPatch) -> None:
    mpl = pytest.importorskip("matplotlib")
    monkeypatch.setitem(mpl.rcParams, "lines.linewidth", 1.5)
    first = _rc_input()
    assert _rc_input() == first  # unchanged: the same departure, without a copy
    mpl.rcParams["lines.linewidth"] = 7.0
    changed = _rc_input()
    assert changed is not None and changed != first
    settings._last_read.clear()  # what a fresh process would read
    assert _rc_input() == changed


def test_an_rcparam_that_cannot_be_compared_with_eq_is_read_and_compared_by_content(
        monkeypatch: pytest.MonkeyPatch) -> None:
    mpl = pytest.importorskip("matplotlib")
    np = pytest.importorskip("numpy")
    from matplotlib import cycler

    monkeypatch.setitem(mpl.rcParams, "axes.prop_cycle", cycler(color=np.eye(4)[:3]))
    first = _rc_input()
    assert _rc_input() == first
    mpl.rcParams["axes.prop_cycle"] = cycler(color=np.eye(4)[1:])
    assert _rc_input() != first


def test_a_colour_cycle_of_arrays_changed_between_runs_is_a_miss_not_an_error(shell: Shell) -> None:
    pytest.importorskip("matplotlib")
    shell.run("import matplotlib as mpl\nimport numpy as np\nfrom matplotlib import cycler")
    try:
        for rows in ("[:3]", "[1:]"):
            shell.run(f"mpl.rcParams['axes.prop_cycle'] = cycler(color=np.eye(4){rows})")
            result, _ = shell.cached("x = 1")
            assert result.error_in_exec is None, result.error_in_exec  # type: ignore[attr-defined]
        assert shell.runs == 2
    finally:
        shell.run("mpl.rc_file_defaults()")


def test_keying_hands_over_the_values_it_read() -> None:
    settings.setting_inputs(ast.parse("x = 1"), [])
    reads = settings.take_reads()
    assert {"logging", "decimal.context"} <= set(reads)  # (warnings only where the cell names them)
    for setting in settings.SETTINGS:
        if setting.name in reads:
            assert settings._same(reads[setting.name], setting.read()), setting.name
    assert settings.take_reads() == {}  # handed over once
    assert settings.snapshot(reads) == settings.snapshot()


_SETS_A_LOGGER_WHEN_UNPICKLED = """
import logging, random
class Noisy:
    def __setstate__(self, state):
        logging.getLogger("nbcache-test-unpickled").setLevel(5)  # as an unpickled library object might
        self.__dict__.update(state)
"""


def test_a_miss_after_an_entry_was_read_does_not_take_what_the_reading_did_for_its_own(shell: Shell) -> None:
    """A miss reuses the settings keying read, unless an entry was read since: unpickling runs code. Here reading
    the entry sets a logger's level; the cell itself changes no logging, and says so (a change to logging would
    keep it from being stored)."""
    shell.run(_SETS_A_LOGGER_WHEN_UNPICKLED)
    body = "obj = Noisy()\nobj.size = 3\nvalue = random.random()"
    shell.run("random.seed(1)")
    try:
        _, first = shell.cached(body)
        assert "stored" in first.stderr and "changes logging" not in first.stderr
        shell.run("random.seed(2)")  # the entry is read, then cannot be used: the generator is in another state
        _, second = shell.cached(body)
        assert shell.runs == 2 and "random state of random changed" in second.stderr
        assert "changes logging" not in second.stderr and "stored" in second.stderr
    finally:  # the process's logging as it was: later tests key on it, and compare with fresh processes
        logging.getLogger("nbcache-test-unpickled").setLevel(logging.NOTSET)


def test_the_warnings_filters_read_follows_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read reuses its last value while the filters hold the very same entries (``_warnings_read``)."""
    import re
    import warnings

    from nbcache.keys.settings import _warnings_read

    monkeypatch.setattr(warnings, "filters", list(warnings.filters))
    before = _warnings_read()
    assert _warnings_read() is before  # nothing changed: the value made last time
    warnings.filterwarnings("ignore", message="x.*y", category=UserWarning)  # inserted first, in place
    inserted = _warnings_read()
    assert inserted[0] == ("ignore", ("x.*y", re.compile("x.*y", re.I).flags), UserWarning, None, 0)
    assert inserted[1:] == before
    warnings.filters[0] = ("error", *warnings.filters[0][1:])  # an entry replaced: the same length
    assert _warnings_read()[0][0] == "error"
    warnings.filters[:] = [entry for entry in warnings.filters if entry[0] != "error"]
    assert _warnings_read() == before
