"""Write a mutated input's restored content into the live object, as the real run wrote into it.

After ``x2_sub[0, 0] = 99`` the base array ``x2`` changed too; after ``log.append(1)`` every list, closure or
object holding ``log`` sees it. Rebinding the name to a restored copy would change neither, so a hit copies the
restored content into the object the name holds (whose content before the run the key guarantees). Only types
whose whole state can be written this way qualify; for any other the caller falls back to rebinding.
"""

from __future__ import annotations

import types
from typing import Any


def _array(live: Any, restored: Any, dry_run: bool) -> bool:
    import numpy as np

    if type(restored) is not type(live) or live.shape != restored.shape or live.dtype != restored.dtype:
        return False
    if not live.flags.writeable or live.dtype.hasobject:
        return False
    if not dry_run:
        np.copyto(live, restored)
    return True


def _container(live: Any, restored: Any, dry_run: bool) -> bool:
    if type(restored) is not type(live):
        return False
    if not dry_run:
        if isinstance(live, (list, bytearray)):
            live[:] = restored
        else:  # dict, set
            live.clear()
            live.update(restored)
    return True


def _function(live: types.FunctionType, restored: Any, dry_run: bool) -> bool:
    """A closure's captured objects changed (the function itself is the same code): update each cell."""
    if type(restored) is not types.FunctionType or live.__code__.co_code != restored.__code__.co_code:
        return False
    cells = list(zip(live.__closure__ or (), restored.__closure__ or (), strict=False))
    if len(cells) != len(live.__closure__ or ()) or len(cells) != len(restored.__closure__ or ()):
        return False
    if dry_run:
        return True
    for live_cell, restored_cell in cells:
        try:
            new = restored_cell.cell_contents
        except ValueError:  # an empty cell
            continue
        try:
            old = live_cell.cell_contents
        except ValueError:
            old = None
        if old is new or not update_in_place(old, new):
            live_cell.cell_contents = new
    live.__defaults__, live.__kwdefaults__ = restored.__defaults__, restored.__kwdefaults__
    live.__dict__.clear()
    live.__dict__.update(restored.__dict__)
    return True


def _random_generator(live: Any, restored: Any, dry_run: bool) -> bool:
    """A numpy Generator's whole state is its bit generator's state (a seeded ``rng`` the cell drew from)."""
    if type(restored) is not type(live) or type(restored.bit_generator) is not type(live.bit_generator):
        return False
    if not dry_run:
        live.bit_generator.state = restored.bit_generator.state
    return True


def update_in_place(live: Any, restored: Any, dry_run: bool = False) -> bool:
    """Make ``live`` hold what ``restored`` holds, keeping its identity; False (nothing done) if it cannot."""
    if live is restored:
        return True
    if type(live).__module__ == "numpy" and type(live).__name__ == "ndarray":
        return _array(live, restored, dry_run)
    if type(live).__module__ == "numpy.random._generator" and type(live).__name__ == "Generator":
        return _random_generator(live, restored, dry_run)
    if type(live) in (list, dict, set, bytearray):
        return _container(live, restored, dry_run)
    if type(live) is types.FunctionType:
        return _function(live, restored, dry_run)
    return False
