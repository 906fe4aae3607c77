"""The log handler ``junjo serve`` installs: bursts of one line are collapsed."""

from __future__ import annotations

import io
import logging

import pytest

from junjo.server.logging import RepeatFilter


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO, RepeatFilter]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    repeat = RepeatFilter(window_s=60)
    handler.addFilter(repeat)
    logger = logging.getLogger("junjo.test.repeat")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream, repeat
    logger.handlers[:] = []
    logger.propagate = True


def test_a_burst_of_one_line_is_written_once_then_counted(logged, monkeypatch):
    logger, stream, repeat = logged
    for _ in range(10_000):
        logger.error("socket.accept() out of system resource")
    logger.error("something else")
    assert stream.getvalue().splitlines() == [
        "socket.accept() out of system resource",
        "something else",
    ]
    monkeypatch.setattr(repeat, "_window_s", 0)  # the window is over
    logger.error("socket.accept() out of system resource")
    assert (
        stream.getvalue()
        .splitlines()[-1]
        .startswith("socket.accept() out of system resource [repeated 9999 more times in ")
    )


def test_lines_that_differ_are_all_written(logged):
    logger, stream, _ = logged
    for number in range(100):
        logger.info("GET /health 200 %d.0ms", number)
    assert len(stream.getvalue().splitlines()) == 100
