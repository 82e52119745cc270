"""What this kernel ran under nbcache, cell by cell: the record ``%cache_status`` and the sidebar judge from.

Each record keeps what is needed to key the cell again without running it (its source, ``--deps`` and
``--ignore``) and what the last run saw (the key, each input's hash, the names it bound, the outcome).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nbcache.cell.run import TOO_CHEAP
from nbcache.ui.report import CellStatus, Reason


class Outcome(enum.Enum):
    HIT = "hit"
    STORED = "stored"  # a miss that was stored
    NOT_STORED = "not stored"  # a miss that was not stored: too cheap, or its outputs could not be saved
    FAILED = "failed"  # the cell raised
    UNCACHED = "not cached"  # nbcache could not key it (eval, an unhashable input...)


@dataclass(frozen=True)
class CellRecord:
    ident: str
    raw: str
    outcome: Outcome
    reason: str = ""  # why not stored or not cached
    deps: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    key: str = ""
    inputs: dict[str, str] = field(default_factory=dict)  # key input -> hash when it last ran
    outputs: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    execution_count: int | None = None

    @property
    def first_line(self) -> str:
        return next((line for line in self.raw.splitlines() if line.strip()), "")


def _outcome(status: CellStatus) -> tuple[Outcome, str]:
    if status.state == "hit":
        return Outcome.HIT, ""
    if status.state == "miss":
        if status.size is not None:
            return Outcome.STORED, ""
        return Outcome.NOT_STORED, TOO_CHEAP if TOO_CHEAP in status.line else "its outputs could not be saved"
    return Outcome.UNCACHED, status.reason


def record_from_status(status: CellStatus, ident: str, deps: tuple[str, ...], ignore: tuple[str, ...],
                       execution_count: int | None) -> CellRecord:
    outcome, reason = _outcome(status)
    return CellRecord(ident=status.cell_ident or ident, raw=status.raw, outcome=outcome, reason=reason, deps=deps,
                      ignore=ignore, key=status.key, inputs=dict(status.inputs), outputs=tuple(status.outputs),
                      elapsed_s=status.elapsed_s, execution_count=execution_count)


def current_count(shell: Any) -> int | None:
    """The execution count of the cell running now (IPython has already advanced ``shell.execution_count``)."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(result, "execution_count", None)
    return count if isinstance(count, int) else None


class _FromStatus(NamedTuple):
    """A record still to be made from a cell's status (``record_from_status``'s arguments)."""

    status: CellStatus
    ident: str
    deps: tuple[str, ...]
    ignore: tuple[str, ...]
    execution_count: int | None


class Tracker:
    """The records in run order; a cell run again moves to the end with its new record."""

    def __init__(self) -> None:
        self._records: OrderedDict[str, CellRecord | _FromStatus] = OrderedDict()

    def add(self, record: CellRecord) -> None:
        self._records.pop(record.ident, None)
        self._records[record.ident] = record

    def add_status(self, status: CellStatus, ident: str, deps: tuple[str, ...], ignore: tuple[str, ...],
                   execution_count: int | None) -> None:
        """A cell's record, made from its status when the records are first read: most never are (only
        ``%cache_status`` and the stale-cell views read them), and making one cost every hit about a tenth of its
        bookkeeping. The status is frozen, with its own copies of what the record takes."""
        key = status.cell_ident or ident
        self._records.pop(key, None)
        self._records[key] = _FromStatus(status, ident, deps, ignore, execution_count)

    def records(self) -> list[CellRecord]:
        for key, record in self._records.items():
            if isinstance(record, _FromStatus):
                self._records[key] = record_from_status(*record)
        return [r for r in self._records.values() if isinstance(r, CellRecord)]

    def clear(self) -> None:
        self._records.clear()


class TrackingReporter:
    """Forwards to a reporter (an explicit ``%%cache`` cell's panel or line) and records the outcome."""

    def __init__(self, inner: Any, record: Callable[[CellStatus | None], None]) -> None:
        self.inner = inner
        self._record = record

    def begin(self, state: str, reason: Reason = "") -> None:
        self.inner.begin(state, reason)

    def restoring(self, status: CellStatus) -> None:
        self.inner.restoring(status)

    def output_starts(self) -> None:
        self.inner.output_starts()

    def saving(self, approx_bytes: int) -> None:
        self.inner.saving(approx_bytes)

    def failed(self, error: BaseException) -> None:
        self._record(None)
        self.inner.failed(error)

    def done(self, status: CellStatus) -> None:
        self._record(status)
        self.inner.done(status)
