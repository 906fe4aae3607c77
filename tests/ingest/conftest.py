"""An in-process server for the tests in this folder: the whole app (its lifespan starts
the real IngestRuntime: WAL, DuckDB, indexer thread, gRPC server on a free port) served by
uvicorn on a free port, with an ingest key and a read key in the control DB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest

from junjo.config import Settings
from junjo.features.ingest.runtime import IngestRuntime
from junjo.kernel.state import Launch
from junjo.server.app import create_app
from tests.conftest import LOCAL_TOKEN
from tests.support.export import grpc_call
from tests.support.keys import Keys, make_keys
from tests.support.span_store import query
from tests.support.uvicorn_thread import UvicornThread


@dataclass
class Harness:
    runtime: IngestRuntime
    http_url: str
    keys: Keys
    settings: Settings

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.runtime.grpc_port}"

    def call(
        self,
        method: str,
        payload: bytes,
        *,
        key: str | None = "ingest",
        compression: grpc.Compression | None = None,
    ) -> tuple[grpc.StatusCode, bytes | None, str]:
        """A raw unary call; ``key`` is "ingest", "read", None (no metadata) or a literal."""
        raw_key = {"ingest": self.keys.ingest, "read": self.keys.read}.get(key or "", key)
        return grpc_call(self.grpc_target, method, payload, raw_key, compression=compression)

    def stored(self, timeout: float = 20) -> list[tuple[str, str]]:
        """(trace_id, span_id) hex pairs in DuckDB, once the indexer has caught up."""
        assert self.runtime.indexer.flush(timeout), "indexer did not catch up"
        return query(self.runtime.store, "SELECT trace_id, span_id FROM spans")


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return make_keys(settings.data_dir)


@pytest.fixture
def start_server(settings: Settings, keys: Keys) -> Iterator[Callable[..., Harness]]:
    """``start_server(**settings_overrides)`` -> a running Harness, stopped at teardown."""
    stops: list[Callable[[], None]] = []
    defaults = settings  # the suite's settings fixture: this tmp_path, any free gRPC port

    def start(**overrides: Any) -> Harness:
        settings = replace(defaults, **overrides)
        app = create_app(settings, Launch(local_token=LOCAL_TOKEN))
        served = UvicornThread(app, lifespan="on")
        stops.append(served.stop)
        return Harness(app.state.junjo.get(IngestRuntime), served.url, keys, settings)

    yield start
    for stop in reversed(stops):
        stop()


@pytest.fixture
def server(start_server: Callable[..., Harness]) -> Harness:
    return start_server()
