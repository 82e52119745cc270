"""The panel's IOPub messages, sent together at one wake of the kernel's I/O thread.

ipykernel hands every IOPub message to its I/O thread, waking it through a pipe; the woken thread then competes
with the cell for the interpreter lock. A panel's header (its ``comm_open``) and its display are two messages
that always go together, so they are handed over in one step: the thread wakes once. Where that step is not
available (another kernel, an ipykernel without an I/O thread), each message is sent as ``session.send`` would.
Each message is packed as the kernel's session would pack it, from parts packed once (``wire.py``).
"""

from __future__ import annotations

from typing import Any

from IPython import get_ipython

from nbcache.ui import wire


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

    @property
    def plain(self) -> bool:
        """Whether messages are packed here (``wire.py``) rather than by ``Session.send``: content may be bytes."""
        return wire.plain(self.session)

    def post(self, msg_type: str, content: dict[str, Any] | bytes, topic: bytes,
             metadata: dict[str, Any] | None = None) -> None:
        """Queue a message; ``content``: a dict, or bytes packed by ``wire.packed`` where ``plain``."""
        metadata = metadata or {}
        if not self.plain:
            self.session.send(self, self.session.msg(msg_type, content, parent=self.parent, metadata=metadata),
                              ident=topic)
            return
        body = content if isinstance(content, bytes) else wire.packed(content)
        frames = wire.frames(self.session, msg_type, body, self.parent, metadata, topic)
        self.send_multipart(frames, copy=max(map(len, frames)) < self.session.copy_threshold)

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        """Queue a display message as the display publisher would send it (its hooks may take or change it)."""
        if not self._hooks:
            self.post(msg_type, content, self._topic)
            return
        msg: dict[str, Any] | None = self.session.msg(msg_type, content, parent=self.parent)
        for hook in self._hooks:
            msg = hook(msg)
            if msg is None:
                return
        self.session.send(self, msg, ident=self._topic)

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
