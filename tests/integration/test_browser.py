"""The panel and the cache browser as a user meets them, in JupyterLab and in Notebook 7, driven by headless Chromium.

Each step asserts what the user sees (text, the badge, a header whose badge and buttons keep their width) and saves
a screenshot to ``artifacts/browser/`` (git-ignored) so a failure can be seen, not guessed. With
``NBCACHE_SCREENSHOTS=docs/screenshots`` (``make screenshots``) the cells shown in the README are saved there too.
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

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
# Flags this closed network needs: no GPU, no QUIC, nothing phoning home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CELL = "%%cache\ny = 6 * 7\nprint('computed', y)"
UNHASHABLE = "%%cache\nwith lock:\n    total = sum(range(10))"  # a lock cannot be hashed: a long reason
FAILING = "%%cache\nratio = y / 0"
expect.set_options(timeout=20_000)  # a slow CI machine renders widgets late; a behaviour check, not a timing one

# Where each frontend opens a notebook file, and the server module that serves it.
FRONTENDS = {"lab": ("jupyterlab", "lab/tree/{name}?reset&token={token}"),
             "notebook": ("notebook", "notebooks/{name}?token={token}")}


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
        assert server.poll() is None, "the Jupyter server exited early"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the Jupyter server did not answer at {url}")


def _new_notebook(folder: Path, name: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / name)


@pytest.fixture(params=sorted(FRONTENDS))
def served(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A private server of one frontend with a new notebook; yields (frontend, URL of the notebook with token)."""
    frontend = request.param
    module, path = FRONTENDS[frontend]
    for var in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    _quiet_settings(tmp_path / "jupyterlab_settings_dir")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("NBCACHE_DIR", str(work / ".nbcache"))
    _new_notebook(work, "tour.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/status?token={token}", server)
        yield frontend, f"http://127.0.0.1:{port}/" + path.format(name="tour.ipynb", token=token)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page(tmp_path: Path, served: tuple[str, str]) -> Iterator[Page]:
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(served[1])
            yield page
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{served[0]}-last.png"))  # what the user saw at the end
        finally:
            context.close()


class Notebook:
    """The notebook in the page, with helpers that wait for the kernel as a user would."""

    def __init__(self, page: Page, frontend: str) -> None:
        self.page = page
        self.frontend = frontend
        self.step = 0
        self.docs = Path(os.environ["NBCACHE_SCREENSHOTS"]) if os.environ.get("NBCACHE_SCREENSHOTS") else None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        expect(self.cells).to_have_count(1, timeout=60_000)

    @property
    def cells(self) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputPrompt").inner_text()

    def type_into(self, index: int, code: str) -> None:
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.insert_text(code)

    def run(self, index: int, tries: int = 1) -> int:
        """Run a cell in place, wait until its prompt shows a new execution number; return that number.

        ``tries``: a run sent before the kernel is connected is lost, so the first cell may be sent again.
        """
        prompt = self.cell(index).locator(".jp-InputPrompt")
        before = prompt.inner_text()
        for attempt in range(tries):
            self.cell(index).locator(".cm-content").click()
            self.page.keyboard.press("Control+Enter")
            try:
                expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=60_000 if attempt == tries - 1 else 15_000)
                if prompt.inner_text() != before:
                    break
            except AssertionError:
                if attempt == tries - 1:
                    raise
        expect(prompt).not_to_have_text(before)
        return int(re.search(r"\d+", prompt.inner_text()).group())

    def add(self, code: str) -> int:
        """Append a cell with ``code``; return its index."""
        index = self.cells.count()
        self.cell(index - 1).locator(".cm-content").click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")
        expect(self.cells).to_have_count(index + 1)
        self.type_into(index, code)
        return index

    def badge(self, index: int) -> Locator:
        return self.cell(index).locator(".nbcache-badge")

    def button(self, index: int, name: str) -> Locator:
        return self.cell(index).locator(".nbcache-header button", has_text=re.compile(rf"^\s*{name}\s*$"))

    def shot(self, name: str, cell: int | None = None) -> None:
        self.step += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.frontend}-{self.step:02d}-{name}.png"))
        if self.docs is not None and cell is not None and self.frontend == "lab":
            self.docs.mkdir(parents=True, exist_ok=True)
            self.cell(cell).locator(".jp-Cell-outputWrapper").screenshot(path=str(self.docs / f"{name}.png"))

    def header_intact(self, index: int) -> dict[str, float]:
        """Assert the header is whole: the badge on one line and fully shown, each button its full width and inside
        the panel. Returns the buttons' widths, to compare between states."""
        boxes = self.cell(index).locator(".nbcache-header").evaluate(
            """header => {
                const r = el => el.getBoundingClientRect();
                const badge = header.querySelector('.nbcache-badge');
                const label = badge.closest('label');
                return {
                    header: r(header), badge: r(badge), label: r(label), lines: badge.getClientRects().length,
                    buttons: [...header.querySelectorAll('button')].map(b => ({
                        text: b.innerText.trim(), box: r(b), cut: b.scrollWidth > b.clientWidth + 1})),
                };
            }"""
        )
        assert boxes["lines"] == 1, "the badge wraps"
        assert boxes["badge"]["right"] <= boxes["label"]["right"] + 1, "the badge is cut off"
        for button in boxes["buttons"]:
            assert not button["cut"], f"button {button['text']!r} is cut"
            assert button["box"]["right"] <= boxes["header"]["right"] + 1, f"{button['text']!r} sticks out"
            assert button["box"]["top"] < boxes["badge"]["bottom"], f"{button['text']!r} wrapped below the badge"
        return {b["text"]: round(b["box"]["width"]) for b in boxes["buttons"]}


