"""The panel and the sidebar as a user meets them: JupyterLab on 127.0.0.1 driven by headless Chromium.

Screenshots of each step go to ``artifacts/browser/`` (git-ignored) so a failure can be seen, not guessed.
Needs Debian's Chromium at /usr/bin/chromium (``make test`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
# Flags this closed network needs: no GPU, no QUIC, nothing phoning home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CELL = "%%cache\ny = 6 * 7\nprint('computed', y)"
expect.set_options(timeout=20_000)  # a slow CI machine renders widgets late; a behaviour check, not a timing one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quiet_settings(settings: Path) -> None:
    """No first-run toast asking about news: it would cover the notebook."""
    path = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _wait_ready(url: str, server: subprocess.Popen, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert server.poll() is None, "jupyter lab exited early"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer at {url}")


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private JupyterLab server; yields its /lab URL with the token. The kernel imports this checkout."""
    for var in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    _quiet_settings(tmp_path / "jupyterlab_settings_dir")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                      os.environ.get("PYTHONPATH", "")]))
    root = tmp_path / "work"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "wb"),
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/status?token={token}", server)
        yield f"http://127.0.0.1:{port}/lab?reset&token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page(tmp_path: Path, lab: str) -> Iterator[Page]:
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(lab)
            yield page
        finally:
            context.close()


class Notebook:
    """A new notebook in the Lab page, with helpers that wait for the kernel as a user would."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.step = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
        self.idle()

    def idle(self) -> None:
        expect(self.page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)

    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def type_into(self, index: int, code: str) -> None:
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.insert_text(code)

    def run(self, index: int) -> None:
        """Run a cell in place and wait until its prompt shows a new execution number."""
        prompt = self.cell(index).locator(".jp-InputPrompt")
        before = prompt.inner_text()
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.press("Control+Enter")
        expect(prompt).not_to_have_text(before, timeout=60_000)
        expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=60_000)
        self.idle()

    def add(self, code: str) -> int:
        """Append a cell with ``code``; return its index."""
        index = self.page.locator(".jp-Notebook .jp-Cell").count()
        self.cell(index - 1).locator(".cm-content").click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")
        expect(self.page.locator(".jp-Notebook .jp-Cell")).to_have_count(index + 1)
        self.type_into(index, code)
        return index

    def badge(self, index: int) -> Locator:
        return self.cell(index).locator(".nbcache-badge")

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.step:02d}-{name}.png"))


def test_miss_hit_details_sidebar_clear_and_miss_again(page: Page) -> None:
    nb = Notebook(page)
    nb.type_into(0, "%load_ext nbcache")
    nb.run(0)
    cached = nb.add(CELL)
    nb.run(cached)
    expect(nb.badge(cached)).to_have_attribute("data-state", "miss,stored")
    expect(nb.cell(cached)).to_contain_text("new cell")
    nb.shot("miss")

    nb.run(cached)
    expect(nb.badge(cached)).to_have_attribute("data-state", "hit")
    expect(nb.cell(cached)).to_contain_text("computed 42")  # the print, replayed
    nb.shot("hit")

    nb.cell(cached).get_by_role("button", name="details").click()
    expect(nb.cell(cached).locator(".nbcache-details-outputs")).to_contain_text("y")
    expect(nb.cell(cached).locator(".nbcache-details-outputs")).to_contain_text("int")
    nb.shot("details")

    nb.cell(cached).get_by_role("button", name="recompute").click()
    expect(nb.badge(cached)).to_have_attribute("data-state", "miss,stored")
    expect(nb.cell(cached)).to_contain_text("forced with -f")
    expect(nb.cell(cached).locator(".nbcache-panel .jp-OutputArea")).to_contain_text("computed 42")
    nb.shot("recomputed")

    opener = nb.add("%cache_panel")
    nb.run(opener)
    sidebar = page.locator("#jp-right-stack .jupyterlab-sidecar .nbcache-browser")
    expect(sidebar).to_contain_text("1 entry")
    expect(sidebar.locator(".nbcache-entry")).to_have_count(1)
    nb.shot("sidebar")

    sidebar.locator(".nbcache-entry input[type=checkbox]").check()
    sidebar.get_by_role("button", name="clear selected").click()
    expect(sidebar).to_contain_text("removed 1 entry")
    expect(sidebar).to_contain_text("0 entries")
    nb.shot("cleared")

    nb.run(cached)
    expect(nb.badge(cached)).to_have_attribute("data-state", "miss,stored")
    expect(sidebar).to_contain_text("1 entry")  # the sidebar followed the new entry
    nb.shot("miss-again")
