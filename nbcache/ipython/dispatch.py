"""A ``%%cache`` cell reaches the magic without IPython's single-line prefilter, which cannot change it.

IPython turns a cell magic into one line, ``get_ipython().run_cell_magic('cache', line, body)``, and passes every
one-line cell through its prefilter (automagic, autocall, macros: ``InteractiveShell.transform_cell``), whose
handlers leave that call as it is when autocall is off and no other checker or transformer was installed; it
cost each ``%%cache`` cell about 0.05 ms (a trivial hit about 0.25 ms in all). A line transform placed right after
IPython's ``cell_magic`` ends that one line with an empty one, so IPython sees two lines and skips the
prefilter: the code compiled is the same (``ast.parse`` ignores the empty line). Any other setup keeps
IPython's path.
"""

from __future__ import annotations

from typing import Any

from IPython.core import inputtransformer2 as it
from IPython.core import prefilter

_CALL = "get_ipython().run_cell_magic('cache', "
# The checkers IPython installs; with autocall off each leaves a ``get_ipython()...`` call unchanged.
_DEFAULT_CHECKERS = frozenset(prefilter._default_checkers)


def _prefilter_changes_nothing(shell: Any) -> bool:
    manager = getattr(shell, "prefilter_manager", None)
    return (type(manager) is prefilter.PrefilterManager and not getattr(shell, "autocall", 1)
            and not manager.transformers and {type(c) for c in manager.checkers} <= _DEFAULT_CHECKERS)


class _EndWithEmptyLine:
    """The line transform: a ``%%cache`` call made by ``cell_magic`` gets an empty line after it."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __call__(self, lines: list[str]) -> list[str]:
        if len(lines) == 1 and lines[0].startswith(_CALL) and _prefilter_changes_nothing(self.shell):
            return [lines[0], "\n"]
        return lines


def install(shell: Any) -> None:
    """Add the transform after IPython's ``cell_magic`` (nothing if that one is not there)."""
    transforms = getattr(getattr(shell, "input_transformer_manager", None), "line_transforms", None)
    if not isinstance(transforms, list) or it.cell_magic not in transforms:
        return
    if not any(isinstance(t, _EndWithEmptyLine) for t in transforms):
        transforms.insert(transforms.index(it.cell_magic) + 1, _EndWithEmptyLine(shell))


def uninstall(shell: Any) -> None:
    transforms = getattr(getattr(shell, "input_transformer_manager", None), "line_transforms", None)
    if isinstance(transforms, list):
        transforms[:] = [t for t in transforms if not isinstance(t, _EndWithEmptyLine)]
