"""Record what a cell shows while it runs live, and play it back on a hit.

While a cell runs, its stdout and stderr still reach the user as they are written (progress bars stay live), and
displays still appear; a copy of each goes, in order, into a list of events that a hit replays. The streams are
recorded where they are written, so a handler that took ``sys.stderr`` in an earlier cell (``logging``) is
recorded too. A cell that shows a widget cannot be replayed (its view refers to live models in the kernel), so the
recording notes it and the cell is not stored.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from nbcache.cell.payload import (
    CellEndEvent,
    ClearEvent,
    DisplayEvent,
    Event,
    Stream,
    StreamEvent,
    ValueShownEvent,
)
from nbcache.errors import CacheWarning

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Events(list):
    """The recorded events; ``first`` is called before the first one is recorded, before it reaches the user."""

    def __init__(self, first: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.first = first

    def append(self, event: Event) -> None:
        if self.first is not None:
            first, self.first = self.first, None
            first()
        super().append(event)


@dataclass
class Recording:
    events: list[Event] = field(default_factory=_Events)
    widgets: bool = False  # a widget view was shown: the cell cannot be replayed


class _Tee:
    """A text stream that writes through to the real one and records a copy (for streams that refuse a patch)."""

    def __init__(self, stream: Any, name: Stream, events: list[Event]) -> None:
        self._stream = stream
        self._name = name
        self._events = events

    def write(self, text: str) -> int:
        if text:
            self._events.append(StreamEvent(self._name, str(text)))
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, attr: str) -> Any:  # flush, isatty, encoding, fileno...
        return getattr(self._stream, attr)


@contextmanager
def _recorded_stream(attr: str, name: Stream, events: list[Event], paused: list[bool] | None = None) -> Iterator[None]:
    """Record writes to ``sys.<attr>`` on the stream object itself, so whoever holds it is recorded as well.
    Nothing is recorded while ``paused[0]`` is true."""
    stream = getattr(sys, attr)
    write = stream.write

    def recording_write(text: str) -> int:
        if text and not (paused and paused[0]):
            events.append(StreamEvent(name, str(text)))
        return write(text)

    try:
        stream.write = recording_write
    except (AttributeError, TypeError):  # a stream without an instance dict: wrap it instead
        setattr(sys, attr, _Tee(stream, name, events))
        try:
            yield
        finally:
            setattr(sys, attr, stream)
        return
    try:
        yield
    finally:
        with suppress(AttributeError):  # another recorder of the same stream object may have removed it
            del stream.write


def _inline_backend() -> Any:
    """matplotlib's inline backend module when it is the active backend, else None."""
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    matplotlib = sys.modules.get("matplotlib")
    if backend is None or matplotlib is None:
        return None
    try:
        return backend if "inline" in matplotlib.get_backend() else None
    except Exception:
        return None


def _figures_pending() -> bool:
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    return _inline_backend() is not None and helpers is not None and bool(helpers.Gcf.get_all_fig_managers())


def _once_after_cell(shell: Any, callback: Callable[[], None]) -> None:
    """Run ``callback`` in IPython's post_execute, after the inline backend has drawn the cell's figures."""

    def once() -> None:
        shell.events.unregister("post_execute", once)
        callback()

    shell.events.register("post_execute", once)


def after_cell(shell: Any, recorded: Recording, finish: Callable[[], None]) -> None:
    """Call ``finish`` once the cell's outputs are complete: now, or, when it left figures for the inline backend
    to draw after the cell (IPython shows them after the cell's value, and a figure drawn inside the cell can come
    out different), after they were drawn and recorded."""
    if not _figures_pending():
        finish()
        return
    recorded.events.append(CellEndEvent())
    late = ExitStack()
    late.enter_context(_recorded_displays(shell, recorded))
    late.enter_context(_value_format(shell, recorded.events.append))
    # What drawing the figures writes (matplotlib logs "Ignoring fixed y limits..." to stderr) is part of the
    # output too; the value itself is recorded as it was formatted, not as a terminal's display hook prints it.
    paused = late.enter_context(_display_hook_paused(shell))
    late.enter_context(_recorded_streams(recorded.events, paused))

    def done() -> None:
        late.close()
        try:
            finish()
        except Exception as exc:  # never a traceback after the user's cell: the cell ran, only storing failed
            warnings.warn(f"nbcache: the cell ran but its result was not stored: {exc}", CacheWarning, stacklevel=1)

    _once_after_cell(shell, done)


