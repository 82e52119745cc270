"""The process-wide random generators (Python's, numpy's legacy one, torch's default) as named things.

Values reach them through library defaults: ``scipy.stats.norm`` draws from numpy's, so a function defaulting to
``dist=stats.norm`` holds it. By state, such a value hashed differently in every process and after every draw
anywhere, and a hit that gave it back gave a private copy of the generator, which ``np.random.seed`` no longer
reached (a later draw repeated the old seed's numbers). So a hash names them, a save writes a reference, and a
restore finds the live one. A cell that draws from one, by whatever path, is keyed on its state by the randomness
check instead (``analysis.determinism``).
"""

from __future__ import annotations

import sys
from typing import Any

# Generator classes, by module and qualified name as ``type()`` gives them.
CLASSES = frozenset({"random.Random", "numpy.random.mtrand.RandomState", "torch._C.Generator"})

_ABSENT = object()  # what an unloaded library's generator is: never a value (None is one)

# name -> (module, attribute) that holds the process-wide generator.
_WHERE = {"random": ("random", "_inst"), "numpy": ("numpy.random.mtrand", "_rand"),
          "torch": ("torch", "default_generator")}


def global_name(obj: Any) -> str | None:
    """Which process-wide generator ``obj`` is; None if it is none of them (or its library is not loaded)."""
    for name, (module, attribute) in _WHERE.items():
        if obj is getattr(sys.modules.get(module), attribute, _ABSENT):
            return name
    return None


def live(name: str) -> Any:
    """The process-wide generator ``name`` of this process (a restore's reference to it)."""
    module, attribute = _WHERE[name]
    __import__(module)
    return getattr(sys.modules[module], attribute)
