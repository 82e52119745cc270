"""``%cache_info`` and ``nbcache ls``: the store's entries sorted, with their totals, as text, HTML or JSON."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from typing import Any

from nbcache.units import human_size, human_time, plural, when

# Each sort puts what most deserves attention first: the biggest, the oldest, the most useful.
SORTS = {
    "size": (lambda e: e.size, True),
    "age": (lambda e: e.created, False),
    "saved": (lambda e: e.saved_s, True),
}


@dataclasses.dataclass(frozen=True)
class Totals:
    """What a list of entries adds up to: every view of the store shows these same figures."""

    entries: int
    size: int
    limit: int | None
    saved_s: float

    @classmethod
    def of(cls, entries: Sequence[Any], limit: int | None) -> Totals:
        return cls(len(entries), sum(e.size for e in entries), limit, sum(e.saved_s for e in entries))

    def text(self, *, show_no_limit: bool = True) -> str:
        of_limit = f" of {human_size(self.limit)}" if self.limit else (" (no size limit)" if show_no_limit else "")
        return f"{plural(self.entries, 'entry', 'entries')} · {human_size(self.size)}{of_limit} · " \
               f"{human_time(self.saved_s)} saved"


def sort_entries(entries: Sequence[Any], by: str | None) -> list[Any]:
    if by is None:
        return list(entries)
    key, reverse = SORTS[by]
    return sorted(entries, key=key, reverse=reverse)


def totals_text(entries: Sequence[Any], limit: int | None) -> str:
    return Totals.of(entries, limit).text()


def format_entries(entries: Sequence[Any], location: str) -> str:
    if not entries:
        return f"nbcache: no entries in {location}"
    header = f"{'key':<12} {'created':<16} {'hits':>4} {'size':>9} {'compute':>9} {'saved':>9}  cell"
    rows = [
        f"{e.key[:12]:<12} {when(e.created):<16} {e.hits:>4} {human_size(e.size):>9} "
        f"{human_time(e.compute_s):>9} {human_time(e.saved_s):>9}  {e.cell[:60]}"
        for e in entries
    ]
    t = Totals.of(entries, None)
    footer = (f"{plural(t.entries, 'entry', 'entries')}, {human_size(t.size)}, "
              f"{human_time(t.saved_s)} saved in all; store: {location}")
    return "\n".join([header, *rows, footer])


def info_text(entries: Sequence[Any], location: str, limit: int | None) -> str:
    """The text form of the table in a notebook: nbcache's usual prefix on the totals, like a status line."""
    table = format_entries(entries, location)
    return f"nbcache: {totals_text(entries, limit)}\n{table}" if entries else table


def entries_json(entries: Sequence[Any], location: str, limit: int | None) -> str:
    """The store's entries as the store records them, plus totals."""
    rows = [dataclasses.asdict(e) for e in entries]
    totals = dataclasses.asdict(Totals.of(entries, limit))
    return json.dumps({"store": location, "entries": rows, "totals": totals}, indent=2, default=str)


def _cells(entry: Any) -> list[str]:
    return [entry.cell[:60], entry.key[:12], when(entry.created), when(entry.last_used), str(entry.hits),
            human_time(entry.compute_s), human_time(entry.saved_s), human_size(entry.size)]


_HEADER = ["cell", "key", "created", "last used", "hits", "compute", "saved", "size"]


def entries_html(entries: Sequence[Any], location: str, limit: int | None) -> str:
    head = "".join(f"<th>{h}</th>" for h in _HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td><code>{html.escape(c)}</code></td>" if i < 2 else f"<td>{html.escape(c)}</td>"
                         for i, c in enumerate(_cells(e))) + "</tr>"
        for e in entries
    )
    t = Totals.of(entries, limit)
    of_limit = f" of {human_size(limit)}" if limit else ""
    foot = (f"{plural(t.entries, 'entry', 'entries')}, {human_size(t.size)}{of_limit}, "
            f"{human_time(t.saved_s)} saved in all; store: {html.escape(location)}")
    return (f"<table class='nbcache-info'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p class='nbcache-info-totals'>{foot}</p>")
