"""What the magics, the command line and the widgets ask of a store: the local ``Store`` and the tiered remote
store (``remote.TieredStore``, a local store in front of a backend) both answer it, neither subclassing the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from nbcache.store.entry import EntryInfo, EntryMeta
from nbcache.store.locks import KeyLock


class EntryStore(Protocol):
    size_limit: int | None

    def save(self, key: str, payload: dict[str, Any], meta: EntryMeta, refs: dict[int, Any] | None = None,
             reason: Callable[[], str] | None = None) -> int:
        """``reason``: asked once for ``meta.reason`` (a miss's reason), as the entry is written."""
        ...

    def load(self, key: str, resolve: Callable[[Any], Any] | None = None,
             share: Callable[[Any], Any] | None = None) -> tuple[Any, EntryInfo] | None:
        """The entry's payload and info, None if absent or damaged. ``share``: given a payload as loaded, what may
        be handed out for it again, the very same object each time, while the verified bytes it came from are
        unchanged (None: nothing; the payload is loaded anew each time)."""
        ...

    def lock(self, key: str) -> KeyLock: ...

    def record_hit(self, key: str, saved_s: float, hits: int = 1, last_used: float | None = None) -> None: ...

    def entries(self) -> list[EntryInfo]: ...

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None: ...

    def usage(self, entries: Iterable[EntryInfo] | None = None) -> int: ...

    def select(self, older_than_s: float | None = None, larger_than: int | None = None) -> list[EntryInfo]: ...

    def remove_keys(self, keys: Iterable[str], grace: float = 0.0) -> int: ...

    def remove(self, key_prefix: str) -> int: ...

    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = 0.0) -> int: ...

    def clear(self) -> int: ...

    def verify(self) -> list[str]: ...
