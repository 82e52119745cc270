"""What a cache entry holds besides its manifest: the recorded output events and the restored values, as types.

Entries written before these types existed hold a dict with string keys and events as tuples; ``Payload.of``
reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


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

    @classmethod
    def of(cls, stored: Any) -> Payload:
        """The payload as stored: a Payload, or the dict older entries hold."""
        if isinstance(stored, Payload):
            return stored
        events = tuple(_event(e) if isinstance(e, tuple) else e for e in stored.get("events", ()))
        return cls(stored["outputs"], stored.get("value"), events, stored.get("rng") or {},
                   changes=stored.get("changes"))
