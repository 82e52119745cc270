"""Which objects an entry stores by reference instead of by value, and how a hit finds them again.

After a real run, `b = a` leaves `b is a`, `first = rows[0]` leaves `first is rows[0]`, and a function the cell
defines reads the notebook's globals. A copy restored from disk would break each of these the moment the user
mutates one side. So the serializer writes such objects as a path from an unchanged input (or the namespace) and a
hit follows the path in the namespace, where the key guarantees the same content.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from types import ModuleType
from typing import Any

from nbcache.atoms import ATOMS
from nbcache.keys.arrays import is_pandas_object, pandas_extras
from nbcache.store.serialize import array_root

# Values whose identity nobody can observe: restoring a copy of them is the same as keeping them.
ATOMIC = (*ATOMS, frozenset, tuple, range)
# Mutable builtin containers: a pickler's reducer_override never sees them.
CONTAINERS = frozenset({dict, list, set, bytearray})
NAMESPACE: tuple = ("namespace",)
# Bounds on the walk through inputs: beyond them, objects are stored by value.
_MAX_OBJECTS = 100_000
_MAX_DEPTH = 8

Step = tuple[str, Any]  # ("item", key) or ("attr", name)


class References(dict):
    """id(obj) -> reference, plus the numpy arrays among them by the object that owns their memory: a view the
    cell made of one (``head = X[:5]``) is found through the owner, which numpy gives as the view's ``base``
    (it skips intermediate views, so walking ``base`` from the view never meets ``X`` itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrays_by_owner: dict[int, list[Any]] = {}
        # The referenced dicts, lists, sets and bytearrays, by id: the C pickler asks no hook about exact builtin
        # containers, so the serializer finds these through its memo (store/serialize.py) and the rest by type.
        self.containers: dict[int, Any] = {}

    def add(self, obj: Any, ref: tuple) -> None:
        self[id(obj)] = ref
        if type(obj) in CONTAINERS:
            self.containers[id(obj)] = obj

    def note_array(self, array: Any) -> None:
        # By the array holding the memory, found as the serializer finds it when it looks a view up here.
        self.arrays_by_owner.setdefault(id(array_root(array)), []).append(array)


def _set_on_frame(obj: Any) -> frozenset[str]:
    """The attributes set on a pandas Series or DataFrame beyond pandas' own (none for anything else)."""
    return frozenset(pandas_extras(obj)) if is_pandas_object(type(obj)) else frozenset()


def _children(obj: Any) -> Iterator[tuple[Step, Any]]:
    """What the input's content hash covers: items of containers, attributes of plain instances. Not modules,
    classes or functions: they are hashed by name or code, so what hangs off them may differ on a hit."""
    if isinstance(obj, (list, tuple)):
        yield from ((("item", i), child) for i, child in enumerate(obj))
    elif isinstance(obj, dict):
        yield from ((("item", k), v) for k, v in obj.items() if isinstance(k, (str, int)) and not isinstance(k, bool))
    elif isinstance(obj, (type, ModuleType)) or callable(obj):
        return
    elif isinstance(getattr(obj, "__dict__", None), dict):
        # Not lazily filled caches (a pandas Index's `_cache`): what they hold now may be missing on a hit. Nor
        # what was set on a pandas frame (``df.design_info``): one pickle cannot write is missing after a hit.
        skip = _set_on_frame(obj)
        yield from ((("attr", k), v) for k, v in vars(obj).items()
                    if isinstance(k, str) and not k.endswith("_cache") and k not in skip)


def input_references(inputs: dict[str, Any], namespace: dict[str, Any]) -> References:
    """id(obj) -> reference for the namespace and every non-atomic object reachable inside unchanged inputs."""
    refs = References()
    refs.add(namespace, NAMESPACE)
    queue: deque[tuple[Any, str, tuple[Step, ...]]] = deque(
        (value, name, ()) for name, value in sorted(inputs.items()))
    examined = 0  # every object looked at counts, so a list of ten million ints costs no more than the bound
    while queue:
        obj, name, path = queue.popleft()
        if not isinstance(obj, ATOMIC):
            if id(obj) in refs:
                continue
            refs.add(obj, ("input", name, path))
            if type(obj).__name__ == "ndarray" and type(obj).__module__ == "numpy":
                refs.note_array(obj)
        if len(path) >= _MAX_DEPTH:
            continue
        for step, child in islice(_children(obj), max(0, _MAX_OBJECTS - examined)):
            examined += 1
            if isinstance(child, tuple) or not isinstance(child, ATOMIC):
                queue.append((child, name, (*path, step)))
    return refs


def resolve(ref: tuple, namespace: dict[str, Any]) -> Any:
    """The object a reference names in the namespace; KeyError/AttributeError/IndexError if it is not there."""
    if ref == NAMESPACE:
        return namespace
    _, name, path = ref
    obj = namespace[name]
    for kind, key in path:
        obj = obj[key] if kind == "item" else getattr(obj, key)
    return obj

