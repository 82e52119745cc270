"""What a hit sends the frontend in a real kernel: every message costs the kernel time, so a hit's panel opens one
widget (its header), already holding the hit's final text, shows it in one display, and sends nothing after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.kernel

CELL = "%%cache\ny = x * 2\nprint(y)"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    manager, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        yield kc
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


def _messages(kc: BlockingKernelClient, code: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    reply = kc.execute_interactive(code, output_hook=seen.append, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return seen


def test_a_hit_opens_its_panel_once_with_the_final_text(client: BlockingKernelClient) -> None:
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, CELL)  # the miss (and the widgets every panel shares)
    hit = _messages(client, CELL)
    kinds = Counter(m["msg_type"] for m in hit)
    assert kinds["comm_open"] == 1 and kinds["comm_msg"] == 0, kinds
    assert kinds["display_data"] == 1 and kinds["update_display_data"] == 0, kinds  # no placeholder first
    (header,) = [m["content"]["data"]["state"] for m in hit if m["msg_type"] == "comm_open"]
    assert 'data-state="hit"' in header["description"] and "_options_labels" in header
    (final,) = [m for m in hit if m["msg_type"] == "display_data"]
    assert final["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        [m for m in hit if m["msg_type"] == "comm_open"][0]["content"]["comm_id"])
    assert final["content"]["data"]["text/plain"].startswith("nbcache: hit (y restored")
    assert "application/vnd.jupyter.widget-view+json" in final["content"]["data"]
    streams = [m["content"]["text"] for m in hit if m["msg_type"] == "stream"]
    assert "".join(streams) == "6\n"


def test_a_hit_replays_its_prints_in_as_many_stream_messages_as_the_plain_cell(client: BlockingKernelClient) -> None:
    """Each flush of a stream is a message and a wait for the kernel's I/O thread: a print is two writes, so a
    replay that flushed after each write cost a cheap cell more than the rest of the hit."""
    body = "for i in range(3):\n    print(i)\nimport sys\nprint('warn', file=sys.stderr)\nprint('done')"
    _messages(client, "%load_ext nbcache")

    def streamed(code: str) -> list[tuple[str, str]]:
        return [(m["content"]["name"], m["content"]["text"]) for m in _messages(client, code)
                if m["msg_type"] == "stream" and not m["content"]["text"].startswith("nbcache")]

    plain = streamed(body)
    streamed(f"%%cache\n{body}")
    hit = streamed(f"%%cache\n{body}")
    assert "".join(t for n, t in hit if n == "stdout") == "0\n1\n2\ndone\n"
    assert len(hit) <= len(plain) + 1, (hit, plain)  # one more at most: where stdout gives way to stderr


def test_a_hit_without_output_to_replay_shows_its_panel_in_one_display(client: BlockingKernelClient) -> None:
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, "%%cache\ny = x * 2\ny")
    hit = _messages(client, "%%cache\ny = x * 2\ny")
    shown = [m["msg_type"] for m in hit if m["msg_type"] in ("display_data", "update_display_data", "execute_result")]
    assert shown == ["display_data", "execute_result"], shown
    assert hit[[m["msg_type"] for m in hit].index("display_data")]["content"]["data"]["text/plain"].startswith(
        "nbcache: hit")


def test_a_quick_miss_builds_its_panel_once_with_the_final_text(client: BlockingKernelClient) -> None:
    """A quick miss that prints: a plain line holds the panel's place above its first output; the widget comes
    once, at the end."""
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, "%%cache\nw = x + 1")  # the layout and style every panel shares
    miss = _messages(client, CELL)
    kinds = Counter(m["msg_type"] for m in miss)
    assert kinds["comm_open"] == 1 and kinds["comm_msg"] == 0, kinds
    shown = [m for m in miss if m["msg_type"] in ("display_data", "update_display_data")]
    assert [m["msg_type"] for m in shown] == ["display_data", "update_display_data"], shown
    # The reason is worked out late (LateReason): the place holder says only that the cell runs.
    assert shown[0]["content"]["data"] == {"text/plain": "nbcache: running"}
    outputs = [m["msg_type"] for m in miss if m["msg_type"] in ("display_data", "stream")]
    assert outputs[:2] == ["display_data", "stream"], outputs  # the place, then the cell's print
    assert shown[1]["content"]["data"]["text/plain"].startswith("nbcache: miss (new cell)")
    assert "application/vnd.jupyter.widget-view+json" in shown[1]["content"]["data"]
    (header,) = [m["content"]["data"]["state"] for m in miss if m["msg_type"] == "comm_open"]
    assert 'data-state="miss"' in header["description"]


def test_a_quick_miss_without_output_shows_its_panel_in_one_display(client: BlockingKernelClient) -> None:
    """Nothing to hold a place above: the panel is one comm_open and one display, made at the end."""
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, "%%cache\nw = x + 1")  # the layout and style every panel shares
    miss = _messages(client, "%%cache\nv = x + 2\nv")
    kinds = Counter(m["msg_type"] for m in miss)
    assert kinds["comm_open"] == 1 and kinds["comm_msg"] == 0 and kinds["update_display_data"] == 0, kinds
    (shown,) = [m["content"]["data"] for m in miss if m["msg_type"] == "display_data"]
    assert shown["text/plain"].startswith("nbcache: miss (new cell)") and WIDGET_VIEW in shown
    order = [m["msg_type"] for m in miss if m["msg_type"] in ("display_data", "execute_result")]
    assert order == ["display_data", "execute_result"]  # the panel above the cell's value


@pytest.mark.parametrize("before", ["", "print('before')\n"])
def test_the_panel_s_last_message_comes_before_what_the_cell_shows_after_it(client: BlockingKernelClient,
                                                                         before: str) -> None:
    """The final display comes first: also when the cell printed before, so that its stream is flushed by the I/O
    thread's own timer (the sleep lets it fire before the cell ends)."""
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, "%%cache\nw = x + 1")
    for body in ("v = x + 5", "v = x + 5"):  # a miss, then a hit
        run = f"get_ipython().run_cell_magic('cache', '', {body!r})"
        code = f"{before}{run}\nprint('after')\nimport time\ntime.sleep(0.5)"
        seen = [m for m in _messages(client, code) if m["msg_type"] in ("display_data", "stream")]
        panel = next(i for i, m in enumerate(seen) if m["msg_type"] == "display_data")
        after = next(i for i, m in enumerate(seen) if m["msg_type"] == "stream" and "after" in m["content"]["text"])
        assert panel < after, [(m["msg_type"], m["content"].get("text")) for m in seen]
        assert seen[panel]["content"]["data"]["text/plain"].startswith(("nbcache: miss", "nbcache: hit"))


