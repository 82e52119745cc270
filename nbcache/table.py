"""``%cache_info`` beyond plain text: entries sorted, as an HTML table for notebooks, and as JSON for scripts."""

from __future__ import annotations

import dataclasses
import html
import json
import time
from collections.abc import Sequence
from typing import Any

from .info import format_entries
from .status import human_size, human_time

# Each sort puts what most deserves attention first: the biggest, the oldest, the most useful.
SORTS = {
    "size": (lambda e: e.size, True),
    "age": (lambda e: e.created, False),
    "saved": (lambda e: e.saved_s, True),
}


def sort_entries(entries: Sequence[Any], by: str | None) -> list[Any]:
    if by is None:
        return list(entries)
    key, reverse = SORTS[by]
    return sorted(entries, key=key, reverse=reverse)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def totals(entries: Sequence[Any], limit: int | None) -> dict[str, Any]:
    return {
        "entries": len(entries),
        "size": sum(e.size for e in entries),
        "limit": limit,
        "saved_s": sum(e.saved_s for e in entries),
    }


def totals_text(entries: Sequence[Any], limit: int | None) -> str:
    size = sum(e.size for e in entries)
    of_limit = f" of {human_size(limit)}" if limit else " (no size limit)"
    saved = human_time(sum(e.saved_s for e in entries))
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} · {human_size(size)}{of_limit} · {saved} saved"


def info_text(entries: Sequence[Any], location: str, limit: int | None) -> str:
    """The text form of the table in a notebook: nbcache's usual prefix on the totals, like a status line."""
    table = format_entries(entries, location)
    return f"nbcache: {totals_text(entries, limit)}\n{table}" if entries else table


def entries_json(entries: Sequence[Any], location: str, limit: int | None) -> str:
    """The store's entries as the store records them, plus totals."""
    rows = [dataclasses.asdict(e) for e in entries]
    return json.dumps({"store": location, "entries": rows, "totals": totals(entries, limit)}, indent=2, default=str)


def _cells(entry: Any) -> list[str]:
    return [entry.cell[:60], entry.key[:12], _when(entry.created), _when(entry.last_used), str(entry.hits),
            human_time(entry.compute_s), human_time(entry.saved_s), human_size(entry.size)]


_HEADER = ["cell", "key", "created", "last used", "hits", "compute", "saved", "size"]


def entries_html(entries: Sequence[Any], location: str, limit: int | None) -> str:
    head = "".join(f"<th>{h}</th>" for h in _HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td><code>{html.escape(c)}</code></td>" if i < 2 else f"<td>{html.escape(c)}</td>"
                         for i, c in enumerate(_cells(e))) + "</tr>"
        for e in entries
    )
    t = totals(entries, limit)
    of_limit = f" of {human_size(limit)}" if limit else ""
    foot = (f"{t['entries']} entr{'y' if t['entries'] == 1 else 'ies'}, {human_size(t['size'])}{of_limit}, "
            f"{human_time(t['saved_s'])} saved in all; store: {html.escape(location)}")
    return (f"<table class='nbcache-info'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p class='nbcache-info-totals'>{foot}</p>")
