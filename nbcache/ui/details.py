"""The panel's details, as HTML: the key, the inputs and what changed since the cell's previous entry, the outputs,
the files. Only what says something: no builtins (``print`` is no input worth a row), no empty sections."""

from __future__ import annotations

import html
from typing import Any

from nbcache.ui.report import CellState, CellStatus
from nbcache.units import human_size, when


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td style='padding:0 8px'>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _table(title: str, rows: list[str]) -> str:
    if not rows:
        return ""
    return f"<b>{html.escape(title)}</b><table class='nbcache-details-{title.lower()}'>{''.join(rows)}</table>"


def _short(digest: str) -> str:
    """A content hash shortened; markers such as "absent" say what they are instead."""
    return digest.split(":")[0] if ":" in digest or not digest.isalnum() else digest[:12]


def _is_builtin(digest: str) -> bool:
    return digest.startswith("builtin:")


def _previous_entry(store: Any, status: CellStatus) -> Any:
    """This cell's newest other entry, to say what changed since then; None if it has none."""
    for entry in store.entries():
        if entry.meta.cell_ident == status.cell_ident and entry.key != status.key:
            return entry
    return None


def _compared_with(previous: Any) -> str:
    if previous is None:
        return "<div><i>no other entry of this cell to compare with</i></div>"
    return (f"<div><i>changes are against this cell's entry <code>{html.escape(previous.key[:12])}</code>, "
            f"made {when(previous.created)}</i></div>")


def _keyed(status: CellStatus, previous: Any) -> str:
    before: dict[str, str] | None = dict(previous.meta.inputs) if previous is not None else None

    def change(name: str, digest: str) -> str:
        if before is None:
            return ""
        return "new" if name not in before else ("changed" if before[name] != digest else "")

    named = sorted(status.inputs.items())
    inputs = [_row(n, _short(d), change(n, d)) for n, d in named if not n.startswith("file:") and not _is_builtin(d)]
    files = [_row(n[5:], d[:12], change(n, d)) for n, d in named if n.startswith("file:")]
    outputs = [_row(n, t, "~" + human_size(status.output_sizes.get(n, 0))) for n, t in sorted(status.outputs.items())]
    key = f"<div><b>key</b> <code>{html.escape(status.key[:16])}</code></div>"
    return key + _compared_with(previous) + _table("Inputs", inputs) + _table("Outputs", outputs) + \
        _table("Files", files)


def details_html(status: CellStatus | None, state: CellState, store: Any) -> str:
    """What the details show in ``state``; ``status`` is None when the cell raised."""
    if state is CellState.FAILED or status is None:
        return "<div>The cell raised, so nothing was stored; its traceback is below the panel.</div>"
    if state is CellState.NOT_CACHED or not status.key:
        return f"<div><b>not cached:</b> {html.escape(status.reason)}</div><div>Nothing was stored.</div>"
    note = "<div><i>this entry was cleared</i></div>" if state is CellState.CLEARED else ""
    return note + _keyed(status, _previous_entry(store, status))
