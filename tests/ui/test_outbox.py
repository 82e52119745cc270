"""The panel's IOPub messages: queued, then handed to the kernel's I/O thread with or without waking it."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from nbcache.ui.outbox import Outbox


class _IOThread:
    """ipykernel's IOPubThread as the outbox uses it: ``schedule`` appends and wakes, a wake runs every event."""

    def __init__(self) -> None:
        self._events: deque[Callable[[], Any]] = deque()
        self.thread = threading.current_thread()  # alive
        self.wakes = 0
        self.sent: list[Any] = []

    def _really_send(self, parts: list[Any], copy: bool = True) -> None:
        self.sent.append(parts)

    def schedule(self, f: Callable[[], Any]) -> None:
        self._events.append(f)
        self.wakes += 1

    def wake(self) -> None:
        while self._events:
            self._events.popleft()()


class _Socket:
    def __init__(self) -> None:
        self.io_thread = _IOThread()


class _Publisher:
    def __init__(self) -> None:
        self.session, self.parent_header, self.topic = None, {}, b"display_data"
        self.pub_socket = _Socket()


def test_a_final_display_waits_for_the_next_wake_and_goes_out_first() -> None:
    publisher = _Publisher()
    io = publisher.pub_socket.io_thread
    box = Outbox(publisher)
    box.send_multipart([b"panel"])
    box.flush(wake=False)
    assert io.wakes == 0 and io.sent == []  # nothing woke the thread
    io.schedule(lambda: io._really_send([b"execute_result"]))  # the cell's own next message
    io.wake()
    assert io.sent == [[b"panel"], [b"execute_result"]]


def test_a_display_that_nothing_follows_wakes_the_thread() -> None:
    publisher = _Publisher()
    io = publisher.pub_socket.io_thread
    box = Outbox(publisher)
    box.send_multipart([b"running"])
    box.flush()
    assert io.wakes == 1
    io.wake()
    assert io.sent == [[b"running"]]


def test_without_a_live_io_thread_the_messages_are_handed_over_at_once() -> None:
    publisher = _Publisher()
    io = publisher.pub_socket.io_thread
    io.thread = threading.Thread(target=lambda: None)  # never started: not alive
    box = Outbox(publisher)
    box.send_multipart([b"panel"])
    box.flush(wake=False)
    assert io.wakes == 1  # ipykernel's schedule runs it at once when its thread is gone
