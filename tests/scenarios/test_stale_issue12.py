"""Issue 12, stale results: each case is run with %%cache and compared with what the plain cell gives in the
same state; real runs are counted, and a restart is a new process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import Shell, run_in_new_process


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A working folder on sys.path for the notebook's own modules, cleaned up afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def _same_as_plain(shell: Shell, body: str, name: str) -> None:
    shell.cached(body)
    cached = shell.ns[name]
    shell.run(body)
    assert cached == shell.ns[name]


def test_module_attribute_changed_at_run_time_is_an_input(shell: Shell, local: Path) -> None:
    (local / "config.py").write_text("THRESHOLD = 1\n")
    (local / "rules.py").write_text("import config\ndef over(v):\n    return v > config.THRESHOLD\n")
    shell.run("import config, rules\ndef nb(v):\n    return v * config.THRESHOLD")
    for body in ("a = config.THRESHOLD", "b = nb(2)", "c = rules.over(3)"):
        shell.cached(body)
    shell.run("config.THRESHOLD = 5")
    runs = shell.runs
    for body, name in (("a = config.THRESHOLD", "a"), ("b = nb(2)", "b"), ("c = rules.over(3)", "c")):
        _same_as_plain(shell, body, name)
    assert shell.runs == runs + 3 and (shell.ns["a"], shell.ns["b"], shell.ns["c"]) == (5, 10, False)


def test_a_module_attribute_set_by_a_cached_cell_is_replayed(shell: Shell, local: Path) -> None:
    (local / "config.py").write_text("THRESHOLD = 1\n")
    shell.run("import config")
    shell.cached("config.THRESHOLD = 7\nx = 1")
    shell.run("config.THRESHOLD = 1")
    assert shell.ns["config"].THRESHOLD == 1
    shell.cached("config.THRESHOLD = 7\nx = 1")  # the key saw THRESHOLD == 1 both times: a hit
    assert shell.runs == 1 and shell.ns["config"].THRESHOLD == 7
    script = f"""
