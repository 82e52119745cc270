"""Invalidation in the shell, counting real runs: each change a cell depends on is a miss, with its reason, and an
unchanged re-run is a hit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import Shell, run_in_new_process

CALL = "result = featurize(3)"


def _stable_then_changed(shell: Shell, body: str, change: str, flags: str = "") -> str:
    """Run the cell twice (the second must hit), apply ``change`` in another cell, run again: return its stderr."""
    shell.cached(body, flags)
    _, captured = shell.cached(body, flags)
    assert shell.runs == 1 and "hit" in captured.stderr
    shell.run(change)
    _, captured = shell.cached(body, flags)
    assert shell.runs == 2, captured.stderr
    _, again = shell.cached(body, flags)
    assert shell.runs == 2 and "hit" in again.stderr  # the new state is cached in turn
    return captured.stderr


def test_helper_body_edited(shell: Shell) -> None:
    shell.run("def featurize(v):\n    return v + 1")
    reason = _stable_then_changed(shell, CALL, "def featurize(v):\n    return v + 2")
    assert shell.ns["result"] == 5 and "miss (function featurize changed)" in reason
    reasons = {e.meta.reason for e in shell.ip._nbcache_magics.store().entries()}
    assert reasons == {"new cell", "function featurize changed"}  # kept with each entry


def test_callee_edited(shell: Shell) -> None:
    shell.run("def inner(v):\n    return v + 1\ndef featurize(v):\n    return inner(v) * 10")
    reason = _stable_then_changed(shell, CALL, "def inner(v):\n    return v + 2")
    assert shell.ns["result"] == 50 and "function inner changed" in reason


def test_global_read_by_a_helper_changed(shell: Shell) -> None:
    shell.run("SCALE = 2\ndef featurize(v):\n    return v * SCALE")
    reason = _stable_then_changed(shell, CALL, "SCALE = 3")
    assert shell.ns["result"] == 9 and "miss (input SCALE changed)" in reason


def test_closure_contents_changed(shell: Shell) -> None:
    shell.run("def make(n):\n    return lambda v: v + n\nfeaturize = make(1)")
    _stable_then_changed(shell, CALL, "featurize = make(2)")
    assert shell.ns["result"] == 5


def test_default_argument_changed(shell: Shell) -> None:
    shell.run("def featurize(v, k=1):\n    return v + k")
    _stable_then_changed(shell, CALL, "def featurize(v, k=2):\n    return v + k")
    assert shell.ns["result"] == 5


def test_method_of_an_input_objects_class_changed(shell: Shell) -> None:
    shell.run("class Model:\n    def predict(self, v):\n        return v + 1\nmodel = Model()")
    _stable_then_changed(shell, "result = model.predict(3)",
                         "class Model:\n    def predict(self, v):\n        return v + 2\nmodel = Model()")
    assert shell.ns["result"] == 5


def test_attribute_of_an_input_object_changed(shell: Shell) -> None:
    shell.run("class Config:\n    pass\ncfg = Config()\ncfg.rate = 0.1")
    reason = _stable_then_changed(shell, "result = cfg.rate * 10", "cfg.rate = 0.2")
    assert shell.ns["result"] == 2.0 and "miss (input cfg changed)" in reason


def test_array_mutated_in_another_cell(shell: Shell) -> None:
    shell.run("import numpy as np\narr = np.arange(10)")
    _stable_then_changed(shell, "total = int(arr.sum())", "arr[3] = 100")
    assert shell.ns["total"] == 45 - 3 + 100


def test_array_view_mutated_through_its_base(shell: Shell) -> None:
    shell.run("import numpy as np\nbase = np.arange(10)\nview = base[::2]")
    _stable_then_changed(shell, "total = int(view.sum())", "base[2] = 100")
    assert shell.ns["total"] == 20 - 2 + 100


def test_dataframe_string_cell_changed(shell: Shell) -> None:
    shell.run("import pandas as pd\ndf = pd.DataFrame({'name': ['ann', 'bob'], 'n': [1, 2]})")
    reason = _stable_then_changed(shell, "joined = '-'.join(df['name'])", "df.loc[1, 'name'] = 'bo'")
    assert shell.ns["joined"] == "ann-bo" and "miss (input df changed)" in reason


def test_dataframe_object_string_cell_changed(shell: Shell) -> None:
    shell.run("import pandas as pd\ndf = pd.DataFrame({'name': pd.Series(['ann', 'bob'], dtype=object)})")
    _stable_then_changed(shell, "joined = '-'.join(df['name'])", "df.loc[1, 'name'] = 'bo'")
    assert shell.ns["joined"] == "ann-bo"


def test_deps_file_changed(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    shell.ns["DATA"] = str(data)
    reason = _stable_then_changed(shell, "text = open(DATA).read()", f"open({str(data)!r}, 'w').write('a\\n2\\n')",
                                  flags=f"--deps {data}")
    assert shell.ns["text"] == "a\n2\n" and "data.csv changed" in reason


def test_file_read_by_literal_path_changed(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data.csv").write_text("a\n1\n")
    reason = _stable_then_changed(shell, "text = open('data.csv').read()", "open('data.csv', 'w').write('a\\n3\\n')")
    assert shell.ns["text"] == "a\n3\n" and "miss (file data.csv changed)" in reason


def test_touching_a_dependency_without_changing_it_still_hits(shell: Shell, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data.csv").write_text("a\n1\n")
    shell.cached("text = open('data.csv').read()")
    os.utime("data.csv", (1_000_000_000, 1_000_000_000))
    shell.cached("text = open('data.csv').read()")
    assert shell.runs == 1


def test_a_file_the_cell_writes_is_not_a_dependency(shell: Shell, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    body = "with open('out.txt', 'w') as f:\n    f.write('x')\ny = 1"
    shell.cached(body)
    shell.cached(body)
    assert shell.runs == 1


def test_unchanged_helper_redefinition_still_hits(shell: Shell) -> None:
    shell.run("def featurize(v):\n    return v + 1")
    shell.cached(CALL)
    shell.run("def featurize(v):\n    # the same code, written again\n    return v + 1")
    shell.cached(CALL)
    assert shell.runs == 1


def test_forced_run_says_so(shell: Shell) -> None:
    shell.cached("y = 1")
    _, captured = shell.cached("y = 1", flags="-f")
    assert shell.runs == 2 and "miss (forced" in captured.stderr


def test_new_and_edited_cells_say_so(shell: Shell) -> None:
    shell.ip.user_ns["x"] = 1
    _, first = shell.cached("y = x")
    assert "miss (new cell)" in first.stderr


def test_non_deterministic_cell_is_cached_and_says_frozen(shell: Shell) -> None:
    body = "import time\nstamp = time.time()"
    _, first = shell.cached(body)
    stamp = shell.ns["stamp"]
    _, second = shell.cached(body)
    assert shell.runs == 1 and shell.ns["stamp"] == stamp
    assert "non-deterministic: result frozen" in first.stderr and "non-deterministic" in second.stderr


def test_a_draw_from_the_global_rng_is_keyed_on_its_state(shell: Shell) -> None:
    """Found at run time (the draw is inside a helper): the entry holds while the generator is in the state it
    started from, so a seed set in an earlier cell makes the cell hit, and another state misses."""
    shell.run("import random\ndef draw():\n    return random.random()")
    body = "value = sorted([3, 1, 2, 4], key=lambda _: draw())"
    shell.run("random.seed(5)")
    _, captured = shell.cached(body)
    assert "non-deterministic" not in captured.stderr
    first = shell.ns["value"]
    shell.run("random.seed(5)")
    _, captured = shell.cached(body)
    assert shell.runs == 1 and "hit" in captured.stderr and shell.ns["value"] == first
    _, captured = shell.cached(body)  # the generator moved on: a real run would draw other numbers
    assert shell.runs == 2 and "random state of random changed" in captured.stderr


def test_seeded_cell_restores_the_generator_state_a_real_run_leaves(shell: Shell) -> None:
    body = "import numpy as np\nnp.random.seed(0)\nfirst = np.random.rand()"
    shell.cached(body)
    after_run = shell.ns["np"].random.rand()
    _, captured = shell.cached(body)
    assert shell.runs == 1 and "non-deterministic" not in captured.stderr
    assert shell.ns["np"].random.rand() == after_run  # the next draw is the one a re-run would give


LOCAL_MODULE_SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'nbcache')
{prelude}
r = ip.run_cell('''%%cache
open({marker!r}, 'a').write('.')
{body}
''')
assert r.success, r
print('RESULT', ip.user_ns['result'])
"""


