"""The logging configuration a cell's printed log lines depend on, as a setting nbcache keys on.

Each named logger counts against a baseline, the state it is expected to have in any kernel that ran the same
code: a logger made while a module was being imported (a package sets up loggers of its own, torch adds handlers
to a dozen, not all named after a module) counts from its state when nbcache first sees it, since in another
kernel, or on a hit, the same import sets it up again. A logger made by the notebook's own code counts from an
unconfigured logger, so its whole configuration is keyed, whatever else the cell that made it imported. Loggers
that existed when nbcache was loaded count from their state then. The notebook's first change to a package's
logger (``setLevel``, handlers, filters) is noted as it is made.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from types import FrameType
from typing import Any

# The streams when nbcache was loaded: a library imported then made its handler on them, and code that captures
# output (IPython's capture_output, pytest) swaps sys.stdout for a while; a handler must count the same either way.
_LOADED_WITH = {"stdout": (sys.stdout, sys.__stdout__), "stderr": (sys.stderr, sys.__stderr__)}

UNCONFIGURED = (0, True, False, (), 0)  # (level, propagate, disabled, handlers shown, filters)
ROOT_DEFAULT = (30, True, False, (), 0)  # Python's root logger: WARNING, nothing shown


@dataclass
class _Baselines:
    states: dict[str, tuple | None] = field(default_factory=dict)  # by logger name, once first seen
    by_imports: set[str] = field(default_factory=set)  # loggers made while a module was being imported
    lock: threading.Lock = field(default_factory=threading.Lock)
    watching: bool = False


_BASELINES = _Baselines()


def _shown(handler: Any) -> str | None:
    """"stdout" or "stderr" for a handler that writes to the process's output (where a kernel's cell output is
    shown), else None: a file, or a stream of its own, is not the notebook's output."""
    stream = getattr(handler, "stream", None)
    if stream is None:
        return None
    return next((name for name, loaded in _LOADED_WITH.items()
                 if stream is getattr(sys, name) or any(stream is s for s in loaded)), None)


def _handler_state(handler: Any, where: str) -> tuple:
    formatter = handler.formatter
    return (where, type(handler).__qualname__, handler.level, getattr(formatter, "_fmt", None),
            getattr(formatter, "datefmt", None), len(handler.filters))


def _logger_state(logger: Any) -> tuple | None:
    shown = tuple(_handler_state(h, w) for h in logger.handlers if (w := _shown(h)))
    if not (shown or logger.propagate or not logger.handlers):
        return None  # its records reach only handlers that write elsewhere
    return (logger.level, logger.propagate, logger.disabled, shown, len(logger.filters))


def read() -> dict[str, Any]:
    """What decides the log lines a cell prints: ``logging.disable``, the root logger, and each other logger whose
    level, filters, output or handlers writing to stdout or stderr differ from its baseline. Handlers elsewhere
    (files, pytest's capture, the kernel's own terminal log) are left out."""
    if not _BASELINES.watching:
        watch()  # read before the extension was loaded (a test, the command line): the loggers now are the baseline
    manager = logging.Logger.manager
    loggers = [logging.root, *manager.loggerDict.values()]
    seen = _fingerprint(manager, loggers)
    if seen != _LAST.fingerprint:
        _LAST.fingerprint, _LAST.state = seen, _read(manager)
    return dict(_LAST.state)


@dataclass
class _LastRead:
    fingerprint: tuple = ()
    state: dict[str, Any] = field(default_factory=dict)


_LAST = _LastRead()


_LOGGER_FIELDS = attrgetter("level", "propagate", "disabled")
_HANDLERS, _FILTERS = attrgetter("handlers"), attrgetter("filters")


def _where(stream: Any) -> Any:
    """``_shown``'s answer for a handler writing to ``stream``, else the stream itself: a fingerprint holds what
    ``_read`` makes of the stream, not which objects ``sys.stdout`` and ``sys.stderr`` are (``capture_output``,
    ``%%capture`` and pytest swap them for each cell; logging's last-resort handler, which dill's logger has,
    writes to whatever ``sys.stderr`` is)."""
    if stream is None:
        return None
    out, err = _LOADED_WITH["stdout"], _LOADED_WITH["stderr"]
    if stream is sys.stdout or stream is out[0] or stream is out[1]:
        return "stdout"
    if stream is sys.stderr or stream is err[0] or stream is err[1]:
        return "stderr"
    return stream


