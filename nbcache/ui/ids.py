"""Unique ids for the panel's display and widget model, without a system call each.

``uuid.uuid4()`` reads the OS's random source for every id; in a kernel that system call releases the interpreter
lock, and the kernel's I/O thread, woken by the cell's messages, may take it for a while. Ids here are a random
prefix drawn once per process (again in a forked child) and a counter: 32 hex digits like a uuid4's, unique
within the process and, by the prefix, across processes.
"""

from __future__ import annotations

import itertools
import os
import uuid


class _Ids:
    def __init__(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count(1)


_ids = _Ids()


def _forked() -> None:
    global _ids  # a forked child must not repeat its parent's ids
    _ids = _Ids()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def new_id() -> str:
    """32 hex digits, never the same twice in this process."""
    return f"{_ids.prefix}{next(_ids.counter):016x}"
