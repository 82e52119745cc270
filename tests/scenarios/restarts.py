"""Differential runs across restarts: the same cells plain, then with ``%%cache`` cold and warm, each sequence in
a new process (a kernel restart), real runs of cached cells counted with a marker file.

Each step is ``(source, cached)``; a step's observation is what the user could see: stdout and stderr without
nbcache's own status lines, the displays (mime types and text), the error raised if any. Probe steps (plain
cells after the cached ones) print what must hold after a hit (``isinstance``, ``is``, a value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import run_in_new_process

Step = tuple[str, bool]

_SCRIPT = """
import json
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbcache")
seen = []
for source, cached in {steps!r}:
    if cached and {with_cache!r}:
        source = "%%cache\\nopen({marker!r}, 'a').write('.')\\n" + source
    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True)
    error = result.error_in_exec or result.error_before_exec
    seen.append({{
        "stdout": captured.stdout,
        "stderr": "".join(line for line in captured.stderr.splitlines(True) if not line.startswith("nbcache: ")),
        "displays": [sorted(o.data) + [o.data.get("text/plain", "")] for o in captured.outputs],
        "error": None if error is None else f"{{type(error).__name__}}: {{error}}",
    }})
print("OBSERVED" + json.dumps(seen))
"""


def _observe(steps: list[Step], marker: Path, with_cache: bool, cwd: Path) -> list[dict[str, Any]]:
    script = _SCRIPT.format(steps=steps, with_cache=with_cache, marker=str(marker))
    out = run_in_new_process(script, cwd=cwd)
    line = next(line for line in out.splitlines() if line.startswith("OBSERVED"))
    return list(json.loads(line[len("OBSERVED"):]))


def _difference(label: str, seen: list[dict[str, Any]], plain: list[dict[str, Any]]) -> str:
    index = next(i for i, (a, b) in enumerate(zip(seen, plain, strict=True)) if a != b)
    return f"{label} run differs from the plain run at step {index}: {seen[index]} != {plain[index]}"


def differential(steps: list[Step], tmp_path: Path, stored: bool = True,
                 runs: int | None = None) -> list[dict[str, Any]]:
    """Run ``steps`` plain, then cached cold and warm (new processes); assert all three look the same and the
    warm run ran no cached cell (every one again if ``stored`` is false; ``runs`` real runs of cached cells in
    both, if given). Returns the plain observations."""
    marker = tmp_path / "runs.txt"
    plain = _observe(steps, tmp_path / "plain-runs.txt", False, tmp_path)
    cold = _observe(steps, marker, True, tmp_path)
    warm = _observe(steps, marker, True, tmp_path)
    cached_steps = sum(1 for _, cached in steps if cached)
    assert cold == plain, _difference("cold cached", cold, plain)
    assert warm == plain, _difference("warm cached (after a restart)", warm, plain)
    expected = runs if runs is not None else cached_steps * (1 if stored else 2)
    assert marker.read_text() == "." * expected, "the warm run ran a cached cell again" if stored else "a hit"
    return plain
