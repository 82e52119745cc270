"""The panel's IOPub messages as frames, packed as jupyter_client's ``Session`` packs them, from parts packed once.

``Session.send`` packs every message's header, parent header and metadata with ``json.dumps`` and a ``default``
hook (a new encoder at each call; the header's date goes through the hook), then signs them: about 80 us a
message on this machine, where the panel sends two per cell. Here the header is written around its two new values
(id and date), the parent header (the request the cell answers, the same for all its messages) is packed once
per request, the metadata once per value, and the content by one shared encoder: the same bytes, signed by the
session's own key. A session that packs otherwise (another packer, an older protocol, debugging, another process)
is not ``plain``, and the outbox hands its messages to ``Session.send``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from jupyter_client.session import DELIM, json_packer, protocol_version

# ``json_packer``'s output for values JSON holds natively (no datetime or bytes): the same options, one encoder.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def packed(value: Any) -> bytes:
    """``value`` as ``json_packer`` packs it; only for str, numbers, None, lists and dicts of them."""
    return _ENCODER.encode(value).encode("utf8", errors="surrogateescape")


# The parent header last packed (kept, so its id is not reused) and its bytes, as one tuple: a ticker thread's
# message and the cell's own read and replace it whole.
_parent: tuple[Any, bytes] = (None, b"")
_metadata: dict[str, bytes] = {}  # by the packed text's own key: a handful of distinct values


def _packed_parent(parent: dict[str, Any]) -> bytes:
    global _parent
    last = _parent
    if last[0] is parent:
        return last[1]
    packed = json_packer(parent)  # it may hold a datetime: packed as the session does
    _parent = (parent, packed)
    return packed


def _packed_metadata(metadata: dict[str, Any]) -> bytes:
    key = repr(sorted(metadata.items()))
    found = _metadata.get(key)
    if found is None:
        found = _metadata[key] = json_packer(metadata)
    return found


def _header(session: Any, msg_type: str) -> bytes:
    """``json_packer(session.msg_header(msg_type))``: the same keys in the same order, the date as its default
    hook writes it."""
    date = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return b"".join((b'{"msg_id": ', packed(session.msg_id), b', "msg_type": ', packed(msg_type),
                     b', "username": ', packed(session.username), b', "session": ', packed(session.session),
                     b', "date": "', date.encode(), b'", "version": ', packed(protocol_version), b"}"))


def plain(session: Any) -> bool:
    """Whether ``session`` sends as this module packs: JSON, the current protocol, no debugging, this process."""
    return (getattr(session, "pack", None) is json_packer and not getattr(session, "adapt_version", None)
            and not getattr(session, "debug", False)
            and not (getattr(session, "check_pid", False) and os.getpid() != getattr(session, "pid", None)))


def frames(session: Any, msg_type: str, content: bytes, parent: dict[str, Any], metadata: dict[str, Any],
           topic: bytes) -> list[bytes]:
    """The frames ``session.send(stream, msg, ident=topic)`` hands the stream, for a ``plain`` session;
    ``content``: already packed (``packed``)."""
    parts = [_header(session, msg_type), _packed_parent(parent), _packed_metadata(metadata), content]
    return [topic, DELIM, session.sign(parts), *parts]
