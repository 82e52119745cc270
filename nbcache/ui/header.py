"""The panel's header as a hit first shows it: one ``comm_open`` made from a state template, no widget object.

Building an ipywidgets widget costs the kernel about a millisecond of traitlets work before its ``comm_open``
message (validating each trait, serialising its state); a cheap hit has about that much to spend in all. Every
header shows the same buttons with the same shared layout and style, so the state the frontend needs is a
template, made once per kernel from a widget that is never opened, with the header's text put in. The
``ToggleButtons`` widget behind that model is made only when the kernel must talk to it: the frontend sends a
message (a click, a state request) or the panel changes it (details, a progress bar, a new badge). It is then
built on the comm already open, sending nothing, since the frontend already holds the very state it starts with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w
from ipywidgets import __protocol_version__
from ipywidgets.comm import create_comm

# The header's two buttons, with their tooltips.
LABELS = ("recompute", "details")
TOOLTIPS = ("run the cell again (-f)", "key, inputs, outputs")


def header_args(description: str, tooltip: str, labels: tuple[str, ...], layout: Any, style: Any) -> dict[str, Any]:
    """The header's constructor arguments: the template and every adopted header are made from these alone."""
    return {"options": list(labels), "index": None, "description": description, "tooltip": tooltip,
            "description_allow_html": True, "tooltips": list(TOOLTIPS), "layout": layout, "style": style,
            "_dom_classes": ("nbcache-header",)}


class _Header(w.ToggleButtons):
    """A ``ToggleButtons`` on a comm that is already open (or, for the template, on none): it sends no
    ``comm_open`` and no update for the values it is made with, because ``open`` runs after they are set."""

    def __init__(self, opened: Any, **kwargs: Any) -> None:
        self._opened = opened
        super().__init__(**kwargs)

    def open(self) -> None:
        if self._opened is not None:
            self.comm = self._opened  # registers the widget on the comm (Widget._comm_changed), sends nothing


_templates: dict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = {}


def _template(layout: Any, style: Any, labels: tuple[str, ...]) -> dict[str, Any]:
    """The state of a header with these shared layout and style, from a widget never opened (no message);
    a layout or style made anew (after ``Widget.close_all()``) has a new model id, so a new template."""
    key = (layout.model_id, style.model_id, labels)
    state = _templates.get(key)
    if state is None:
        state = _templates[key] = _Header(None, **header_args("", "", labels, layout, style)).get_state()
    return state


class LightHeader:
    """The header's model, opened with one message; ``adopt`` makes its widget when it is first needed.

    ``on_message``: called with the first message the frontend sends on the comm (the panel adopts and hands
    the message to the widget, which receives every later one itself).
    """

    def __init__(self, description: str, tooltip: str, layout: Any, style: Any,
                 on_message: Callable[[dict[str, Any]], None]) -> None:
        self.args = header_args(description, tooltip, LABELS, layout, style)
        state = {**_template(layout, style, LABELS), "description": description, "tooltip": tooltip}
        self.comm = create_comm(target_name="jupyter.widget", data={"state": state, "buffer_paths": []},
                                metadata={"version": __protocol_version__})
        self.comm.on_msg(on_message)
        self.model_id: str = self.comm.comm_id

    def adopt(self) -> Any:
        """The ``ToggleButtons`` widget of this model, made on its open comm: no message is sent."""
        return _Header(self.comm, **self.args)
