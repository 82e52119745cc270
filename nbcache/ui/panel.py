"""The status panel under a cached cell: a badge, what it cost or saved, "recompute", and details on demand.

It is a ``Reporter`` (see ``report.py``): the cell flow tells it "running", "saving", "done", and it shows them.
Its display bundle carries the status line as ``text/plain``, so a notebook run without a widget frontend
(nbclient, nbconvert) still holds the same text as the stderr line, and the saved notebook shows it.

Every widget is a comm the kernel opens with a message, and a hit must cost about a millisecond: the header is
four widgets (one HTML for badge and summary, two buttons, their box) sharing layouts and styles made once per
kernel, a hit shows it once with its final text, and the details, the progress bar and the recompute output are
built only when they are needed.
"""

from __future__ import annotations

import html
import traceback
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Any

import ipywidgets as w
from IPython import get_ipython
from IPython.display import display, update_display
from ipywidgets.widgets.widget_button import ButtonStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from nbcache.store.clearing import ClearRequest, clear
from nbcache.ui import sidebar
from nbcache.ui.details import details_html
from nbcache.ui.progress import SaveTicker
from nbcache.ui.report import CellState, CellStatus
from nbcache.units import human_size, human_time

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The header's label shows its HTML through the frontend's sanitizer, which keeps classes but drops inline styles:
# the look comes from this style sheet, held by one hidden HTML widget that every panel shares.
_CSS = """<style>
.nbcache-badge { color: #fff; background: #757575; border-radius: 4px; padding: 1px 7px; font-weight: 600;
  white-space: nowrap; }
.nbcache-state-hit { background: #2e7d32; } .nbcache-state-miss { background: #ef6c00; }
.nbcache-state-failed { background: #c62828; }
.nbcache-state-running, .nbcache-state-restoring, .nbcache-state-waiting, .nbcache-state-saving {
  background: #1565c0; }
.nbcache-header { display: flex; flex-wrap: nowrap; align-items: center; }
.nbcache-header > .widget-label { flex: 1 1 auto; width: auto !important; min-width: 0; max-width: none;
  text-align: left; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; margin-right: 8px; }
.nbcache-header > div { flex: none; display: flex; flex-wrap: nowrap; }
.nbcache-header button { width: auto !important; padding: 0 10px; }
</style>"""


def badge_html(state: CellState, stored: bool = False) -> str:
    """The coloured badge: its classes say the state (``nbcache-state-miss nbcache-stored``), and so does the
    ``data-state`` the saved widget state keeps (the browser's sanitizer drops it)."""
    label = "miss · stored" if stored else state.value
    classes = f"nbcache-badge nbcache-state-{state.value.replace(' ', '-')}" + (" nbcache-stored" if stored else "")
    return (f'<span class="{classes}" data-state="{state.value}" data-stored="{str(stored).lower()}">'
            f'{html.escape(label)}</span>')


def header_html(state: CellState, summary: str, stored: bool = False) -> str:
    """Badge, then the summary, inline (the header's label allows inline tags only); the label cuts a long summary
    with an ellipsis, and its tooltip holds the full text."""
    return f'{badge_html(state, stored)} <span class="nbcache-summary">{html.escape(summary)}</span>'


def summary_text(status: CellStatus) -> str:
    """The facts after the badge, as plain words."""
    size = human_size(status.size) if status.size is not None else "nothing"
    if status.state is CellState.HIT:
        return f"restored {size} in {human_time(status.elapsed_s)} · saved {human_time(status.saved_s)}"
    if status.state is CellState.MISS:
        stored = f"stored {size}" if status.size is not None else "not stored"
        will = f" · will save ~{human_time(status.saved_s)}" if status.size is not None else ""
        return f"{status.reason} · ran in {human_time(status.elapsed_s)} · {stored}{will}"
    return status.reason


def _publish(bundle: dict[str, Any], display_id: str, update: bool) -> None:
    """Send the panel's display (or its update) as ``display`` would, without flushing stdout and stderr first.

    ipykernel's publisher flushes both streams before every display, and each flush waits for its I/O thread:
    two round trips that cost a cheap hit more than the rest of the panel. The panel is shown before the cell's
    own output (a miss shows it before running, a hit before replaying), when nothing is waiting to be flushed.
    Outside a kernel (or with another publisher) it is a plain ``display``.
    """
    pub: Any = getattr(get_ipython(), "display_pub", None)
    session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
    if session is None or socket is None:
        (update_display if update else display)(bundle, raw=True, display_id=display_id)
        return
    kind = "update_display_data" if update else "display_data"
    msg = session.msg(kind, {"data": bundle, "metadata": {}, "transient": {"display_id": display_id}},
                      parent=pub.parent_header)
    for hook in pub._hooks:  # e.g. an Output widget capturing from a thread
        msg = hook(msg)
        if msg is None:
            return
    session.send(socket, msg, ident=pub.topic)