import sys; sys.path.insert(0, {str(local)!r})
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("import config")
ip.run_cell("%%cache\\n{shell.count_line()}\\nconfig.THRESHOLD = 7\\nx = 1")
print('VALUE', ip.user_ns['config'].THRESHOLD)
"""
    assert "VALUE 7" in run_in_new_process(script, cwd=local)
    assert shell.runs == 1  # a hit after the restart, and the attribute is set again


@pytest.mark.parametrize("change, body, name", [
    ("np.set_printoptions(precision=2)", "s = str(np.array([1/3]))", "s"),
    ("pd.set_option('display.precision', 2)", "s = str(pd.Series([1/3]))", "s"),
    ("decimal.getcontext().prec = 3", "d = decimal.Decimal(1) / 7", "d"),
    ("os.environ['NBCACHE_TEST_VAR'] = 'b'", "e = os.environ.get('NBCACHE_TEST_VAR')", "e"),
    ("sys.argv[:] = ['prog', '--n', '3']", "n = sys.argv[-1]", "n"),
    ("plt.rcParams['lines.linewidth'] = 7", "w = plt.rcParams['lines.linewidth']", "w"),
    ("np.seterr(divide='raise')",
     "try:\n    v = float(np.float64(1.0) / 0.0)\nexcept FloatingPointError:\n    v = 'raised'", "v"),
    ("logging.getLogger('nbcache_test').setLevel(logging.INFO)",
     "v = logging.getLogger('nbcache_test').isEnabledFor(logging.INFO)", "v"),
    ("sklearn.set_config(transform_output='pandas')",
     "t = type(StandardScaler().fit_transform(np.ones((2, 2)))).__name__", "t"),
])
def test_a_library_setting_the_cell_observes_is_keyed(shell: Shell, change: str, body: str, name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_TEST_VAR", "a")
    monkeypatch.setattr(sys, "argv", ["prog"])
    shell.run("import os, sys, decimal\nimport numpy as np\nimport pandas as pd\nimport matplotlib\n"
              "matplotlib.use('agg')\nimport matplotlib.pyplot as plt\nimport sklearn, logging\n"
              "from sklearn.preprocessing import StandardScaler")
    try:
        shell.cached(body)
        shell.run(change)
        _same_as_plain(shell, body, name)
        assert shell.runs == 2
    finally:
        shell.run("np.set_printoptions(precision=8)\npd.reset_option('display.precision')\n"
                  "decimal.getcontext().prec = 28\nplt.rcParams['lines.linewidth'] = 1.5\n"
                  "np.seterr(divide='warn')\nsklearn.set_config(transform_output='default')\n"
                  "logging.getLogger('nbcache_test').setLevel(logging.NOTSET)")


def test_a_setting_changed_by_a_cached_cell_is_replayed(shell: Shell) -> None:
    shell.run("import pandas as pd")
    try:
        shell.cached("pd.set_option('display.max_rows', 7)\nx = 1")
        shell.run("pd.reset_option('display.max_rows')")
        shell.cached("pd.set_option('display.max_rows', 7)\nx = 1")
        assert shell.runs == 1 and shell.ns["pd"].get_option("display.max_rows") == 7
    finally:
        shell.run("pd.reset_option('display.max_rows')")


def test_a_library_config_set_by_a_cached_cell_is_replayed_after_a_restart(shell: Shell) -> None:
    """scikit-learn's plot_set_output example: ``set_config(transform_output="pandas")`` in one cell makes the
    transformers of later cells return frames; on a hit in a new kernel it must take effect again."""
    body = "import sklearn\nsklearn.set_config(transform_output='pandas')\nx = 1"
    try:
        shell.cached(body)
    finally:
        shell.run("sklearn.set_config(transform_output='default')")
    script = f"""
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("%%cache\\n{shell.count_line()}\\n" + {body!r})
import sklearn
print('VALUE', sklearn.get_config()['transform_output'])
"""
    assert "VALUE pandas" in run_in_new_process(script)
    assert shell.runs == 1


def test_a_cell_that_configures_logging_is_not_stored(shell: Shell) -> None:
    """A hit could not add the handler again (it holds a stream), and later cells would log nothing: such a cell
    runs each time and says why."""
    body = "import logging, sys\nlogging.getLogger('nbcache_t2').addHandler(logging.StreamHandler(sys.stdout))\nx = 1"
    try:
        for _ in range(2):
            _, captured = shell.cached(body)
            shell.run("logging.getLogger('nbcache_t2').handlers.clear()")
        assert shell.runs == 2
        assert "not stored; it changes logging, which a hit cannot set again" in captured.stderr
    finally:
        shell.run("logging.getLogger('nbcache_t2').handlers.clear()")


def test_a_package_that_sets_up_its_loggers_at_import_is_still_cached(shell: Shell, local: Path) -> None:
    """torch adds handlers to loggers of its own when imported (some not named after a module); a hit imports it
    again, so the cell is stored, and after a restart it hits and the loggers are set up as by a run."""
    (local / "noisy.py").write_text("import logging, sys\n"
                                    "logging.getLogger('noisy_profiler').addHandler(logging.StreamHandler(sys.stderr))\n")
    import logging

    try:
        shell.cached("import noisy\nx = 1")
    finally:
        logging.getLogger("noisy_profiler").handlers.clear()
    script = f"""
import sys, logging; sys.path.insert(0, {str(local)!r})
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("%%cache\\n{shell.count_line()}\\nimport noisy\\nx = 1")
ip.run_cell("%%cache\\n{shell.count_line()}\\ny = 2")
print('HANDLERS', len(logging.getLogger('noisy_profiler').handlers))
"""
    assert "HANDLERS 1" in run_in_new_process(script, cwd=local)
    assert shell.runs == 2  # the import cell stored and hit after the restart; the new cell ran once


def test_a_colour_cycle_of_arrays_set_by_a_cached_cell_is_replayed(shell: Shell) -> None:
    """matplotlib's custom_legends example: comparing the cycle of RGBA arrays with the one in place raises."""
    import warnings

    from nbcache.errors import CacheWarning

    shell.run("import matplotlib as mpl\nimport numpy as np\nfrom matplotlib import cycler\n"
              "import matplotlib.pyplot as plt\nmpl.rc_file_defaults()")
    body = ("cmap = plt.colormaps['coolwarm']\n"
            "mpl.rcParams['axes.prop_cycle'] = cycler(color=cmap(np.linspace(0, 1, 10)))\nx = 1")
    try:
        shell.cached(body)
        shell.run("mpl.rc_file_defaults()")  # as a new kernel has them: the key is the same
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shell.cached(body)
        assert shell.runs == 1 and not [w for w in caught if issubclass(w.category, CacheWarning)]
        colors = shell.ns["mpl"].rcParams["axes.prop_cycle"].by_key()["color"]
        assert len(colors) == 10 and len(colors[0]) == 4
    finally:
        shell.run("mpl.rc_file_defaults()")


