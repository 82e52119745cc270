# The optional C accelerator built from _strhash.c (see its header comment and hatch_build.py).
from typing import Any

def join(objects: Any, start: int, stop: int, held: list[Any] | None = ..., seen: Any = ..., release: bool = ...,
         addresses: Any = ...) -> tuple[bytes, bytes | None] | None: ...
