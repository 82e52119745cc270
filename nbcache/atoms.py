"""The atoms: values nobody can change, nor tell apart from an equal copy but by ``id()``.

Exact types only (a subclass may carry state of its own). Several places rely on them: no reference into the
namespace ever names one (``cell.aliases``), a payload of atoms alone serves every hit as the same objects
(``cell.payload``), an atom is hashed without a walk (``keys.values``), pickled without a Python call
(``store.serialize``), and its size is all ``sys.getsizeof`` says (``ui.report``).
"""

from __future__ import annotations

ATOMS: frozenset[type] = frozenset({type(None), bool, int, float, complex, str, bytes})
