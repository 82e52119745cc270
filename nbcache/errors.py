"""Exceptions and warnings, factored out so every module can import them without import loops."""

from __future__ import annotations


class CacheWarning(UserWarning):
    """A partial failure: the cell ran and its results are in the namespace, but caching did not happen."""


class UnhashableValue(Exception):
    """A value whose content cannot be hashed (a generator, an open file, a lock...)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class SerializationError(Exception):
    """An output could not be serialized; ``name`` says which one when it can be told."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class StoreError(Exception):
    """The store could not be written (full disk, read-only folder, ...)."""


class UnhashableInput(Exception):
    """An input of the cell whose content cannot be hashed; the cell runs uncached."""

    def __init__(self, name: str, description: str) -> None:
        super().__init__(f"{name}: {description}")
        self.name = name
        self.description = description
