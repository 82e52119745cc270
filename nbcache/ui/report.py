"""What a cached cell tells the user, as data, and where it goes: the stderr line or the status panel.

The cell flow only calls a ``Reporter``; it never knows whether a widget frontend exists. Where widgets can be
shown (a kernel) the panel is used; anywhere else (terminal IPython, an in-process shell) the text line on stderr.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from nbcache.atoms import ATOMS
from nbcache.errors import CacheWarning


class CellState(str, Enum):
    """What a cached cell is doing or did; a ``str`` enum, so the cell flow may pass the plain word."""

    RUNNING = "running"  # a miss computing
    RESTORING = "restoring"  # a hit replaying
    WAITING = "waiting"  # another kernel computes the same key
    SAVING = "saving"
    HIT = "hit"
    MISS = "miss"
    NOT_CACHED = "not cached"
    FAILED = "failed"  # the cell raised
    CLEARED = "cleared"  # its entry was removed from the panel

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {CellState.HIT, CellState.MISS, CellState.NOT_CACHED, CellState.FAILED, CellState.CLEARED}


@dataclass(frozen=True)
class CellStatus:
    """The facts of one cached cell's run: what a status line or a panel shows."""

    state: CellState  # HIT, MISS or NOT_CACHED (the plain word is accepted and converted)
    line: str  # the one-line text form, starting with "nbcache: "
    reason: str = ""  # why it missed or was not cached
    elapsed_s: float = 0.0  # what this run took: the restore on a hit, the computation on a miss
    saved_s: float = 0.0  # compute time saved (hit) or that a later hit will save (miss)
    size: int | None = None  # bytes restored (hit) or stored (miss); None when nothing was stored
    key: str = ""
    inputs: dict[str, str] = field(default_factory=dict)  # input name (or "file:path") -> content hash
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> type name
    output_sizes: dict[str, int] = field(default_factory=dict)  # output name -> approximate bytes in memory
    cell_ident: str = ""
    raw: str = ""  # the cell's body, for "recompute"
    cleared_output: bool = False  # the cell called clear_output, which also removed a panel shown before it

    def __post_init__(self) -> None:
        if type(self.state) is not CellState:  # (an Enum call costs a hit more than the check)
            object.__setattr__(self, "state", CellState(self.state))

    @property
    def stored(self) -> bool:
        """A miss whose entry was written (a failed save leaves ``size`` None)."""
        return self.state is CellState.MISS and self.size is not None


# Why a cell is in its state: the words, or a callable that works them out when first asked (``LateReason``).
Reason = str | Callable[[], str]


def told(reason: Reason) -> str:
    return reason if isinstance(reason, str) else reason()


class Reporter(Protocol):
    def begin(self, state: CellState, reason: Reason = "") -> None: ...

    def restoring(self, status: CellStatus) -> None:
        """A hit's final facts, told before its outputs replay (a panel shows them above the outputs)."""
        ...

    def output_starts(self) -> None:
        """A running miss is about to show its first output (a panel holds its place above it)."""
        ...

    def saving(self, approx_bytes: int) -> None: ...

    def failed(self, error: BaseException) -> None: ...

    def done(self, status: CellStatus) -> None: ...


class TextReporter:
    """The stderr line: terminal IPython, nbconvert without widgets, tests in an in-process shell."""

    def begin(self, state: CellState, reason: Reason = "") -> None:
        if state is CellState.WAITING:  # the only state worth a line of its own: the cell may seem to hang
            print(f"nbcache: {told(reason)}", file=sys.stderr, flush=True)

    def restoring(self, status: CellStatus) -> None:
        pass  # the line comes after the outputs, at ``done``

    def output_starts(self) -> None:
        pass

    def saving(self, approx_bytes: int) -> None:
        pass

    def failed(self, error: BaseException) -> None:
        pass

    def done(self, status: CellStatus) -> None:
        sys.stdout.flush()  # the cell's (or the replay's) prints come first
        print(status.line, file=sys.stderr, flush=True)


class QuietReporter(TextReporter):
    """``-q``: neither line nor panel."""

    def begin(self, state: CellState, reason: Reason = "") -> None:
        pass

    def done(self, status: CellStatus) -> None:
        pass


class SafeReporter:
    """Forwards to a widget reporter; at its first failure warns once and falls back to the text line.

    A widget failure must never fail the user's cell.
    """

    def __init__(self, inner: Reporter) -> None:
        self.inner: Reporter = inner
        self._fallback = TextReporter()
        self._broken = False

    def _call(self, method: str, *args: Any) -> None:
        if not self._broken:
            try:
                getattr(self.inner, method)(*args)
                return
            except Exception as exc:
                self._broken = True
                warnings.warn(f"nbcache: the status panel failed ({type(exc).__name__}: {exc}); "
                              "showing the text line instead", CacheWarning, stacklevel=3)
        getattr(self._fallback, method)(*args)

    def begin(self, state: CellState, reason: Reason = "") -> None:
        self._call("begin", state, reason)

    def restoring(self, status: CellStatus) -> None:
        self._call("restoring", status)

    def output_starts(self) -> None:
        self._call("output_starts")

    def saving(self, approx_bytes: int) -> None:
        self._call("saving", approx_bytes)

    def failed(self, error: BaseException) -> None:
        self._call("failed", error)

    def done(self, status: CellStatus) -> None:
        self._call("done", status)


def has_widget_frontend(shell: Any) -> bool:
    """A kernel (not terminal IPython nor a bare in-process shell) with ipywidgets importable."""
    if getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401  (delayed import: a terminal session never pays for it)
    except Exception:
        return False
    return True


def approx_size(value: Any) -> int:
    """Bytes a value holds in memory, cheaply: arrays and frames know theirs, the rest is shallow."""
    if type(value) in ATOMS:  # all their size says: asked for nothing else (a missing attribute costs an exception)
        return sys.getsizeof(value)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if type(value).__module__.startswith("pandas"):  # only pandas' memory_usage is known to be cheap and pure
        try:
            return int(value.memory_usage(index=True, deep=False).sum())
        except Exception:
            pass
    try:
        return sys.getsizeof(value)
    except Exception:
        return 0
