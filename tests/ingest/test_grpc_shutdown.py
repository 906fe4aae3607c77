"""Stopping the OTLP/gRPC door with calls still open: each ends, and nothing is logged.

Before: grpc.aio's stop returned while the tasks of the calls it had cancelled were still
pending, the loop was closed under them, and the server log showed "Task was destroyed but
it is pending!" with a GeneratorExit traceback per call (a flaky SIGTERM test).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

import grpc
import pytest

from tests.support.export import TRACE_EXPORT
from tests.support.otlp_builders import new_ids, request_bytes

STALLED_CALLS = 30  # below the 32 streams a connection may have open


def test_stop_ends_calls_whose_grace_ran_out_without_an_error_logged(
    start_server, caplog: pytest.LogCaptureFixture
):
    server = start_server()  # calls may wait 30 s for their message: longer than the grace
    caplog.set_level(logging.WARNING)
    release = threading.Event()

    def never() -> Any:
        release.wait(30)
        yield from ()

    channel = grpc.insecure_channel(server.grpc_target)
    metadata = (("x-junjo-api-key", server.keys.ingest),)
    try:
        stalled = [
            channel.stream_unary(TRACE_EXPORT).future(never(), metadata=metadata)
            for _ in range(STALLED_CALLS)
        ]
        # Answered on the same connection after the stalled calls opened: they are in the
        # server, waiting for their messages.
        channel.unary_unary(TRACE_EXPORT)(request_bytes(new_ids(1)), metadata=metadata)

        started = time.monotonic()
        server.runtime.stop(grace=0.5)
        assert time.monotonic() - started < 5
        for call in stalled:
            assert isinstance(call.exception(timeout=10), grpc.RpcError)
    finally:
        release.set()
        channel.close()

    gc.collect()  # a task destroyed while pending is reported when it is collected
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