def _handler_fields(handler: Any) -> tuple:
    formatter = getattr(handler, "formatter", None)
    return (type(handler), _where(getattr(handler, "stream", None)), getattr(handler, "level", None), formatter,
            getattr(formatter, "_fmt", None), getattr(formatter, "datefmt", None),
            len(getattr(handler, "filters", ())))


def _fingerprint(manager: Any, loggers: list) -> tuple:
    """Everything ``_read`` looks at, the loggers' gathered by C loops (a kernel with torch loaded has some 160
    loggers; reading each one's state in Python took 0.16 ms a look, and every keying looks). Handler lists are
    flattened into one list of handlers plus each list's length, so a handler added, removed or replaced changes
    it; each distinct handler's stream, level, formatter and filters count too, read in one pass (a few handlers
    serve all the loggers: a C loop per field cost more than the loop over them). A handler's stream counts by
    where it writes (``_where``)."""
    if logging.PlaceHolder in set(map(type, loggers)):
        loggers = [logger for logger in loggers if not isinstance(logger, logging.PlaceHolder)]
    handler_lists = list(map(_HANDLERS, loggers))
    handlers = list(chain.from_iterable(handler_lists))
    return (manager.disable, list(manager.loggerDict), loggers,
            list(map(_LOGGER_FIELDS, loggers)), list(map(len, map(_FILTERS, loggers))),
            list(map(len, handler_lists)), handlers, list(map(_handler_fields, dict.fromkeys(handlers))))


def _read(manager: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"<disable>": manager.disable, "<root>": _logger_state(logging.root)}
    for name, logger in list(manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue  # a placeholder for a logger not made yet
        entry = _logger_state(logger)
        if name not in _BASELINES.states:
            _BASELINES.states[name] = entry if name in _BASELINES.by_imports else UNCONFIGURED
        if entry != _BASELINES.states[name]:
            state[name] = entry
    return state


def default() -> dict[str, Any]:
    return {"<disable>": 0, "<root>": ROOT_DEFAULT}


def _importing(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def watch() -> None:
    """Note, from now on, which loggers are made while a module is imported, and take every logger that exists
    now as it is. Loggers are made rarely (a few per imported package), so a look up the stack for the import
    machinery costs nothing a cell would notice."""
    if _BASELINES.watching:
        return
    _BASELINES.watching = True
    manager = logging.Logger.manager
    make = manager.getLogger

    def get_logger(name: str) -> logging.Logger:
        made_before = isinstance(manager.loggerDict.get(name), logging.Logger)
        logger = make(name)
        if not made_before and _importing(sys._getframe(1)):
            with _BASELINES.lock:
                _BASELINES.by_imports.add(name)
        return logger

    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            _BASELINES.states.setdefault(name, _logger_state(logger))
    manager.getLogger = get_logger  # type: ignore[method-assign]
    for method in _CONFIGURING:
        setattr(logging.Logger, method, _noting_first_change(getattr(logging.Logger, method)))


# A package's logger, made at its import, counts from the state nbcache first sees. The notebook may reconfigure it
# in the very cell that imported the package, before nbcache looks (``logging.getLogger("matplotlib").setLevel``):
# so the first change made outside an import takes the state just before it as the baseline.
_CONFIGURING = ("setLevel", "addHandler", "removeHandler", "addFilter", "removeFilter")


def _noting_first_change(method: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(method)
    def configure(self: logging.Logger, *args: Any, **kwargs: Any) -> None:
        if self.name not in _BASELINES.states and self is not logging.root and not _importing(sys._getframe(1)):
            with _BASELINES.lock:
                _BASELINES.states.setdefault(self.name, _logger_state(self))
        method(self, *args, **kwargs)
    return configure
