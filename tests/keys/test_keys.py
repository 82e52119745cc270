"""What the key reads besides variables: files (by content, with a stat fast path), literal paths, imports,
and the non-determinism detector."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

from nbcache.analysis.determinism import static_reason
from nbcache.analysis.paths import literal_paths
from nbcache.keys import files
from nbcache.keys.cellkey import code_inputs, hash_inputs
from nbcache.keys.modules import import_inputs, user_module_digest
from nbcache.keys.reasons import LateReason, describe_changes


def _old(path: Path) -> None:
    """Give a file an mtime well in the past, so its digest may be remembered (not 'racily clean')."""
    os.utime(path, (1_000_000_000, 1_000_000_000))


def test_touching_a_file_keeps_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    _old(path)
    first = files.file_digest(str(path))
    os.utime(path, (1_000_000_100, 1_000_000_100))
    assert files.file_digest(str(path)) == first


def test_same_size_new_mtime_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    _old(path)
    first = files.file_digest(str(path))
    path.write_text("a,b\n1,3\n")  # same size; only the content and mtime say it changed
    assert files.file_digest(str(path)) != first


def test_a_racily_clean_file_is_never_trusted_by_its_stat(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    first = files.file_digest(str(path))
    stat = path.stat()
    path.write_text("a,b\n1,3\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime as when it was hashed
    assert files.file_digest(str(path)) != first


def test_unchanged_stat_uses_the_remembered_digest(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("x")
    _old(path)
    files.file_digest(str(path))
    seen = files._memo[os.path.realpath(path)]
    assert files.file_digest(str(path)) is seen.digest


@pytest.mark.parametrize("cell, expected", [
    ("df = pd.read_csv('data.csv')", ["data.csv"]),
    ("text = open('data.csv').read()", ["data.csv"]),
    ("path = 'data.csv'\nx = np.load(path)", ["data.csv"]),
    ("with open('data.csv', 'r') as f:\n    pass", ["data.csv"]),
    ("with open('data.csv', 'w') as f:\n    f.write('x')", []),
    ("f = open('data.csv', mode='a')", []),
    ("df.to_csv('data.csv')", []),
    ("np.save('data.csv', arr)", []),
    ("Path('data.csv').write_text('x')", []),
    ("Path('data.csv').open('w')", []),
    ("f = gzip.open('data.csv')", ["data.csv"]),
    ("f = gzip.open('data.csv', 'wt')", []),
    ("plt.savefig('data.csv')", []),
    ("'''data.csv'''", []),
])
def test_literal_paths_read_not_written(cell: str, expected: list[str]) -> None:
    assert literal_paths(ast.parse(cell)) == expected


def test_only_existing_files_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.csv").write_text("x")
    (tmp_path / "folder").mkdir()
    tree = ast.parse("a = read('here.csv')\nb = read('missing.csv')\nc = read('folder')\nd = 'x y'")
    assert [k for k in code_inputs(tree, []) if k.startswith(("file:", "folder:"))] == ["file:here.csv"]


@pytest.mark.parametrize("cell, counts", [
    ("t = open(os.path.join(DATA, 'x.csv')).read()", True),
    ("t = open(DATA + '/x.csv').read()", True),
    ("t = open(f'{DATA}/x.csv').read()", True),
    ("t = os.listdir(DATA)", True),
    ("t = DATA.split('/')", False),
    ("t = len(DATA)", False),
])
def test_a_string_folder_a_cell_builds_paths_from_is_keyed_by_its_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str, counts: bool) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("1")
    tree = ast.parse(cell)
    before = code_inputs(tree, [], {"DATA": "data"})
    (tmp_path / "data" / "x.csv").write_text("22")
    assert ("folder:data" in before) is counts
    assert (code_inputs(tree, [], {"DATA": "data"}) != before) is counts


def _write_package(root: Path, utils_body: str) -> Path:
    (root / "helpers.py").write_text("import utils\nfrom pkg import sub\n\ndef f(v):\n    return utils.g(v)\n")
    (root / "utils.py").write_text(utils_body)
    (root / "pkg").mkdir(exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("from . import inner\n")
    (root / "pkg" / "sub.py").write_text("X = 1\n")
    (root / "pkg" / "inner.py").write_text("Y = 1\n")
    return root / "helpers.py"


def test_user_module_digest_follows_user_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    helpers = _write_package(tmp_path, "def g(v):\n    return v + 1\n")
    first = user_module_digest(str(helpers))
    (tmp_path / "utils.py").write_text("def g(v):\n    return v + 2\n")
    second = user_module_digest(str(helpers))
    (tmp_path / "pkg" / "inner.py").write_text("Y = 2\n")  # reached through pkg/__init__'s relative import
    third = user_module_digest(str(helpers))
    assert len({first, second, third}) == 3


def test_cell_imports_key_user_modules_by_source_and_libraries_by_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_package(tmp_path, "def g(v):\n    return v\n")
    inputs = import_inputs(ast.parse("import helpers\nimport numpy as np\nfrom json import dumps"))
    assert inputs["module:helpers"] == user_module_digest(str(tmp_path / "helpers.py")).hex()
    assert inputs["module:numpy"].startswith("numpy==")
    assert "module:json" in inputs and "module:json.dumps" not in inputs


@pytest.mark.parametrize("cell, frozen", [
    ("import time\nt = time.time()", True),
    ("from datetime import datetime\nt = datetime.now()", True),
    ("import uuid\nu = uuid.uuid4()", True),
    ("import random\nr = random.random()", False),  # keyed on the generator's state, not frozen
    ("import random\nrandom.seed(1)\nr = random.random()", False),
    ("import numpy as np\nr = np.random.rand(3)", False),
    ("import numpy as np\nnp.random.seed(0)\nr = np.random.rand(3)", False),
    ("import numpy as np\nrng = np.random.default_rng(0)", False),
    ("import numpy as np\nrng = np.random.default_rng()", True),
    ("import numpy as np\nr = np.arange(3)", False),
])
def test_non_deterministic_calls_are_found_in_the_cell(cell: str, frozen: bool) -> None:
    assert (static_reason(ast.parse(cell), {}, []) is not None) == frozen


@pytest.mark.parametrize("cell, frozen", [
    ("import numpy as np\nr = np.random.rand(3)", True),  # numpy loaded by this run: seeded by the OS
    ("import numpy as np\nnp.random.seed(0)\nr = np.random.rand(3)", False),
    ("import numpy as np", False),  # importing draws nothing
])
def test_draws_from_a_generator_the_run_loaded_are_frozen(cell: str, frozen: bool) -> None:
    assert (static_reason(ast.parse(cell), {}, [], fresh={"numpy"}) is not None) == frozen


def test_non_deterministic_calls_are_found_in_notebook_functions() -> None:
    namespace: dict = {"__name__": "__main__"}
    exec("import time\ndef stamp():\n    return time.time()\ndef pure():\n    return 1", namespace)
    inputs = hash_inputs({"stamp"}, namespace).values.values()
    assert static_reason(ast.parse("t = stamp()"), namespace, inputs) == "calls time.time"
    assert static_reason(ast.parse("t = pure()"), namespace, [namespace["pure"]]) is None


def test_hash_inputs_follows_the_globals_notebook_functions_read() -> None:
    namespace: dict = {"__name__": "__main__", "K": 1, "unused": 2}
    exec("def inner(v):\n    return v + K\ndef outer(v):\n    return inner(v)", namespace)
    inputs = hash_inputs({"outer"}, namespace)
    assert set(inputs.hashes) == {"outer", "inner", "K"}


def test_a_late_reason_is_worked_out_once_whoever_asks_first() -> None:
    calls: list[int] = []
    started, go = threading.Event(), threading.Event()

    def work_out() -> str:
        calls.append(1)
        started.set()
        go.wait(5)
        return "input x changed"

    reason = LateReason(work_out)
    asked = [threading.Thread(target=lambda: answers.append(reason())) for _ in range(3)]
    answers: list[str] = []
    for thread in asked:
        thread.start()
    started.wait(5)
    go.set()
    for thread in asked:
        thread.join(5)
    assert answers == ["input x changed"] * 3 and calls == [1] and reason() == "input x changed"
    assert LateReason.given("forced with -f")() == "forced with -f"


def test_a_late_reason_that_cannot_be_worked_out_says_so_and_never_raises() -> None:
    def broken() -> str:
        raise OSError("index unreadable")

    assert LateReason(broken)() == "its last entry could not be read"


def test_miss_reasons_name_the_kind_of_what_changed() -> None:
    namespace = {"df": object(), "featurize": lambda v: v, "ast": ast}
    text = describe_changes(["df", "featurize", "file:data.csv", "module:helpers", "ast"], namespace)
    assert text == "input df changed; function featurize changed; modules ast, helpers changed; " \
                   "file data.csv changed"
