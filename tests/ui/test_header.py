"""The header's ``comm_open``, packed from a template packed once: the very content the session would pack."""

from __future__ import annotations

import json

from jupyter_client.session import json_packer

from nbcache.ui.header import LightHeader
from nbcache.ui.panel import _Shared


def _header(description: str, tooltip: str) -> LightHeader:
    return LightHeader(description, tooltip, _Shared.get("header"), _Shared.get("header_style"), lambda msg: None)


def test_the_packed_comm_open_is_what_the_session_would_pack_from_the_dict() -> None:
    light = _header('<span class="b" style="x:1">hit</span> · "quoted" ü \\ \n', "restored 1 KiB\t€")
    packed = light._content(as_bytes=True)
    unpacked = light._content(as_bytes=False)  # where the session packs the message: the content as a dict
    assert isinstance(packed, bytes) and isinstance(unpacked, dict)
    assert json.loads(packed) == json.loads(json_packer(unpacked))  # the same message on the wire
    assert unpacked["data"]["state"]["description"].startswith('<span class="b"')


def test_each_header_packs_its_own_text_and_id() -> None:
    first, second = _header("one", "1"), _header("two", "2")
    a, b = json.loads(first._content(as_bytes=True)), json.loads(second._content(as_bytes=True))
    assert (a["data"]["state"]["description"], b["data"]["state"]["description"]) == ("one", "two")
    assert (a["comm_id"], b["comm_id"]) == (first.model_id, second.model_id)
    assert {k: v for k, v in a["data"]["state"].items() if k not in ("description", "tooltip")} == \
        {k: v for k, v in b["data"]["state"].items() if k not in ("description", "tooltip")}