def _restart(tmp_path: Path, body: str, prelude: str = "") -> str:
    script = LOCAL_MODULE_SCRIPT.format(marker=str(tmp_path / "runs.txt"), body=body, prelude=prelude)
    out = run_in_new_process(script, cwd=tmp_path)
    return out.split("RESULT ")[1].strip()


@pytest.mark.parametrize("where", ["imported in the cell", "imported in an earlier cell"])
def test_local_module_edited_across_a_restart(tmp_path: Path, where: str) -> None:
    (tmp_path / "utils.py").write_text("def g(v):\n    return v + 1\n")
    (tmp_path / "helpers.py").write_text("import utils\n\ndef f(v):\n    return utils.g(v) * 10\n")
    if where == "imported in the cell":
        body, prelude = "import helpers\nresult = helpers.f(1)", ""
    else:
        body, prelude = "result = helpers.f(1)", "ip.run_cell('import helpers')"
    assert [_restart(tmp_path, body, prelude) for _ in range(2)] == ["20", "20"]
    assert (tmp_path / "runs.txt").read_text() == "."
    (tmp_path / "utils.py").write_text("def g(v):\n    return v + 2\n")  # a module helpers imports
    assert [_restart(tmp_path, body, prelude) for _ in range(2)] == ["30", "30"]
    assert (tmp_path / "runs.txt").read_text() == ".."


CHAIN_SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'nbcache')
MARKER = {marker!r}
for body in ['''
import dataclasses
import numpy as np
import pandas as pd
K = 2
@dataclasses.dataclass
class Config:
    rate: float
def scale(v):
    return v * K
class Model:
    def __init__(self, cfg):
        self.cfg = cfg
    def predict(self, v):
        return scale(v) + self.cfg.rate
model = Model(Config(0.5))
frame = pd.DataFrame({"name": ["a", "b", None], "kind": pd.Categorical(["x", "y", "x"]), "n": [1, 2, 3]})
view = np.arange(10.0)[::2]
''', '''
result = (model.predict(3), scale(1), frame["name"].tolist(), frame["kind"].cat.codes.tolist(), view.sum())
''']:
    r = ip.run_cell("%%cache\\nopen(" + repr(MARKER) + ", 'a').write('.')\\n" + body)
    assert r.success, r
print('RESULT', ip.user_ns['result'])
"""


def test_values_restored_by_a_hit_key_the_next_cell_the_same_after_a_restart(tmp_path: Path) -> None:
    # The second cell reads what the first restored; its key must equal the one the cold run computed.
    script = CHAIN_SCRIPT.replace("{marker!r}", repr(str(tmp_path / "runs.txt")))
    first, second = run_in_new_process(script), run_in_new_process(script)
    assert first == second and "RESULT (6.5, 2" in first
    assert (tmp_path / "runs.txt").read_text() == ".."
