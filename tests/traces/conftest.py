"""One real `junjo serve` per module, seeded through the real ingestion path: OTel SDK
gRPC and HTTP exporters (spans exported one request each, children before parents) and
the real junjo SDK workload."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from tests.conftest import PASSWORD
from tests.support.cli import CliResult, run_cli
from tests.support.export import grpc_exporter, http_exporter, tracer_provider
from tests.support.keys import make_keys
from tests.support.server import ServerProcess
from tests.support.wait import wait_until


@dataclass
class Seeded:
    server: ServerProcess
    data_dir: Path
    ingest_key: str
    read_key: str
    traces: dict[str, str] = field(default_factory=dict)  # label -> trace id
    manifest: dict | None = None

    def get(self, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.read_key}"}
        return httpx.get(self.server.url + path, params=params, headers=headers, timeout=10)

    def cli(self, *args: str) -> CliResult:
        return run_cli(self.data_dir, *args)

    def stopped_copy(self, destination: Path) -> Path:
        """A copy of the data dir as the server leaves it when it stops; then it runs again
        (same ports, same keys), so no test of the module has to run last."""
        self.server.stop()
        try:
            return Path(shutil.copytree(self.data_dir, destination))
        finally:
            self.server.start()


def _seed_otel(seeded: Seeded) -> None:
    target, key = seeded.server.grpc_target, seeded.ingest_key
    provider = tracer_provider("svc/a", grpc_exporter(target, key))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("chat-request") as root:
        root.set_attribute("customer.tier", "gold")
        with tracer.start_as_current_span("chat gpt-test", kind=SpanKind.CLIENT) as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-test")
            llm.set_attribute("gen_ai.usage.input_tokens", 11)
            llm.set_attribute("gen_ai.usage.output_tokens", 7)
    seeded.traces["llm"] = f"{root.get_span_context().trace_id:032x}"
    provider.shutdown()

    provider = tracer_provider("svc-b", http_exporter(seeded.server.url, key))
    tracer = provider.get_tracer("tests")
    with (
        tracer.start_as_current_span("nightly-job") as root,
        tracer.start_as_current_span("fetch") as child,
    ):
        try:
            raise TimeoutError("upstream took too long")
        except TimeoutError as exc:
            child.record_exception(exc)
            child.set_status(Status(StatusCode.ERROR, "upstream took too long"))
    seeded.traces["error"] = f"{root.get_span_context().trace_id:032x}"
    # A span whose parent lives in another system and is never sent here.
    remote = trace.set_span_in_context(
        NonRecordingSpan(
            SpanContext(0xFEED << 100, 0xBEEF, is_remote=True, trace_flags=TraceFlags(1))
        )
    )
    with tracer.start_as_current_span("handle-webhook", context=remote):
        pass
    seeded.traces["rootless"] = f"{0xFEED << 100:032x}"
    provider.shutdown()


def _wait_indexed(seeded: Seeded, expected_traces: int, timeout: float = 30) -> None:
    def indexed() -> bool:
        return len(seeded.get("/api/v1/traces", limit="100").json()["traces"]) >= expected_traces

    wait_until(indexed, timeout, interval=0.1, message="traces were not indexed in time")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from scripts.sdk_e2e.run import run_workload

    data_dir = tmp_path_factory.mktemp("traces") / "data"
    run_cli(data_dir, "user", "add", "a@example.com", "--password-stdin", stdin=PASSWORD)
    keys = make_keys(data_dir)
    server = ServerProcess(data_dir).start()
    seeded = Seeded(server, data_dir, keys.ingest, keys.read)
    try:
        _seed_otel(seeded)
        seeded.manifest = run_workload(server.grpc_target, keys.ingest, service_name="junjo-e2e")
        _wait_indexed(seeded, 3 + len(seeded.manifest["summary"]["trace_ids"]))
        yield seeded
    finally:
        server.stop()
        server.kill()
