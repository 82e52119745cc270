"""Process-wide random generators are named in a value's hash, not hashed by their state (which differs in every
process and changes with every draw); any other generator is hashed by its state. A cell that draws from a
process-wide one is keyed on its state by the randomness check, which the last test holds to."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from nbcache.keys.values import hash_value
from tests.scenarios.restarts import Step, differential
from tests.support import Shell


def test_a_value_holding_numpys_global_generator_hashes_alike_after_draws() -> None:
    holder = {"dist": np.random.mtrand._rand}
    before = hash_value(holder)
    np.random.rand(5)
    assert hash_value(holder) == before


def test_pythons_global_generator_is_named_too() -> None:
    holder = [random._inst]  # type: ignore[attr-defined]
    before = hash_value(holder)
    random.random()
    assert hash_value(holder) == before


def test_a_generator_of_the_notebooks_own_is_hashed_by_its_state() -> None:
    for rng in (np.random.RandomState(0), random.Random(0)):
        before = hash_value(rng)
        rng.random()
        assert hash_value(rng) != before


def test_a_function_defaulting_to_a_scipy_distribution_hits_after_a_restart(tmp_path: Path) -> None:
    """``scipy.stats.norm`` draws from numpy's global generator; a function with it as a default (statsmodels'
    ``qqplot``) hashed differently in every process, so the cell reading it missed after each restart."""
    steps: list[Step] = [
        ("import numpy as np\nfrom scipy import stats", False),
        ("def quantile(p, dist=stats.norm):\n    return round(float(dist.ppf(p)), 6)", False),
        ("np.random.rand(3);", False),  # unseeded: a different state in every process
        ("print(quantile(0.9))", True),
    ]
    differential(steps, tmp_path)


def test_a_cell_drawing_through_a_value_that_holds_the_global_generator_follows_the_seed(shell: Shell) -> None:
    shell.run("import numpy as np\nfrom scipy import stats\ndef draw(dist=stats.norm):\n    return dist.rvs()")
    seen = []
    for seed in (1, 1, 2):
        shell.run(f"np.random.seed({seed})")
        shell.cached("value = draw()")
        seen.append(shell.ns["value"])
    shell.run("np.random.seed(2)\nexpected = stats.norm.rvs()")
    assert seen[0] == seen[1] and seen[2] == shell.ns["expected"]
    assert shell.runs == 2  # the same seed hit; another seed ran the cell again


def test_a_restored_value_draws_from_the_live_global_generator(tmp_path: Path) -> None:
    """Before, a hit gave ``draw``'s default distribution a private copy of numpy's generator: a later
    ``np.random.seed(2)`` did not reach it, and ``draw()`` went on with the numbers of the state saved."""
    steps: list[Step] = [
        ("import numpy as np\nfrom scipy import stats", False),
        ("def draw(dist=stats.norm):\n    return dist.rvs()\nd = stats.norm\nrng = np.random.mtrand._rand", True),
        ("np.random.seed(2)\nprint(draw(), d.rvs(), rng is np.random.mtrand._rand)", False),
    ]
    plain = differential(steps, tmp_path)
    assert plain[2]["stdout"].split()[-1] == "True"


def test_none_is_no_generator_whatever_is_loaded() -> None:
    from nbcache.keys import generators

    assert generators.global_name(None) is None
    assert generators.global_name(np.random.mtrand._rand) == "numpy"
