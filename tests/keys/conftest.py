"""Object-string arrays reach one digest by two routes: the C accelerator (``nbcache/_strhash.c``) and the
pure-Python fallback a machine without a compiler uses. Tests that take ``string_route`` run under each route
this build has, so both stay tested and agree (test_strhash.py requires the accelerator wherever a compiler is)."""

from __future__ import annotations

import pytest

from nbcache.keys import arrays

C, PYTHON = "c", "python"
ROUTES = [PYTHON, C] if arrays.accelerator is not None else [PYTHON]


@pytest.fixture(params=ROUTES)
def string_route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == PYTHON:
        monkeypatch.setattr(arrays, "accelerator", None)
    return str(request.param)
