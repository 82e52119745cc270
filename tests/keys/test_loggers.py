"""The logging setting's reads: each one must see any change a cell can make, even though an unchanged
configuration is answered from the last read (``loggers._fingerprint``)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator

import pytest

from nbcache.keys import loggers


@pytest.fixture
def shown() -> Iterator[logging.Logger]:
    """A notebook's logger with a handler writing to stdout, removed afterwards."""
    logger = logging.getLogger("nbcache_reads")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    yield logger
    logger.handlers.clear()
    logger.filters.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate, logger.disabled = True, False
    logging.disable(logging.NOTSET)


def _other_handler(logger: logging.Logger) -> None:
    logger.handlers[0] = logging.StreamHandler(sys.stderr)


CHANGES: dict[str, Callable[[logging.Logger], object]] = {
    "level": lambda lg: lg.setLevel(logging.DEBUG),
    "level attribute": lambda lg: setattr(lg, "level", logging.INFO),
    "propagate": lambda lg: setattr(lg, "propagate", False),
    "disabled": lambda lg: setattr(lg, "disabled", True),
    "filter": lambda lg: lg.addFilter(logging.Filter("x")),
    "handlers cleared in place": lambda lg: lg.handlers.clear(),
    "a handler replaced in place": _other_handler,
    "a handler added": lambda lg: lg.handlers.append(logging.StreamHandler(sys.stderr)),
    "the handler's level": lambda lg: lg.handlers[0].setLevel(logging.ERROR),
    "the handler's formatter": lambda lg: lg.handlers[0].setFormatter(logging.Formatter("%(levelname)s")),
    "the formatter's format": lambda lg: setattr(lg.handlers[0].formatter, "_fmt", "%(name)s"),
    "the handler's stream": lambda lg: lg.handlers[0].setStream(io.StringIO()),
    "the handler's filters": lambda lg: lg.handlers[0].addFilter(logging.Filter("y")),
    "logging.disable": lambda lg: logging.disable(logging.INFO),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_read_sees_every_change_to_what_is_shown(shown: logging.Logger, change: Callable) -> None:
    before = loggers.read()
    assert loggers.read() == before  # answered from the last read
    change(shown)
    assert loggers.read() != before


def test_a_new_logger_of_the_notebook_counts_from_an_unconfigured_one() -> None:
    loggers.read()
    logger = logging.getLogger("nbcache_reads_new")
    try:
        logger.setLevel(logging.DEBUG)
        assert loggers.read()["nbcache_reads_new"][0] == logging.DEBUG
    finally:
        logger.setLevel(logging.NOTSET)
    assert "nbcache_reads_new" not in loggers.read()


def _full_read() -> dict:
    """A read that answers nothing from the last one."""
    loggers._LAST.fingerprint = ()
    return loggers.read()


def test_swapped_streams_answer_from_the_last_read_when_every_handler_writes_where_it_did(
        shown: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    """``capture_output`` swaps sys.stdout for each cell: a handler made on the stdout nbcache was loaded with
    still counts as shown, and the read is the last one, not a new walk of every logger."""
    before = _full_read()
    reads = []
    monkeypatch.setattr(loggers, "_read", lambda manager, real=loggers._read: reads.append(1) or real(manager))
    with monkeypatch.context() as swapped:
        swapped.setattr(sys, "stdout", io.StringIO())
        assert loggers.read() == before
        assert loggers.read() == before
    assert loggers.read() == before and reads == []


def test_swapped_streams_that_change_where_a_handler_writes_are_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler on a captured stream is shown only while that stream is sys.stdout: the read must follow."""
    captured = io.StringIO()
    logger = logging.getLogger("nbcache_captured")
    logger.addHandler(logging.StreamHandler(captured))
    try:
        outside = _full_read()
        with monkeypatch.context() as swapped:
            swapped.setattr(sys, "stdout", captured)
            inside = loggers.read()
            assert inside != outside and inside == _full_read()
        assert loggers.read() == outside == _full_read()
    finally:
        logger.handlers.clear()


def test_a_handler_that_follows_sys_stderr_answers_from_the_last_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """logging's last-resort handler class writes to whatever sys.stderr is (dill's logger has one): swapping the
    stream for each cell must not make every read a new walk."""
    logger = logging.getLogger("nbcache_follows")
    logger.addHandler(logging._StderrHandler())  # type: ignore[attr-defined]
    try:
        before = _full_read()
        reads = []
        monkeypatch.setattr(loggers, "_read", lambda manager, real=loggers._read: reads.append(1) or real(manager))
        for _ in range(2):
            with monkeypatch.context() as swapped:
                swapped.setattr(sys, "stderr", io.StringIO())
                assert loggers.read() == before
        assert reads == []
    finally:
        logger.handlers.clear()
