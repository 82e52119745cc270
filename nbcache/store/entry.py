"""What the store knows of an entry besides its payload: the metadata its manifest holds, and its listing.

The metadata is JSON in the signed manifest, written by the cell that ran (``cell/run.py``) and read by the hit path,
the miss reasons, the panel and the listings. Entries written by older releases hold fewer fields (those of format 1
only ``cell``, ``cell_ident``, ``outputs`` and ``compute_s``), and a newer release may add some:
``EntryMeta.from_json`` gives a missing field its default and ignores one it does not know, so both still load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


# Cheap checks, since every listed entry is read through them: the metadata is signed, so a field of another type
# comes only from a release that wrote it otherwise, and a default is the safe reading of it. (JSON object keys are
# always text; the values of a table are only ever compared, so one of another type is a mismatch, not an error.)
def _text(value: Any) -> str:
    return value if type(value) is str else ""


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value) if type(value) is list else ()


def _table(value: Any) -> dict[str, str]:
    return value if type(value) is dict else {}


def _seconds(value: Any) -> float:
    if type(value) is not float and type(value) is not int:
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


@dataclass(frozen=True)
class EntryMeta:
    """What the run that stored an entry recorded about it (the manifest's ``meta``)."""

    cell: str = ""  # the cell's first non-blank line, for listings
    cell_ident: str = ""  # the frontend's cell id, else "src:<digest>": which entries belong to one cell
    source: str = ""  # digest of the normalised source, so a miss can say "source changed"
    inputs: Mapping[str, str] = field(default_factory=dict)  # what the key hashed: name -> digest
    outputs: Mapping[str, str] = field(default_factory=dict)  # names the run bound -> their type's name
    deletions: tuple[str, ...] = ()  # names the run deleted: a hit deletes them too
    mutated: tuple[str, ...] = ()  # inputs the run changed in place
    compute_s: float = 0.0  # how long the run took
    reason: str = ""  # why it ran (the miss reason)
    nondeterministic: str | None = None  # why its result is frozen, if the cell is non-deterministic
    random_state: Mapping[str, str] = field(default_factory=dict)  # generators it drew from -> their state's digest

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``meta`` object, in the field order releases before this record wrote."""
        return {"cell": self.cell, "cell_ident": self.cell_ident, "source": self.source, "inputs": dict(self.inputs),
                "outputs": dict(self.outputs), "deletions": list(self.deletions), "mutated": list(self.mutated),
                "compute_s": self.compute_s, "reason": self.reason, "nondeterministic": self.nondeterministic,
                "random_state": dict(self.random_state)}

    @classmethod
    def from_json(cls, data: Any) -> EntryMeta:
        """The record of a manifest's ``meta`` of any release: missing or malformed fields get their defaults."""
        if type(data) is not dict:
            return cls()
        get = data.get
        # Filled in directly rather than through the frozen __init__ (one object.__setattr__ a field): every listed
        # entry comes through here, and this halves its cost. The fields are exactly the dataclass's.
        meta = object.__new__(cls)
        meta.__dict__.update(
            cell=_text(get("cell")), cell_ident=_text(get("cell_ident")), source=_text(get("source")),
            inputs=_table(get("inputs")), outputs=_table(get("outputs")), deletions=_names(get("deletions")),
            mutated=_names(get("mutated")), compute_s=_seconds(get("compute_s")), reason=_text(get("reason")),
            nondeterministic=_text(get("nondeterministic")) or None, random_state=_table(get("random_state")),
        )
        return meta


@dataclass(frozen=True)
class EntryInfo:
    """An entry as listings show it: its manifest's facts and metadata, and this machine's usage counters.

    Its fields, in this order, are the rows of ``%cache_info --json`` and ``nbcache ls --json``."""

    key: str
    cell: str  # as meta.cell, and the following: the listing's columns
    cell_id: str | None  # never written by any release (cell_ident holds the frontend's id); kept in the JSON rows
    created: float
    last_used: float
    hits: int
    size: int
    compute_s: float
    saved_s: float
    outputs: tuple[str, ...]
    meta: EntryMeta = field(default_factory=EntryMeta)
    blobs: tuple[tuple[str, int], ...] = ()
