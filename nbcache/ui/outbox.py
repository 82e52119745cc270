"""The panel's IOPub messages, sent together at one wake of the kernel's I/O thread.

ipykernel hands every IOPub message to its I/O thread, waking it through a pipe; the woken thread then competes
with the cell for the interpreter lock. A panel's header (its ``comm_open``) and its display are two messages
that always go together, so they are handed over in one step: the thread wakes once. Where that step is not
available (another kernel, an ipykernel without an I/O thread), each message is sent as ``session.send`` would.
"""

from __future__ import annotations

from typing import Any

from IPython import get_ipython


class Outbox:
    """Messages for IOPub, serialised as ``session.send`` does and queued until ``flush``.

    ``session.send`` is given the outbox as its stream: it calls ``send_multipart`` with the message's frames.
    """

    def __init__(self, pub: Any) -> None:
        self.session = pub.session
        self.parent = pub.parent_header  # the request being answered
        self._socket = pub.pub_socket
        self._topic = pub.topic
        self._hooks = list(getattr(pub, "_hooks", ()))  # e.g. an Output widget capturing from a thread
        self._frames: list[tuple[list[Any], bool]] = []

    def send_multipart(self, frames: list[Any], copy: bool = True) -> None:
        self._frames.append((frames, copy))

    def send(self, msg: dict[str, Any], ident: Any) -> None:
        self.session.send(self, msg, ident=ident)

    def display(self, msg: dict[str, Any]) -> None:
        """Queue a display message as the display publisher would send it (its hooks may take or change it)."""
        for hook in self._hooks:
            msg = hook(msg)
            if msg is None:
                return
        self.send(msg, self._topic)

    def flush(self) -> None:
        frames, self._frames = self._frames, []
        io = getattr(self._socket, "io_thread", None)
        really_send = getattr(io, "_really_send", None)
        if io is None or really_send is None or not hasattr(io, "schedule"):
            for parts, copy in frames:
                self._socket.send_multipart(parts, copy=copy)
            return
        io.schedule(lambda: [really_send(parts, copy=copy) for parts, copy in frames])


def outbox() -> Outbox | None:
    """An outbox on the kernel's IOPub socket; None outside a kernel (a plain ``display`` is used there)."""
    pub: Any = getattr(get_ipython(), "display_pub", None)
    if getattr(pub, "session", None) is None or getattr(pub, "pub_socket", None) is None:
        return None
    return Outbox(pub)
