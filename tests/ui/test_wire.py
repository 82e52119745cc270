"""The panel's messages packed here are the very frames ``Session.send`` would write, signature included."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from jupyter_client.session import Session

from nbcache.ui import wire

CONTENT = {"data": {"text/plain": 'nbcache: hit (y restored, 1 KiB) in 1 ms · "ü" €\t\\',
                    "application/vnd.jupyter.widget-view+json": {"version_major": 2, "model_id": "a1"}},
           "metadata": {}, "transient": {"display_id": "nbcache-1"}}


def _session(**kwargs: Any) -> Session:
    return Session(key=b"a secret key", **kwargs)


def _as_session_sends(session: Session, frames: list[bytes], msg_type: str, content: Any, parent: dict,
                      metadata: dict) -> list[bytes]:
    """What ``session.serialize`` makes of the same message, given the header these frames carry (its id and
    date are new at each message)."""
    header = json.loads(frames[3])
    header["date"] = datetime.fromisoformat(header["date"].replace("Z", "+00:00"))
    msg = session.msg(msg_type, content, parent=parent, metadata=metadata, header=header)
    return session.serialize(msg, frames[0])


@pytest.mark.parametrize(("msg_type", "content", "metadata"), [
    ("display_data", CONTENT, {}),
    ("comm_open", {"data": {"state": {"description": "x"}, "buffer_paths": []}, "comm_id": "c1",
                   "target_name": "jupyter.widget", "target_module": None}, {"version": "2.1.0"}),
])
def test_frames_are_the_session_s_own(msg_type: str, content: dict, metadata: dict) -> None:
    session = _session()
    for request in ("execute_request", "comm_msg"):  # a new parent header: packed anew
        parent = session.msg_header(request)
        frames = wire.frames(session, msg_type, wire.packed(content), parent, metadata, b"topic")
        assert frames == _as_session_sends(session, frames, msg_type, content, parent, metadata)
        received = session.deserialize(session.feed_identities(frames)[1])  # the signature checks out
        assert received["content"] == content and received["parent_header"]["msg_id"] == parent["msg_id"]
        assert received["header"]["msg_type"] == msg_type and received["metadata"] == metadata


def test_each_message_has_a_new_id_from_the_session_s_count() -> None:
    session = _session()
    parent = session.msg_header("execute_request")
    ids = [json.loads(wire.frames(session, "display_data", b"{}", parent, {}, b"t")[3])["msg_id"] for _ in range(3)]
    assert len(set(ids)) == 3 and session.msg_id.endswith(f"_{int(ids[-1].rsplit('_', 1)[1]) + 1}")


@pytest.mark.parametrize("kwargs", [{"packer": "pickle", "unpacker": "pickle"}, {"debug": True}])
def test_a_session_that_packs_otherwise_is_left_to_itself(kwargs: dict) -> None:
    assert wire.plain(_session())
    assert not wire.plain(_session(**kwargs))
    adapted = _session()
    adapted.adapt_version = 4
    assert not wire.plain(adapted)


@pytest.mark.parametrize("kwargs", [{}, {"packer": "pickle", "unpacker": "pickle"}])
def test_the_outbox_queues_what_the_session_reads_back(kwargs: dict) -> None:
    from nbcache.ui.outbox import Outbox

    session = _session(**kwargs)
    pub = type("Pub", (), {"session": session, "parent_header": session.msg_header("execute_request"),
                           "pub_socket": None, "topic": b"display_data"})()
    box = Outbox(pub)
    box.display("display_data", CONTENT)
    ((frames, _),) = box._frames
    received = session.deserialize(session.feed_identities(frames)[1])
    assert received["content"] == CONTENT and received["header"]["msg_type"] == "display_data"
    assert frames[0] == b"display_data"