class _Shared:
    """Layouts and styles every panel's widgets share: made once per kernel, so a panel opens no comm for them.

    Nothing may change them after they are made (a change would show in every panel).
    """

    _made: dict[str, Any] = {}

    @classmethod
    def get(cls, name: str) -> Any:
        made = cls._made.get(name)
        if made is None or made.comm is None:  # never made, or closed since (``Widget.close_all()``)
            made = cls._made[name] = cls._make(name)
        return made

    @staticmethod
    def _make(name: str) -> Any:
        return {
            "root": lambda: w.Layout(width="100%"),
            "css": lambda: w.HTML(_CSS, layout=w.Layout(display="none")),
            "header": lambda: w.Layout(width="100%"),
            "header_style": lambda: ToggleButtonsStyle(description_width="auto", button_width="auto"),
            "below": lambda: w.Layout(width="100%"),
            "html_style": lambda: HTMLStyle(),
            "button": lambda: w.Layout(width="auto"),
            "button_style": lambda: ButtonStyle(),
        }[name]()


class _Action(int, Enum):
    """The header's two buttons, by their position."""

    RECOMPUTE = 0
    DETAILS = 1


class StatusPanel:
    """One cell's panel. ``recompute`` re-runs the cell with -f, reporting to this same panel.

    The header is one ``ToggleButtons`` widget: its HTML description is the badge and the summary, its two
    buttons are "recompute" and "details". It sits in a box that the details, a progress bar and the recomputed
    output join when they are first needed.
    """

    progress_delay_s = 1.0  # saves quicker than this show no bar

    def __init__(self, store: Any, recompute: Callable[[StatusPanel], Any] | None = None) -> None:
        self.store = store
        self._recompute = recompute
        self.status: CellStatus | None = None
        self.state = CellState.RUNNING
        self.summary = ""
        self._saving = ""
        self.details_open = False
        self._ticker: SaveTicker | None = None
        self._display_id = f"nbcache-{uuid.uuid4().hex}"
        self._shown = False
        self._recomputing = False
        self.root: Any = None  # the widgets, built at the first state worth showing
        self.progress: Any = None
        self.details_box: Any = None
        self.out: Any = None

    # ---- widgets
    def _build(self, text: str, tooltip: str) -> None:
        self.header = w.ToggleButtons(
            options=self._labels(), index=None, description=text, tooltip=tooltip, description_allow_html=True,
            tooltips=["run the cell again (-f)", "key, inputs, outputs"],
            layout=_Shared.get("header"), style=_Shared.get("header_style"), _dom_classes=("nbcache-header",),
        )
        self.header.observe(self._on_click, names="index")
        # Classes given at creation: add_class afterwards would cost a message of its own.
        self.root = w.VBox([_Shared.get("css"), self.header], layout=_Shared.get("root"),
                           _dom_classes=("nbcache-panel",))

    def _labels(self) -> list[str]:
        return ["recompute", "hide details" if self.details_open else "details"]

    def _set(self, state: CellState, summary: str) -> None:
        self.state, self.summary = state, summary
        stored = self.status is not None and self.status.stored and state is CellState.MISS
        text = header_html(state, summary, stored)
        if self.root is None:
            self._build(text, summary)  # created with its text: no update message
            return
        with self.header.hold_sync():  # one message for both
            self.header.description, self.header.tooltip = text, summary

    def _on_click(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        self.header.index = None  # the buttons act, they do not stay pressed
        if change["new"] == _Action.RECOMPUTE:
            self.recompute()
        else:
            self.toggle_details()

    def _bundle(self, text: str) -> dict[str, Any]:
        view = {"version_major": 2, "version_minor": 0, "model_id": self.root.model_id}
        return {"text/plain": text, _WIDGET_VIEW: view}

    def _show(self, text: str, again: bool = False) -> None:
        """Display once; later calls replace the display's text so the saved notebook holds the final line.

        ``again``: the cell cleared its output (and the panel with it), so show it anew.
        During "recompute" the panel is already shown and its widgets update it; a display made then would land
        in the panel's own output area.
        """
        if self._recomputing:
            return
        if again:
            self._display_id = f"nbcache-{uuid.uuid4().hex}"
        update = self._shown and not again
        self._shown = True
        _publish(self._bundle(text), self._display_id, update)

    # ---- Reporter
    def begin(self, state: CellState, reason: str = "") -> None:
        if state is CellState.RESTORING and self.root is None and not self._recomputing:
            self._hold_place()
            return
        self._set(state, reason)
        self._show(f"nbcache: {state.value}" + (f" ({reason})" if reason else ""))

    def _hold_place(self) -> None:
        """A hit: its facts follow in a moment. A plain display holds the panel's place above the replayed output,
        and the widgets are built once, with the final text, by ``done`` (no state update, no comm message more)."""
        self.state = CellState.RESTORING
        self._shown = True
        _publish({"text/plain": "nbcache: restoring"}, self._display_id, update=False)

    def saving(self, approx_bytes: int) -> None:
        """A save shows (badge "saving" and a bar) only once it has taken ``progress_delay_s``: most are quicker."""
        self._stop_progress()
        self._saving = f"saving ~{human_size(approx_bytes)}…"
        self._ticker = SaveTicker(self._show_progress, approx_bytes, self.progress_delay_s).start()

    def _show_progress(self, fraction: float) -> None:
        if self.progress is None:
            self._set(CellState.SAVING, self._saving)
            self.progress = w.IntProgress(value=0, max=100, bar_style="info", layout=_Shared.get("below"))
            self.root.children = (*self.root.children, self.progress)
        self.progress.value = round(fraction * 100)

    def _stop_progress(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if self.progress is not None:
            self.root.children = tuple(c for c in self.root.children if c is not self.progress)
            self.progress = None

    def failed(self, error: BaseException) -> None:
        self._stop_progress()
        self.status = None
        self._set(CellState.FAILED, f"the cell raised {type(error).__name__}; nothing was cached")
        self._show(f"nbcache: not cached (the cell raised {type(error).__name__})")

    def done(self, status: CellStatus) -> None:
        self._stop_progress()
        self.status = status
        self._set(status.state, summary_text(status))
        if self.details_box is not None:
            self._fill_details()
        self._show(status.line, again=status.cleared_output)  # open sidebars refresh after the cell (post_run_cell)

    # ---- details and buttons, built on first use
    def _build_details(self) -> None:
        self.details = w.HTML("", layout=_Shared.get("below"), style=_Shared.get("html_style"))
        self.clear_button = w.Button(description="clear this entry", icon="trash", layout=_Shared.get("button"),
                                     style=_Shared.get("button_style"))
        self.clear_button.on_click(lambda _: self.clear())
        self.message = w.HTML("", style=_Shared.get("html_style"))
        self.details_box = w.VBox([self.details, w.HBox([self.clear_button, self.message])],
                                  layout=w.Layout(width="100%", display="none"))
        self.details_box.add_class("nbcache-details")
        self.root.children = (*self.root.children, self.details_box)

    def _fill_details(self) -> None:
        status = self.status
        self.details.value = details_html(status, self.state, self.store)
        stored = status is not None and status.size is not None and self.state is not CellState.CLEARED
        self.clear_button.layout.display = "" if stored else "none"  # nothing stored: nothing to clear

    def toggle_details(self) -> None:
        self.details_open = not self.details_open
        if self.details_box is None:
            self._build_details()
        self.details_box.layout.display = "" if self.details_open else "none"
        self.header.options = self._labels()
        self.header.index = None
        if self.details_open:
            self._fill_details()

    def recompute(self) -> None:
        if self._recompute is None:
            return
        if self.out is None:
            self.out = w.Output(layout=_Shared.get("below"))
            self.out.add_class("nbcache-recomputed")
            self.root.children = (*self.root.children, self.out)
        self.out.clear_output()
        self._recomputing = True
        with self.out:  # the recomputed cell's prints, displays and errors show inside the panel
            try:
                print("recomputed with -f; its output:")
                value = self._recompute(self)
                if value is not None:
                    display(value)
            except Exception:
                traceback.print_exc()  # into the panel's output area, where the user is looking
            finally:
                self._recomputing = False
        sidebar.notify()  # a button click is no cell run: tell open sidebars here

    def clear(self) -> None:
        if self.status is None or not self.status.key:
            return
        removed = clear(self.store, ClearRequest(keys=(self.status.key,)))
        self._set(CellState.CLEARED, "entry removed; the next run computes again" if removed else "entry already gone")
        if self.details_box is not None:
            self._fill_details()
        sidebar.notify()
