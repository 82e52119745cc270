"""A hit must equal a real run, also after a restart: notebook classes, views, closures, aliases, outputs.

Each test runs the same cells plain, then with ``%%cache`` cold and warm in new processes (see ``restarts``), and
compares what the user sees; probe cells print the facts a wrong restore would break.
"""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.restarts import differential

# ---- item 6: notebook classes


def test_an_instance_of_an_unchanged_notebook_class_is_an_instance_of_the_live_class(tmp_path: Path) -> None:
    steps = [
        ("from dataclasses import dataclass, replace\n"
         "@dataclass(frozen=True)\nclass Point:\n    x: int\n    y: int\n"
         "def origin():\n    return Point(0, 0)", False),
        ("p = Point(1, 2)\nps = [Point(3, 4)]", True),
        ("o = origin()", True),
        ("print(isinstance(p, Point), type(p) is Point, p == Point(1, 2), replace(p, x=5) == Point(5, 2),"
         " isinstance(ps[0], Point), o == Point(0, 0))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "True True True True True True\n"


def test_a_changed_notebook_class_does_not_capture_a_restored_instance(tmp_path: Path) -> None:
    # The cell reads Point, so changing it is a miss: the restored instance belongs to the class that made it.
    steps = [
        ("class Point:\n    def __init__(self, x):\n        self.x = x", False),
        ("p = Point(1)", True),
        ("class Point:\n    def __init__(self, x):\n        self.x = x * 10", False),
        ("print(p.x, isinstance(p, Point))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "1 False\n"


def test_an_exception_hierarchy_defined_in_a_cached_cell_still_catches_after_a_restart(tmp_path: Path) -> None:
    steps = [
        ("class DataError(Exception):\n    pass\n"
         "class MissingColumn(DataError):\n    pass\n"
         "def check(cols):\n    if 'y' not in cols:\n        raise MissingColumn('y')", True),
        ("try:\n    check(['x'])\nexcept DataError as exc:\n    print('caught', type(exc).__name__)\n"
         "print(issubclass(MissingColumn, DataError), MissingColumn.__mro__[1] is DataError)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "caught MissingColumn\nTrue True\n"


def test_abc_enum_and_lru_cache_defined_in_a_cached_cell_work_after_a_restart(tmp_path: Path) -> None:
    steps = [
        ("import abc, enum, functools\n"
         "class Shape(abc.ABC):\n    @abc.abstractmethod\n    def area(self): ...\n"
         "class Square(Shape):\n    def __init__(self, s):\n        self.s = s\n    def area(self):\n"
         "        return self.s ** 2\n"
         "class Color(enum.Enum):\n    RED = 1\n    GREEN = 2\n"
         "favourite = Color.GREEN\n"
         "@functools.lru_cache(maxsize=None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
         "shapes = [Square(2)]", True),
        ("print(isinstance(shapes[0], Shape), shapes[0].area(), list(Color), favourite is Color.GREEN,"
         " Color(2) is favourite, fib(30), type(fib).__name__)\n"
         "try:\n    Shape()\nexcept TypeError:\n    print('abstract')", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"].startswith("True 4 [<Color.RED: 1>, <Color.GREEN: 2>] True True 832040")
    assert observed[-1]["stdout"].endswith("abstract\n")


def test_an_enum_of_an_earlier_cell_is_restored_as_its_live_member(tmp_path: Path) -> None:
    steps = [
        ("import enum\nclass Mode(enum.Enum):\n    FAST = 'fast'\n    SLOW = 'slow'", False),
        ("modes = {'a': Mode.FAST, 'b': Mode.SLOW}", True),
        ("print(modes['a'] is Mode.FAST, modes['b'] == Mode.SLOW)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "True True\n"


# ---- item 7: writes through views, closures and aliases


def test_a_write_through_a_view_of_an_input_changes_the_base_after_a_hit(tmp_path: Path) -> None:
    steps = [
        ("import numpy as np\nx2 = np.arange(16.0).reshape(4, 4)\nx2_sub = x2[:2, :2]", False),
        ("x2_sub[0, 0] = 99", True),
        ("print(x2[0, 0], x2_sub[0, 0], np.shares_memory(x2, x2_sub))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "99.0 99.0 True\n"


def test_a_closure_whose_captured_list_the_cell_appends_to(tmp_path: Path) -> None:
    steps = [
        ("def make():\n    seen = []\n    def add(v):\n        seen.append(v)\n        return list(seen)\n"
         "    return add, seen\nadd, log = make()", False),
        ("log.append('cell')\nlast = add(1)", True),
        ("print(log, last, add(2))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "['cell', 1, 2] ['cell', 1] ['cell', 1, 2]\n"  # log is printed after add(2)


def test_an_input_mutated_then_rebound_while_another_name_holds_it(tmp_path: Path) -> None:
    steps = [
        ("data = [1, 2]\nkeep = data", False),
        ("data.append(3)\ndata = [0]", True),
        ("print(keep, data, keep is data)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "[1, 2, 3] [0] False\n"


def test_a_view_of_a_restored_array_is_still_a_view(tmp_path: Path) -> None:
    steps = [
        ("import numpy as np", False),
        ("X = np.arange(10.0)", True),
        ("X_head = X[:5]", True),
        ("X -= 1\nprint(X_head[0], np.shares_memory(X, X_head))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "-1.0 True\n"


def test_views_of_one_hidden_array_inside_an_output_still_share_it_after_a_restart(tmp_path: Path) -> None:
    """scikit-learn's load_digits: the Bunch's data and images are views of one array that nothing else names,
    and ``X = digits.images.reshape(n, -1)`` is a view of it too."""
    steps = [
        ("import numpy as np", False),
        ("raw = np.arange(24.0).reshape(4, 6)\n"
         "d = {'data': raw[:, :-2], 'images': raw[:, :-2].reshape(4, 2, 2)}\ndel raw", True),
        ("X = d['images'].reshape(4, -1)", True),
        ("d['data'][0, 0] = 99\nprint(d['images'][0, 0, 0], X[0, 0], np.shares_memory(d['data'], d['images']),"
         " np.shares_memory(X, d['data']))", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "99.0 99.0 True True\n"


# ---- item 8: outputs in order and complete; introspection; await


def test_dir_locals_and_vars_inside_a_cell_see_the_namespace(tmp_path: Path) -> None:
    steps = [
        ("alpha = 1", False),
        ("names = [n for n in dir() if n == 'alpha']\nhas = 'alpha' in locals() and vars()['alpha'] == 1\n"
         "size = len(locals()) > 1\nprint(names, has, size, locals() is vars())", True),
        ("print(names, has, size)", False),
    ]
    observed = differential(steps, tmp_path, stored=False)  # such a cell runs uncached, saying why
    assert observed[-1]["stdout"] == "['alpha'] True True\n"


def test_await_inside_a_comprehension_runs_as_without_cache(tmp_path: Path) -> None:
    steps = [
        ("import asyncio\nasync def double(v):\n    await asyncio.sleep(0)\n    return 2 * v", False),
        ("doubled = [await double(v) for v in range(3)]\nprint(doubled)", True),
        ("print(doubled)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "[0, 2, 4]\n"


def test_a_seeded_generator_the_cell_draws_from_is_advanced_for_every_holder(tmp_path: Path) -> None:
    steps = [
        ("import numpy as np\nrng = np.random.default_rng(0)\nholder = {'rng': rng}", False),
        ("sample = rng.normal(size=3)", True),
        ("print(holder['rng'] is rng, rng.integers(1000), holder['rng'].integers(1000))", False),
    ]
    differential(steps, tmp_path)


def test_an_instance_mutated_by_a_cell_that_does_not_name_its_class_is_still_of_the_live_class(
        tmp_path: Path) -> None:
    """The mutated instance is restored from the entry, its class with it: written by value, that class was a
    copy, and `isinstance(c, Counter)` was False after a restart. Now the restore gives the notebook's class of that
    name when its content is the same."""
    steps = [
        ("from dataclasses import dataclass\n@dataclass\nclass Counter:\n    n: int = 0\n"
         "    def bump(self):\n        self.n += 1", False),
        ("c = Counter()", True),
        ("c.bump()\nlog = [c]", True),
        ("print(isinstance(c, Counter), type(log[0]) is Counter, c == Counter(1), log[0] is c)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "True True True True\n"


def test_a_changed_class_still_restores_its_own_copy_for_an_instance_it_made(tmp_path: Path) -> None:
    """Redefined between the cells with other content, the notebook's class is not the instance's: the copy is."""
    steps = [
        ("class Box:\n    def __init__(self):\n        self.items = []", False),
        ("b = Box()", True),
        ("class Box:\n    def __init__(self):\n        self.items = [0]", False),
        ("b.items.append(1)\nsize = len(b.items)", True),
        ("print(isinstance(b, Box), type(b).__name__, b.items, size)", False),
    ]
    observed = differential(steps, tmp_path)
    assert observed[-1]["stdout"] == "False Box [1] 1\n"
