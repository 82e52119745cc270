"""The outbox hands the panel's messages to ipykernel's I/O thread: at once (a wake), or queued for its next wake."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from nbcache.ui.outbox import Outbox


class _IOThread:
    """ipykernel's ``IOPubThread`` as the outbox meets it: ``schedule`` queues and wakes; ``_events`` is the queue."""

    def __init__(self, alive: bool = True) -> None:
        self._events: deque[Callable[[], None]] = deque()
        self.thread = threading.current_thread() if alive else threading.Thread(target=lambda: None)
        self.sent: list[list[bytes]] = []
        self.wakes = 0

    def schedule(self, f: Callable[[], None]) -> None:
        self.wakes += 1
        getattr(self, "_events", deque()).append(f)

    def _really_send(self, parts: list[bytes], copy: bool = True) -> None:
        self.sent.append(parts)

    def run_events(self) -> None:
        while self._events:
            self._events.popleft()()


class _Pub:
    def __init__(self, io: Any) -> None:
        self.session, self.parent_header, self.topic = None, {}, b"display"
        self.pub_socket = type("Socket", (), {"io_thread": io})()


def _box(io: Any) -> Outbox:
    box = Outbox(_Pub(io))
    box.send_multipart([b"first"])
    box.send_multipart([b"second"])
    return box


def test_a_message_that_may_wait_is_queued_for_the_next_wake_in_order() -> None:
    io = _IOThread()
    _box(io).flush(wake=False)
    assert io.wakes == 0 and io.sent == []  # nothing sent, the thread not woken
    io.schedule(lambda: io.sent.append([b"the cell's value"]))  # the kernel's next message wakes it
    io.run_events()
    assert io.sent == [[b"first"], [b"second"], [b"the cell's value"]]


def test_other_messages_wake_the_thread() -> None:
    io = _IOThread()
    _box(io).flush()
    assert io.wakes == 1
    io.run_events()
    assert io.sent == [[b"first"], [b"second"]]


def test_a_thread_not_running_or_another_kernel_s_is_woken() -> None:
    stopped, other = _IOThread(alive=False), _IOThread()
    del other._events  # an I/O thread without ipykernel's queue
    _box(stopped).flush(wake=False)
    _box(other).flush(wake=False)
    assert (stopped.wakes, other.wakes) == (1, 1)
