"""``functools.cached_property`` values a cell fills on an input (networkx's ``G.nodes``, ``G.adj``, ``G.edges``).

The first read stores the value in the object's ``__dict__``: by content the input changed. Where the object holds
a view of itself (``G.edges`` refers to ``G``), its restored copy could not stand in for it, so every later cell
that read a new view of the graph ran each time (networkx's gallery: 14 of 150 cells never hit). Now a change that
is only such a fill is replayed on the live object by reading the same properties.
"""

from __future__ import annotations

import functools
from pathlib import Path

from nbcache.cell import fills
from tests.scenarios.restarts import Step, differential
from tests.support import Shell

GRAPH = '''
import functools

class EdgeView:
    """Like networkx's: a view that refers back to its graph."""
    def __init__(self, graph):
        self._graph = graph
    def __iter__(self):
        return iter(sorted((a, b) for a, ends in self._graph._adj.items() for b in ends))

class Graph:
    def __init__(self):
        self._adj = {}
    def add(self, a, b):
        self._adj.setdefault(a, set()).add(b)
        self._adj.setdefault(b, set())
    @functools.cached_property
    def edges(self):
        return EdgeView(self)
    @functools.cached_property
    def nodes(self):
        return sorted(self._adj)
'''


def test_a_cell_that_only_fills_cached_properties_hits_after_a_restart(tmp_path: Path) -> None:
    steps: list[Step] = [
        (GRAPH, False),
        ("g = Graph()\ng.add(1, 2)\ng.add(2, 3)", True),
        ("n_edges = len(list(g.edges))", True),  # fills `edges`: a view holding g
        ("first = g.nodes[0]", True),  # fills `nodes`; g is held by its own view: refused before
        ("print(n_edges, first, sorted(vars(g)), list(g.edges), g.edges._graph is g, g.nodes)", False),
        ("g.add(3, 4)\nprint(list(g.edges), g.nodes)", False),  # the graph is still one object with its views
    ]
    plain = differential(steps, tmp_path)
    assert plain[4]["stdout"] == "2 1 ['_adj', 'edges', 'nodes'] [(1, 2), (2, 3)] True [1, 2, 3]\n"


def test_a_cell_that_also_changes_the_object_still_refuses_a_copy_that_cannot_stand_in(shell: Shell) -> None:
    shell.run(GRAPH + "\ng = Graph()\ng.add(1, 2)\nview = g.edges")  # a view of g held by a name
    shell.cached("g.add(5, 6)\nfirst = g.nodes[0]")
    shell.run("g.__dict__.pop('nodes')\ng._adj.pop(5)\ng._adj.pop(6)")  # back to the state the cell was keyed on
    _, out = shell.cached("g.add(5, 6)\nfirst = g.nodes[0]")
    assert shell.runs == 2 and "also referenced from inside another object" in out.stderr
    assert list(shell.ns["view"]) == [(1, 2), (5, 6)]


class _Lazy:
    def __init__(self) -> None:
        self.data = [3, 1, 2]

    @functools.cached_property
    def ordered(self) -> list[int]:
        return sorted(self.data)

    @functools.cached_property
    def total(self) -> int:
        return sum(self.data)


def _unchanged_as(expected: dict) -> object:
    return lambda value: vars(value) == expected


def test_a_fill_is_told_from_a_change() -> None:
    lazy = _Lazy()
    before = fills.present({"lazy": lazy, "n": 3})
    assert before == {"lazy": frozenset()}  # `n`'s class has no cached property
    lazy.total  # noqa: B018
    lazy.ordered  # noqa: B018
    assert fills.fill_only(lazy, before["lazy"], _unchanged_as({"data": [3, 1, 2]})) == ("ordered", "total")
    assert list(vars(lazy)) == ["data", "total", "ordered"]  # put back in their order