def test_a_module_edited_but_not_reloaded_keys_the_code_that_ran(shell: Shell, local: Path) -> None:
    (local / "helpers.py").write_text("def g(v):\n    return v + 1\n")
    shell.run("import helpers")
    shell.cached("r = helpers.g(1)")
    (local / "helpers.py").write_text("def g(v):\n    return v + 100\n")
    _, captured = shell.cached("r = helpers.g(1)")  # the loaded code is unchanged: a hit, as a real run gives 2
    assert shell.runs == 1 and shell.ns["r"] == 2
    script = f"""
import sys; sys.path.insert(0, {str(local)!r})
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("import helpers")
ip.run_cell("%%cache\\n{shell.count_line()}\\nr = helpers.g(1)")
print('VALUE', ip.user_ns['r'])
"""
    assert "VALUE 101" in run_in_new_process(script, cwd=local)
    assert shell.runs == 2


def test_code_and_files_reached_from_notebook_functions(shell: Shell, local: Path) -> None:
    (local / "inner.py").write_text("K = 1\n")
    (local / "data.txt").write_text("a")
    shell.run("def f():\n    import inner\n    return inner.K\ndef g():\n    return open('data.txt').read()")
    shell.cached("x = f()")
    shell.cached("y = g()")
    (local / "data.txt").write_text("bb")
    _same_as_plain(shell, "y = g()", "y")
    assert shell.runs == 3 and shell.ns["y"] == "bb"


def test_folder_listings_and_paths_built_at_run_time(shell: Shell, local: Path) -> None:
    (local / "data").mkdir()
    (local / "data" / "a.csv").write_text("1")
    (local / "data" / "train.txt").write_text("x")
    shell.run("import glob, os\nfrom pathlib import Path\nDATA = Path('data')")
    bodies = [("n = len(glob.glob('data/*.csv'))", "n"), ("m = sorted(os.listdir('data'))", "m"),
              ("t = (DATA / 'train.txt').read_text()", "t")]
    for body, _ in bodies:
        shell.cached(body)
    (local / "data" / "b.csv").write_text("2")
    (local / "data" / "train.txt").write_text("yy")
    for body, name in bodies:
        _same_as_plain(shell, body, name)
    assert shell.runs == 6 and shell.ns["n"] == 2 and shell.ns["t"] == "yy"


def test_paths_built_from_a_string_folder_variable(shell: Shell, local: Path) -> None:
    """``os.path.join(DATA, "x")``, ``DATA + "/x"`` and ``f"{DATA}/x"`` with ``DATA = "data"`` read files under
    that folder: editing one must make the cell run again (issue 12, item 4)."""
    (local / "data").mkdir()
    (local / "data" / "train.txt").write_text("x")
    shell.run("import os\nDATA = 'data'")
    bodies = [("a = open(os.path.join(DATA, 'train.txt')).read()", "a"), ("b = open(DATA + '/train.txt').read()", "b"),
              ("c = open(f'{DATA}/train.txt').read()", "c")]
    for body, _ in bodies:
        shell.cached(body)
        shell.cached(body)
    assert shell.runs == 3
    (local / "data" / "train.txt").write_text("yy")
    for body, name in bodies:
        _same_as_plain(shell, body, name)
    assert shell.runs == 6 and shell.ns["a"] == shell.ns["b"] == shell.ns["c"] == "yy"


def test_deps_folder_counts_its_files(shell: Shell, local: Path) -> None:
    (local / "cfg").mkdir()
    (local / "cfg" / "a.json").write_text("1")
    shell.cached("x = 1", "--deps cfg")
    (local / "cfg" / "a.json").write_text("2")
    _, captured = shell.cached("x = 1", "--deps cfg")
    assert shell.runs == 2 and "folder cfg changed" in captured.stderr


def test_namespace_package_source_is_keyed(shell: Shell, local: Path) -> None:
    (local / "nspkg").mkdir()
    (local / "nspkg" / "mod.py").write_text("V = 1\n")
    shell.cached("import nspkg.mod\nv = nspkg.mod.V")
    sys.modules.pop("nspkg.mod", None)
    sys.modules.pop("nspkg", None)
    (local / "nspkg" / "mod.py").write_text("V = 22\n")
    shell.cached("import nspkg.mod\nv = nspkg.mod.V")
    assert shell.runs == 2 and shell.ns["v"] == 22


