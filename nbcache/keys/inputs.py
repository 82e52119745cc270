"""What a key is made of, by kind: a variable, a file, a folder's listing, a module's code, a library setting.

Each key input is a ``KeyInput``; its ``label`` (``file:data.csv``, ``module:helpers``, or a variable's own name)
is what an entry's manifest records, and ``KeyInput.parse`` is the one place that reads a label back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class InputKind(Enum):
    VARIABLE = "input"
    FILE = "file"
    FOLDER = "folder"
    MODULE = "module"
    SETTING = "setting"


@dataclass(frozen=True)
class KeyInput:
    kind: InputKind
    name: str

    @property
    def label(self) -> str:
        return self.name if self.kind is InputKind.VARIABLE else f"{self.kind.value}:{self.name}"

    @classmethod
    def parse(cls, label: str) -> KeyInput:
        prefix, sep, rest = label.partition(":")
        kinds = {k.value: k for k in InputKind if k is not InputKind.VARIABLE}
        if sep and rest and prefix in kinds:
            return cls(kinds[prefix], rest)
        return cls(InputKind.VARIABLE, label)


def file_input(path: str) -> str:
    return KeyInput(InputKind.FILE, path).label


def folder_input(path: str) -> str:
    return KeyInput(InputKind.FOLDER, path).label


def module_input(name: str) -> str:
    return KeyInput(InputKind.MODULE, name).label


def setting_input(name: str) -> str:
    return KeyInput(InputKind.SETTING, name).label