def test_a_fill_with_another_change_is_a_change_and_the_object_is_left_as_it_was() -> None:
    lazy = _Lazy()
    lazy.total  # noqa: B018
    lazy.data.append(4)
    lazy.extra = 1  # type: ignore[attr-defined]
    assert fills.fill_only(lazy, frozenset(), _unchanged_as({"data": [3, 1, 2]})) == ()
    assert vars(lazy) == {"data": [3, 1, 2, 4], "total": 6, "extra": 1} and list(vars(lazy))[1] == "total"


def test_a_property_filled_before_the_run_is_not_the_run_s_fill() -> None:
    lazy = _Lazy()
    lazy.total  # noqa: B018
    before = fills.present({"lazy": lazy})["lazy"]
    assert before == {"total"}
    assert fills.fill_only(lazy, before, _unchanged_as({"data": [3, 1, 2]})) == ()


def test_refill_reads_the_properties_on_the_live_object() -> None:
    lazy = _Lazy()
    fills.refill(lazy, ("ordered",))
    assert vars(lazy) == {"data": [3, 1, 2], "ordered": [1, 2, 3]}


def test_a_class_restored_by_value_has_free_locks() -> None:
    """dill rebuilt each lock nobody held as held by thread 0, and a `functools.cached_property` of a notebook
    class restored by value (its class changed since: the copy is used) holds an RLock on Python 3.11: the first
    read of the property then waited forever."""
    import threading

    from nbcache.store import serialize

    namespace: dict = {}
    exec("import functools\nclass Lazy:\n    @functools.cached_property\n    def x(self):\n        return 7",
         namespace)
    cls = namespace["Lazy"]
    cls.__module__, cls.__qualname__ = "__main__", "LazyNotInMain"  # a notebook class __main__ no longer names
    saved = serialize.dumps({"outputs": {"obj": cls(), "lock": threading.RLock()}})
    back = serialize.loads(saved.data, saved.buffers)["outputs"]
    assert type(back["obj"]) is not cls  # the copy
    read: list[int] = []
    reader = threading.Thread(target=lambda: read.append(back["obj"].x), daemon=True)
    reader.start()
    reader.join(10)
    assert read == [7] and back["lock"].acquire(blocking=False)


def test_an_output_holding_a_filled_value_or_the_object_is_not_split_from_the_live_object(tmp_path: Path) -> None:
    """`e = g.nodes` fills `nodes` and binds its value: keeping the live `g` and filling it again would split them
    (`e is g.nodes` False); an output holding the graph would hold the restored copy. Such cells run each time."""
    for cell, probe in (("e = g.nodes", "e is g.nodes"), ("box = [g]\nfirst = g.nodes[0]", "box[0] is g")):
        steps: list[Step] = [
            (GRAPH, False),
            ("g = Graph()\ng.add(1, 2)", True),
            ("n = len(list(g.edges))", True),  # g now holds a view of itself
            (cell, True),
            (f"print({probe}, g.edges._graph is g)", False),
        ]
        folder = tmp_path / cell[:3]
        folder.mkdir()
        plain = differential(steps, folder, runs=4)  # 3 cold, then the third cached cell again
        assert plain[4]["stdout"] == "True True\n"


def test_the_walk_finds_the_copy_or_its_values_through_what_outputs_hold() -> None:
    class Obj:
        pass

    copy = Obj()
    copy.nodes = [1]  # type: ignore[attr-defined]
    assert fills.held_elsewhere(copy, (), {"g": copy, "w": {"k": [copy]}}, "g")
    assert fills.held_elsewhere(copy, ("nodes",), {"g": copy, "e": copy.nodes}, "g")  # type: ignore[attr-defined]
    assert not fills.held_elsewhere(copy, ("nodes",), {"g": copy, "w": {"k": [1, 2]}, "alias": copy}, "g")
    other = Obj()  # its class, and that class's module, are not walked: the notebook's globals are not outputs
    assert not fills.held_elsewhere(copy, ("nodes",), {"g": copy, "other": other, "f": _unchanged_as}, "g")
    kept = [copy]
    assert fills.held_elsewhere(copy, (), {"g": copy, "f": lambda: kept}, "g")  # through a closure