def test_a_long_miss_shows_its_running_badge_while_it_runs(client: BlockingKernelClient) -> None:
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, "%%cache\nw = x + 1")
    miss = _messages(client, "%%cache\nimport time\ntime.sleep(1.5)\nz = x")
    opened = [m["content"]["data"]["state"] for m in miss if m["msg_type"] == "comm_open"]
    assert len(opened) == 1 and 'data-state="running"' in opened[0]["description"]
    assert "new cell" in opened[0]["description"]  # the badge's thread worked the reason out (LateReason)
    updates = [m["content"]["data"]["state"] for m in miss if m["msg_type"] == "comm_msg"]
    assert 'data-state="miss"' in updates[-1]["description"]
    final = [m for m in miss if m["msg_type"] == "update_display_data"][-1]
    assert final["content"]["data"]["text/plain"].startswith("nbcache: miss (new cell)")


def _click(kc: BlockingKernelClient, comm_id: str, index: int) -> list[dict[str, Any]]:
    """Press a header button as the frontend does (an update of its ``index``); the kernel's answer on IOPub."""
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id,
                                      "data": {"method": "update", "state": {"index": index}, "buffer_paths": []}})
    kc.shell_channel.send(msg)
    seen = []
    while True:
        reply = kc.get_iopub_msg(timeout=30)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        seen.append(reply)
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            return seen


def test_a_hits_header_answers_its_buttons(client: BlockingKernelClient) -> None:
    """The hit's header is opened without a widget object; the first click makes its widget on the open comm,
    which then acts: "details" puts the header in a box with the details, in the same display."""
    _messages(client, "%load_ext nbcache\nx = 3")
    _messages(client, CELL)
    hit = _messages(client, CELL)
    (opened,) = [m["content"] for m in hit if m["msg_type"] == "comm_open"]
    shown = [m for m in hit if m["msg_type"] == "display_data" and WIDGET_VIEW in m["content"]["data"]]
    display_id = shown[0]["content"]["transient"]["display_id"]
    answer = _click(client, opened["comm_id"], 1)
    header = [m["content"]["data"]["state"] for m in answer
              if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == opened["comm_id"]]
    assert any(state.get("_options_labels") == ["recompute", "hide details"] for state in header), header
    details = [m["content"]["data"]["state"] for m in answer if m["msg_type"] == "comm_open"]
    filled = [m["content"]["data"].get("state", {}) for m in answer if m["msg_type"] == "comm_msg"]
    assert any("key" in str(state.get("value", "")) for state in filled), filled
    (update,) = [m["content"] for m in answer if m["msg_type"] == "update_display_data"]
    assert update["transient"]["display_id"] == display_id
    box = [state for state in details if state.get("_model_name") == "VBoxModel" and "nbcache-panel" in
           state.get("_dom_classes", [])]
    assert box and box[0]["children"][0] == f"IPY_MODEL_{opened['comm_id']}"
