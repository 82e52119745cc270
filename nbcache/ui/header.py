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
from ipywidgets.comm import create_comm, get_comm_manager
from jupyter_client.session import json_packer

from nbcache.ui import wire
from nbcache.ui.ids import new_id
from nbcache.ui.outbox import Outbox

_TARGET = "jupyter.widget"
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


_PACKED_OPEN_START = b'{"data": {"state": '
_PACKED_OPEN_END = b', "target_name": "' + _TARGET.encode() + b'", "target_module": null}'
_packed: dict[int, bytes] = {}  # by id of a template in ``_templates`` (which keeps it, so the id is not reused)


def _packed_template(state: dict[str, Any]) -> bytes:
    """A template's state packed as JSON without its description and tooltip, and without its closing brace:
    each header's own description and tooltip follow it."""
    packed = _packed.get(id(state))
    if packed is None:
        rest = {k: v for k, v in state.items() if k not in ("description", "tooltip")}
        packed = _packed[id(state)] = json_packer(rest)[:-1]
    return packed


def _kernel() -> Any:
    from ipykernel.kernelbase import Kernel  # delayed: only a kernel's comm gets here

    return Kernel.instance() if Kernel.initialized() else None


class LightHeader:
    """The header's model: ``open`` sends its one ``comm_open``; ``adopt`` makes its widget when first needed.

    ``on_message``: called with the first message the frontend sends on the comm (the panel adopts and hands
    the message to the widget, which receives every later one itself).
    """

    def __init__(self, description: str, tooltip: str, layout: Any, style: Any,
                 on_message: Callable[[dict[str, Any]], None]) -> None:
        self.args = header_args(description, tooltip, LABELS, layout, style)
        self._template = _template(layout, style, LABELS)
        self._on_message = on_message
        self.model_id = new_id()
        self.comm: Any = None

    def open(self, box: Outbox | None = None) -> None:
        """Open the model in the frontend (once): its ``comm_open`` queued in ``box``, else sent at once."""
        if self.comm is not None:
            return
        metadata = {"version": __protocol_version__}
        manager = get_comm_manager()
        if box is None or manager is None:
            self.comm = create_comm(target_name=_TARGET, data=self._data(), metadata=metadata, comm_id=self.model_id)
        else:  # registered as ``BaseComm.open`` does, its message queued with the display's
            self.comm = create_comm(target_name=_TARGET, comm_id=self.model_id, primary=False)
            if getattr(self.comm, "kernel", True) is None:  # ipykernel's comm learns it at its first send, and
                self.comm.kernel = _kernel()  # ipywidgets syncs a widget only once its comm knows a kernel
            manager.register_comm(self.comm)
            box.post("comm_open", self._content(box.plain), self.comm.topic, metadata)
        self.comm.on_msg(self._on_message)

    def _data(self) -> dict[str, Any]:
        state = {**self._template, "description": self.args["description"], "tooltip": self.args["tooltip"]}
        return {"state": state, "buffer_paths": []}

    def _content(self, as_bytes: bool) -> dict[str, Any] | bytes:
        """The ``comm_open`` content; ``as_bytes``: packed, from the template packed once (where the outbox packs
        messages itself, ``Outbox.plain``): the template's thirty-odd values cost each header about a tenth of a
        millisecond to pack."""
        if not as_bytes:
            return {"data": self._data(), "comm_id": self.model_id, "target_name": _TARGET, "target_module": None}
        return b"".join((_PACKED_OPEN_START, _packed_template(self._template), b', "description": ',
                         wire.packed(self.args["description"]), b', "tooltip": ', wire.packed(self.args["tooltip"]),
                         b'}, "buffer_paths": []}, "comm_id": "', self.model_id.encode(), b'"', _PACKED_OPEN_END))

    def adopt(self) -> Any:
        """The ``ToggleButtons`` widget of this model, made on its open comm: no message is sent."""
        self.open()
        return _Header(self.comm, **self.args)
