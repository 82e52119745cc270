"""Exceptions and warnings, factored out so every module can import them without import loops.

The tree::

    NbcacheError                 anything nbcache raises on purpose
    ├── UnhashableValue          a value whose content cannot be hashed
    ├── UnhashableInput          ... and the cell input holding it: the cell runs uncached
    ├── SerializationError       an output that cannot be stored: the cell's results stay, not stored
    └── StoreError               the store could not be written (full disk, read-only folder)
        └── EntryDamaged         an entry that cannot be trusted or read: a miss with one warning
            ├── BlobDamaged      a blob missing, of the wrong size, or not matching its hash
            └── ForeignEntry     signed with another key: maybe a teammate's, never ours to delete

    CacheWarning (UserWarning)   a partial failure: the cell ran and its results are in the namespace
"""

from __future__ import annotations


class CacheWarning(UserWarning):
    """A partial failure: the cell ran and its results are in the namespace, but caching did not happen."""


class NbcacheError(Exception):
    """The base of every exception nbcache raises on purpose."""


class UnhashableValue(NbcacheError):
    """A value whose content cannot be hashed (a generator, an open file, a lock...)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class UnhashableInput(NbcacheError):
    """An input of the cell whose content cannot be hashed; the cell runs uncached."""

    def __init__(self, name: str, description: str) -> None:
        super().__init__(f"{name}: {description}")
        self.name = name
        self.description = description


class SerializationError(NbcacheError):
    """An output could not be serialized; ``name`` says which one when it can be told."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class StoreError(NbcacheError):
    """The store could not be written (full disk, read-only folder, ...)."""


class EntryDamaged(StoreError):
    """An entry that cannot be trusted or read; turned into one warning and a miss."""


class BlobDamaged(EntryDamaged):
    """A blob that is missing, of the wrong size, or whose content does not match its hash."""


class ForeignEntry(EntryDamaged):
    """An entry signed with another key: tampered with, or a teammate's; never deleted for it."""
