"""A dict that is its own attribute namespace (``self.__dict__ = self``: statsmodels' ``Dataset``, the AttrDict
recipe) is restored as one, and hashes after a restore as the original did. Before, the restored object kept
attributes and keys apart, and every cell reading it missed after a hit."""

from __future__ import annotations

from pathlib import Path

from nbcache.keys.values import hash_value
from nbcache.store import serialize
from tests.scenarios.restarts import Step, differential

_CLASS = ("class AttrDict(dict):\n    def __init__(self, **kw):\n        super().__init__(**kw)\n"
          "        self.__dict__ = self")


def test_an_attrdict_is_restored_as_its_own_namespace_and_the_cell_reading_it_hits(tmp_path: Path) -> None:
    steps: list[Step] = [
        (_CLASS, False),
        ("data = AttrDict(endog=[1, 2, 3], names=('a', 'b'))\ndata.exog = [4, 5, 6]", True),
        ("print(sum(data.endog) + sum(data['exog']), sorted(data))", True),  # hits after the restore above
        ("data.weights = [1, 1, 1]\nprint('weights' in data, data.__dict__ is data)", False),
    ]
    plain = differential(steps, tmp_path)
    assert plain[3]["stdout"] == "True True\n"


class Plain(dict):
    """A dict subclass whose attributes are its own, apart from its items."""


class Recipe(dict):
    """Its own namespace, with a pickling recipe of its own, which is kept."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.__dict__ = self

    def __reduce__(self) -> tuple:
        return (dict, (dict(self),))


def test_the_reduction_leaves_ordinary_dicts_and_own_recipes_alone() -> None:
    plain = Plain(a=1)
    plain.note = "kept apart"
    for value, expected in ((plain, Plain), (Recipe(a=1), dict)):
        saved = serialize.dumps({"outputs": {"v": value}})
        back = serialize.loads(saved.data, saved.buffers)["outputs"]["v"]
        assert type(back) is expected and dict(back) == {"a": 1}
        assert getattr(back, "__dict__", None) is not back
    assert hash_value(plain) != hash_value(Plain(a=1))