def test_two_folders_each_with_a_config_reading_its_own_params(shell: Shell, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import json\nP = json.load(open('params.json'))\n"
    for folder, value in (("one", 1), ("two", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.py").write_text(source)
        (tmp_path / folder / "params.json").write_text(f'{{"a": {value}}}')
    outputs = []
    for folder in ("one", "two"):
        script = f"""
import sys, os; sys.path.insert(0, os.getcwd())
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("%%cache\\n{shell.count_line()}\\nimport config\\na = config.P['a']")
print('VALUE', ip.user_ns['a'])
"""
        outputs.append(run_in_new_process(script, cwd=tmp_path / folder))
    assert "VALUE 1" in outputs[0] and "VALUE 2" in outputs[1] and shell.runs == 2


def test_ipython_history_names_read_by_a_cell(shell: Shell) -> None:
    shell.run("41")
    shell.cached("a = _ + 1")
    shell.run("99")
    _same_as_plain(shell, "a = _ + 1", "a")
    n = shell.ip.execution_count
    shell.run("5")
    shell.cached(f"b = Out[{n}] * 2")
    shell.ns["Out"][n] = 6
    _same_as_plain(shell, f"b = Out[{n}] * 2", "b")
    assert shell.ns["b"] == 12


def test_match_class_pattern_and_container_subclass_attributes(shell: Shell) -> None:
    shell.run("class P:\n    __match_args__ = ('x',)\n    def __init__(self, x):\n        self.x = x\np = P(1)")
    body = "match p:\n    case P(x=1):\n        r = 'one'\n    case _:\n        r = 'other'"
    shell.cached(body)
    shell.run("class P:\n    __match_args__ = ('y',)\n    def __init__(self, x):\n        self.x = x")
    _same_as_plain(shell, body, "r")
    shell.run("class L(list):\n    pass\nl = L([1])\nl.scale = 2")
    shell.cached("s = sum(l) * l.scale")
    shell.run("l.scale = 3")
    _same_as_plain(shell, "s = sum(l) * l.scale", "s")
    assert shell.ns["s"] == 3


def test_datetime_index_freq_is_part_of_the_key(shell: Shell) -> None:
    shell.run("import pandas as pd\ns = pd.Series(range(3), index=pd.date_range('2020', periods=3, freq='D'))")
    shell.cached("t = str(s.index.freq)")
    shell.run("s.index.freq = None")
    _same_as_plain(shell, "t = str(s.index.freq)", "t")
    assert shell.runs == 2


def test_a_path_set_by_a_cached_cell_is_added_again_without_dropping_others(shell: Shell, local: Path) -> None:
    (local / "src").mkdir()
    body = "import sys\nsys.path.insert(0, 'src')\nx = 1"
    shell.cached(body)
    sys.path.remove("src")
    sys.path.append("elsewhere")  # this kernel's path differs from the one the entry was made in
    try:
        shell.cached(body)
        assert shell.runs == 1 and sys.path[0] == "src" and "elsewhere" in sys.path
    finally:
        for entry in ("src", "elsewhere"):
            while entry in sys.path:
                sys.path.remove(entry)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
@pytest.mark.parametrize("made_by", ["notebook", "package"])
def test_a_logger_the_notebook_configures_alongside_an_import_is_keyed_after_a_restart(
        shell: Shell, local: Path, level: str, made_by: str) -> None:
    """A setup cell that imports a package and sets a logger's level, the notebook's own logger or the one the
    package made when imported (``logging.getLogger("matplotlib").setLevel(...)``): a cached cell logging at DEBUG
    must hit only under the level it was stored with, also when the level was set before nbcache first looked and
    in the same cell as the import (each run is a new process, as after editing the setup cell and restarting)."""
    (local / "fresh_pkg.py").write_text("import logging\n"
                                        "logging.getLogger('fresh_pkg').addHandler(logging.NullHandler())\n")
    name = "nb_setup" if made_by == "notebook" else "fresh_pkg"
    script = """
import sys; sys.path.insert(0, {local!r})
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("import fresh_pkg, logging, sys\\nlog = logging.getLogger({name!r})\\n"
            "log.addHandler(logging.StreamHandler(sys.stdout))\\nlog.setLevel(logging.{level})")
ip.run_cell("%%cache\\n{count}\\nlog.debug('DETAIL LINE')\\nx = 1")
"""
    first = run_in_new_process(script.format(local=str(local), name=name, level="DEBUG", count=shell.count_line()),
                               cwd=local)
    assert "DETAIL LINE" in first and shell.runs == 1
    again = run_in_new_process(script.format(local=str(local), name=name, level=level, count=shell.count_line()),
                               cwd=local)
    assert ("DETAIL LINE" in again) == (level == "DEBUG")
    assert shell.runs == (1 if level == "DEBUG" else 2)  # a hit under DEBUG; a run under INFO
