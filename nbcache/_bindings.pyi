# The optional C accelerator built from _bindings.c (see its header comment and hatch_build.py).
from typing import Any

class Recorder(dict[str, Any]):
    namespace: dict[str, Any]
    bound: set[str]
    deleted: set[str]
    def __init__(self, namespace: dict[str, Any]) -> None: ...