def _sidebar(nb: Notebook, opener: int) -> Locator:
    """The cache browser: in JupyterLab's right sidebar, in Notebook 7 (no sidebar for it) in the cell's output."""
    if nb.frontend == "lab":
        return nb.page.locator("#jp-right-stack .jupyterlab-sidecar .nbcache-browser")
    return nb.cell(opener).locator(".nbcache-browser")


def test_a_tour_of_every_state(page: Page, served: tuple[str, str]) -> None:
    nb = Notebook(page, served[0])
    nb.type_into(0, "%load_ext nbcache\nimport threading\nlock = threading.Lock()")
    nb.run(0, tries=4)
    expect(nb.cell(0).locator(".jp-OutputArea-output")).to_have_count(0)  # loading is silent

    cached = nb.add(CELL)
    nb.run(cached)
    expect(nb.badge(cached)).to_have_class(re.compile(r"\bnbcache-state-miss\b.*\bnbcache-stored\b"))
    expect(nb.badge(cached)).to_have_text("miss · stored")
    expect(nb.cell(cached)).to_contain_text("new cell")
    expect(nb.cell(cached)).to_contain_text("computed 42")
    widths = nb.header_intact(cached)
    nb.shot("miss", cached)

    nb.run(cached)
    expect(nb.badge(cached)).to_have_class(re.compile(r"\bnbcache-state-hit\b"))
    expect(nb.cell(cached)).to_contain_text("computed 42")  # the print, replayed
    assert nb.header_intact(cached) == widths
    nb.shot("hit", cached)

    nb.button(cached, "details").click()
    outputs = nb.cell(cached).locator(".nbcache-details-outputs")
    expect(outputs).to_contain_text("y")
    expect(outputs).to_contain_text("int")
    expect(nb.cell(cached).locator(".nbcache-details")).not_to_contain_text("print")  # no builtins
    expect(nb.cell(cached).locator(".nbcache-details")).not_to_contain_text("(none)")  # no empty sections
    nb.shot("details", cached)

    nb.button(cached, "recompute").click()
    expect(nb.badge(cached)).to_have_class(re.compile(r"\bnbcache-state-miss\b"))
    expect(nb.cell(cached)).to_contain_text("forced with -f")
    recomputed = nb.cell(cached).locator(".nbcache-recomputed")
    expect(recomputed).to_contain_text("computed 42")
    assert recomputed.inner_text().count("computed 42") == 1  # once, not twice
    nb.shot("recomputed", cached)

    unhashable = nb.add(UNHASHABLE)
    nb.run(unhashable)
    expect(nb.badge(unhashable)).to_have_class(re.compile(r"\bnbcache-state-not-cached\b"))
    expect(nb.cell(unhashable)).to_contain_text("input lock cannot be hashed")
    assert nb.header_intact(unhashable) == widths  # the long reason is cut, never the badge or the buttons
    nb.shot("not-cached", unhashable)

    failing = nb.add(FAILING)
    number = nb.run(failing)
    expect(nb.badge(failing)).to_have_class(re.compile(r"\bnbcache-state-failed\b"))
    error = nb.cell(failing).locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(error).to_contain_text("ZeroDivisionError")
    expect(error).to_contain_text(f"Cell In[{number}], line 2")
    expect(error).not_to_contain_text("run_cell_magic")
    expect(error).not_to_contain_text("skipping hidden")
    nb.button(failing, "details").click()
    expect(nb.cell(failing).locator(".nbcache-details")).to_contain_text("nothing was stored")
    expect(nb.cell(failing).get_by_role("button", name="clear this entry")).to_be_hidden()
    nb.shot("failed", failing)

    info = nb.add("%cache_info")
    nb.run(info)
    table = nb.cell(info).locator("table.nbcache-info")
    expect(table).to_contain_text("y = 6 * 7")
    expect(nb.cell(info)).to_contain_text("1 entry")
    expect(nb.cell(info)).to_contain_text(re.compile(r"of 10\.0 GiB"))
    nb.shot("cache-info", info)

    opener = nb.add("%cache_panel")
    nb.run(opener)
    sidebar = _sidebar(nb, opener)
    expect(sidebar).to_contain_text("1 entry")
    expect(sidebar.locator(".nbcache-entry")).to_have_count(1)
    expect(sidebar.locator(".nbcache-group")).to_contain_text("y")  # named by what it binds
    if nb.frontend == "notebook":
        expect(nb.page.locator(".jupyterlab-sidecar .nbcache-browser")).to_have_count(0)
    nb.shot("sidebar", None if nb.frontend == "lab" else opener)
    if nb.frontend == "lab" and nb.docs is not None:
        sidebar.screenshot(path=str(nb.docs / "sidebar.png"))

    sidebar.locator(".nbcache-entry input[type=checkbox]").check()
    sidebar.get_by_role("button", name="clear selected").click()
    expect(sidebar).to_contain_text("removed 1 entry")
    expect(sidebar).to_contain_text("0 entries")
    nb.shot("cleared")

    nb.run(cached)
    expect(nb.badge(cached)).to_have_class(re.compile(r"\bnbcache-state-miss\b"))
    expect(nb.cell(cached)).to_contain_text("entry cleared")
    expect(sidebar).to_contain_text("1 entry")  # the sidebar followed the new entry
    expect(sidebar).not_to_contain_text("removed 1 entry")  # and forgot the old message
    nb.shot("miss-again")
