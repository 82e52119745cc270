"""What a cache entry holds besides its manifest: the recorded output events and the restored values, as types.

An entry holds the payload as a dict with string keys (``Payload.stored``), the events as these types. Entries
written before hold a ``Payload`` itself, or (before these types) events as tuples; ``Payload.of`` reads them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from nbcache.atoms import ATOMS


class Stream(str, Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True)
class StreamEvent:
    """Text the cell wrote to stdout or stderr (also through a handler holding the stream, like logging's)."""

    stream: Stream
    text: str


@dataclass(frozen=True)
class DisplayEvent:
    """A display the cell published (a figure, a rich repr, ``display()``)."""

    data: dict[str, Any]
    metadata: dict[str, Any]
    transient: dict[str, Any] | None = None
    update: bool = False


@dataclass(frozen=True)
class ClearEvent:
    """A ``clear_output`` call."""

    wait: bool = False


@dataclass(frozen=True)
class CellEndEvent:
    """The cell's code ended here: what follows was shown after it (matplotlib's inline figures, which IPython
    draws after the cell's value, in its post_execute hook), and a hit shows it at the same point."""


@dataclass(frozen=True)
class ValueShownEvent:
    """How IPython formatted the cell's value when it showed it after the cell's code, before the figures were
    drawn: drawing may change the value itself (a label's position), and a hit must show what the run showed."""

    data: dict[str, Any]
    metadata: dict[str, Any]


Event = StreamEvent | DisplayEvent | ClearEvent | CellEndEvent | ValueShownEvent



def _event(old: tuple) -> Event:
    if old[0] == "stream":
        return StreamEvent(Stream(old[1]), old[2])
    if old[0] == "display":
        return DisplayEvent(*old[1:])
    return ClearEvent(old[1])


@dataclass(frozen=True)
class Payload:
    """The serialized part of an entry.

    ``mutated`` holds, by input name, the object the input named before the run, as the run left it: a hit writes
    it into the live object in place where it can, so other names, containers and views holding it see the change.
    """

    outputs: dict[str, Any]
    value: Any = None
    events: tuple[Event, ...] = ()
    rng: dict[str, Any] = field(default_factory=dict)
    mutated: dict[str, Any] = field(default_factory=dict)
    # Library settings and module attributes the run changed, replayed on a hit (see keys/settings.py).
    changes: Any = None
    # (input name, cached properties) for inputs in ``mutated`` whose only change was filling those (fills.py).
    # A tuple: its class default is what entries saved before it had (they unpickle without the attribute).
    filled: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def stored(self) -> dict[str, Any]:
        """What an entry holds: a dict with each field left at its default left out. A cheap cell's entry then
        names no class, and the unpickler imports every class an entry names (most of a trivial hit's load)."""
        stored: dict[str, Any] = {"outputs": self.outputs}
        if self.value is not None:
            stored["value"] = self.value
        for name in ("events", "rng", "mutated", "filled"):
            if getattr(self, name):
                stored[name] = getattr(self, name)
        if self.changes is not None and not self.changes.empty:
            stored["changes"] = self.changes
        return stored

    @staticmethod
    def reusable(stored: Any) -> bool:
        """Whether a payload as loaded may serve every later hit of its entry as the very same objects: outputs and
        a value that are all atoms, and nothing else (no events to replay, nothing mutated, no setting). A re-run
        would make equal objects, and a hit of such a cell then unpickles nothing (``Store._payload``)."""
        return (type(stored) is dict and stored.keys() <= {"outputs", "value"}
                and type(stored.get("value")) in ATOMS and all(type(v) in ATOMS for v in stored["outputs"].values()))

    @classmethod
    def shared(cls, stored: Any) -> Payload | None:
        """The payload a store may hand out again for the same verified bytes (``EntryStore.load``'s ``share``),
        None unless ``reusable``."""
        return cls.of(stored) if cls.reusable(stored) else None

    @classmethod
    def of(cls, stored: Any) -> Payload:
        """The payload as stored: the dict ``stored`` writes (or older entries hold), or a Payload (entries written
        before ``stored``)."""
        if isinstance(stored, Payload):
            return stored
        events = tuple(_event(e) if isinstance(e, tuple) else e for e in stored.get("events", ()))
        return cls(stored["outputs"], stored.get("value"), events, stored.get("rng") or {}, stored.get("mutated") or {},
                   stored.get("changes"), stored.get("filled", ()))
