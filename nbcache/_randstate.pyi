# The optional C accelerator built from _randstate.c (see its header comment and hatch_build.py).
from typing import Any

def words(generator: Any) -> bytes | None: ...
