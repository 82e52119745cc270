"""Record what a cell shows while it runs live, and play it back on a hit.

While a cell runs, its stdout and stderr still reach the user as they are written (progress bars stay live), and
displays still appear; a copy of each goes, in order, into a list of events that a hit replays.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Widget views refer to live models in the kernel that a later session does not have: never replay them.
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

Event = tuple  # ("stream", name, text) | ("display", data, metadata, transient, update) | ("clear", wait)


class _Tee:
    """A text stream that writes through to the real one and records a copy."""

    def __init__(self, stream: Any, name: str, events: list[Event]) -> None:
        self._stream = stream
        self._name = name
        self._events = events

    def write(self, text: str) -> int:
        if text:
            self._events.append(("stream", self._name, str(text)))
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, attr: str) -> Any:  # flush, isatty, encoding, fileno...
        return getattr(self._stream, attr)


def _flush_inline_figures() -> None:
    """Show matplotlib's pending inline figures now, so they are recorded with the cell's other outputs."""
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    if backend is None:
        return
    try:
        import matplotlib

        if "inline" in matplotlib.get_backend():
            backend.flush_figures()
    except Exception:  # a plotting failure here must not fail the cell; the figure shows after the cell instead
        pass


@contextmanager
def recording(shell: Any) -> Iterator[list[Event]]:
    """Record stdout, stderr, displays and clear_output calls made while the block runs."""
    events: list[Event] = []
    pub = shell.display_pub
    publish, clear_output = pub.publish, pub.clear_output

    def recording_publish(data: dict, metadata: dict | None = None, *args: Any, **kwargs: Any) -> None:
        if _WIDGET_VIEW not in data:
            events.append(("display", dict(data), dict(metadata or {}), kwargs.get("transient"),
                           bool(kwargs.get("update", False))))
        return publish(data, metadata, *args, **kwargs)

    def recording_clear(wait: bool = False) -> None:
        events.append(("clear", wait))
        return clear_output(wait)

    saved = sys.stdout, sys.stderr
    patched = {name: pub.__dict__[name] for name in ("publish", "clear_output") if name in pub.__dict__}
    sys.stdout, sys.stderr = _Tee(sys.stdout, "stdout", events), _Tee(sys.stderr, "stderr", events)
    pub.publish, pub.clear_output = recording_publish, recording_clear
    try:
        yield events
        _flush_inline_figures()
    finally:
        sys.stdout, sys.stderr = saved
        del pub.publish, pub.clear_output
        pub.__dict__.update(patched)  # someone else's patch, if there was one, comes back


def replay(shell: Any, events: list[Event]) -> None:
    """Show recorded events again, in their order."""
    for event in events:
        kind = event[0]
        if kind == "stream":
            stream = sys.stdout if event[1] == "stdout" else sys.stderr
            stream.write(event[2])
            stream.flush()  # keeps stdout and stderr interleaved as they were
        elif kind == "display":
            _, data, metadata, transient, update = event
            kwargs = {"transient": transient, "update": update} if (transient or update) else {}
            shell.display_pub.publish(data, metadata, **kwargs)
        elif kind == "clear":
            shell.display_pub.clear_output(event[1])
