"""An in-process server for the tests in this folder: the whole app (its lifespan starts
the real IngestRuntime: WAL, DuckDB, indexer thread, gRPC server on a free port) served by
uvicorn on a free port, with an ingest key and a read key in the control DB."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import uvicorn

from junjo.config import Settings
from junjo.features.api_keys.service import create_key
from junjo.features.ingest.runtime import IngestRuntime
from junjo.kernel.control_db import ControlDB
from junjo.kernel.principal import Principal
from junjo.kernel.state import Launch
from junjo.server.app import create_app
from tests.ingest.spans_query import stored_span_keys
from tests.support.wait import wait_until

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# Stands for the operator, as the token a server writes to server.json does.
LOCAL_TOKEN = "local-operator-token"


@dataclass
class Keys:
    ingest: str
    ingest_id: str
    read: str
    control: ControlDB


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
        metadata = (("x-junjo-api-key", raw_key),) if raw_key else ()
        with grpc.insecure_channel(
            self.grpc_target, options=[("grpc.max_send_message_length", 256 << 20)]
        ) as channel:
            stub = channel.unary_unary(method)
            try:
                response = stub(payload, metadata=metadata, timeout=30, compression=compression)
            except grpc.RpcError as error:
                return error.code(), None, error.details() or ""
        return grpc.StatusCode.OK, response, ""

    def stored(self, timeout: float = 20) -> list[tuple[str, str]]:
        """(trace_id, span_id) hex pairs in DuckDB, once the indexer has caught up."""
        assert self.runtime.indexer.flush(timeout), "indexer did not catch up"
        return stored_span_keys(self.runtime.store)


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_data_dir()
    control = ControlDB(settings.control_db_path)
    operator = Principal.operator()
    ingest = create_key(control.db, operator, "exporter", "ingest")
    read = create_key(control.db, operator, "reader", "read")
    return Keys(ingest.key, ingest.api_key.id, read.key, control)


@pytest.fixture
def start_server(tmp_path: Path, keys: Keys) -> Iterator[Callable[..., Harness]]:
    """``start_server(**settings_overrides)`` -> a running Harness, stopped at teardown."""
    stops: list[Callable[[], None]] = []

    def start(**overrides: Any) -> Harness:
        settings = Settings(
            data_dir=tmp_path / "data",
            session_secret="test-secret-of-at-least-32-characters",
            grpc_port=0,
            **overrides,
        )
        app = create_app(settings, Launch(local_token=LOCAL_TOKEN))
        url, stop_http = _serve_in_thread(app)
        stops.append(stop_http)
        return Harness(app.state.junjo.get(IngestRuntime), url, keys, settings)

    yield start
    for stop in reversed(stops):
        stop()


@pytest.fixture
def server(start_server: Callable[..., Harness]) -> Harness:
    return start_server()


def _serve_in_thread(app: Any) -> tuple[str, Callable[[], None]]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop
