"""nbcache's warnings show as one line: the message, which starts with "nbcache:", without the nbcache source file
and line that raised it (Python's format adds both, two lines of nbcache internals under the user's cell)."""

from __future__ import annotations

import warnings
from typing import Any

from nbcache.errors import CacheWarning

_previous: list[Any] = []


def _format(message: Any, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
    if issubclass(category, CacheWarning):
        return f"{message}\n"
    return _previous[-1](message, category, filename, lineno, line)


def install() -> None:
    if warnings.formatwarning is not _format:
        _previous.append(warnings.formatwarning)
        warnings.formatwarning = _format


def uninstall() -> None:
    """Put back the format found at install, unless someone replaced ours since (theirs stays)."""
    if warnings.formatwarning is _format and _previous:
        warnings.formatwarning = _previous.pop()