@contextmanager
def _value_format(shell: Any, record: Callable[[ValueShownEvent], None] | None = None,
                  shown: ValueShownEvent | None = None) -> Iterator[None]:
    """While the block runs, the display hook's formatting of a value is recorded, or replaced by ``shown``."""
    hook = shell.displayhook
    compute = hook.compute_format_data

    def formatting(result: Any) -> tuple[dict, dict]:
        if shown is not None:
            return shown.data, shown.metadata
        data, metadata = compute(result)
        if record is not None:
            record(ValueShownEvent(dict(data), dict(metadata or {})))
        return data, metadata

    hook.compute_format_data = formatting
    try:
        yield
    finally:
        del hook.compute_format_data


@contextmanager
def _recorded_displays(shell: Any, recording: Recording) -> Iterator[None]:
    pub = shell.display_pub
    publish, clear_output = pub.publish, pub.clear_output

    def recording_publish(data: dict, metadata: dict | None = None, *args: Any, **kwargs: Any) -> None:
        if _WIDGET_VIEW in data:
            recording.widgets = True
        recording.events.append(DisplayEvent(dict(data), dict(metadata or {}), kwargs.get("transient"),
                                             bool(kwargs.get("update", False))))
        return publish(data, metadata, *args, **kwargs)

    def recording_clear(wait: bool = False) -> None:
        recording.events.append(ClearEvent(wait))
        return clear_output(wait)

    patched = {name: pub.__dict__[name] for name in ("publish", "clear_output") if name in pub.__dict__}
    pub.publish, pub.clear_output = recording_publish, recording_clear
    try:
        yield
    finally:
        del pub.publish, pub.clear_output
        pub.__dict__.update(patched)  # someone else's patch, if there was one, comes back


@contextmanager
def _recorded_streams(events: list[Event], paused: list[bool] | None = None) -> Iterator[None]:
    with ExitStack() as stack:
        stack.enter_context(_recorded_stream("stdout", Stream.STDOUT, events, paused))
        if sys.stderr is not sys.stdout:  # one stream under two names is recorded once, as stdout
            stack.enter_context(_recorded_stream("stderr", Stream.STDERR, events, paused))
        yield


@contextmanager
def _display_hook_paused(shell: Any) -> Iterator[list[bool]]:
    """A flag that is true while the display hook shows a value (a terminal's hook prints it to stdout)."""
    hook, paused = shell.displayhook, [False]
    start, finish = hook.start_displayhook, hook.finish_displayhook

    def starting() -> None:
        paused[0] = True
        start()

    def finishing() -> None:
        try:
            finish()
        finally:
            paused[0] = False

    hook.start_displayhook, hook.finish_displayhook = starting, finishing
    try:
        yield paused
    finally:
        del hook.start_displayhook, hook.finish_displayhook


@contextmanager
def recording(shell: Any, first_output: Callable[[], None] | None = None) -> Iterator[Recording]:
    """Record stdout, stderr, displays and clear_output calls made while the block runs; ``first_output`` is
    called just before the first of them reaches the user."""
    found = Recording(_Events(first_output))
    with ExitStack() as stack:
        stack.enter_context(_recorded_streams(found.events))
        stack.enter_context(_recorded_displays(shell, found))
        yield found


def _replay_after_cell(shell: Any, events: tuple[Event, ...]) -> None:
    """The events recorded after the cell's code: the value is shown as it was formatted then, the rest after."""
    late = ExitStack()
    shown = next((e for e in events if isinstance(e, ValueShownEvent)), None)
    if shown is not None:
        late.enter_context(_value_format(shell, shown=shown))

    def done() -> None:
        late.close()
        replay(shell, events)

    _once_after_cell(shell, done)


def _stream_of(event: Event) -> Any:
    if not isinstance(event, StreamEvent):
        return None
    return sys.stdout if event.stream is Stream.STDOUT else sys.stderr


def replay(shell: Any, events: tuple[Event, ...]) -> None:
    """Show recorded events again, in their order; those shown after the cell's code, after the cell's value."""
    # A stream is flushed before anything else is shown (the other stream, a display), so stdout, stderr and
    # displays stay interleaved as they were; not after each write, nor at the end: in a kernel every flush waits
    # for the I/O thread (about half a millisecond), and what may follow the replay flushes first by itself (a
    # display or the value: ipykernel flushes both streams before each; the kernel at the cell's end; the status
    # line: ``TextReporter``), as after the plain cell's own prints.
    unflushed: Any = None
    for index, event in enumerate(events):
        stream = _stream_of(event)
        if unflushed is not None and stream is not unflushed:
            unflushed.flush()
        unflushed = stream
        if isinstance(event, CellEndEvent):
            _replay_after_cell(shell, events[index + 1:])
            return
        if isinstance(event, StreamEvent):
            stream.write(event.text)
        elif isinstance(event, DisplayEvent):
            kwargs = {"transient": event.transient, "update": event.update} if (event.transient or event.update) else {}
            shell.display_pub.publish(event.data, event.metadata, **kwargs)
        elif isinstance(event, ClearEvent):
            shell.display_pub.clear_output(event.wait)
