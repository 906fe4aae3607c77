"""Two kinds of data for the tests in this folder:

- ``seeded``: one real `junjo serve` per module, seeded through the real ingestion path:
  OTel SDK gRPC and HTTP exporters (spans exported one request each, children before
  parents) and the real junjo SDK workload;
- ``stored``: a data dir with no server whose span store holds a few known traces, written
  as the indexer writes them, for the read side's unit tests (queries, client, render).
"""

from __future__ import annotations

import shutil
import time
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

from junjo.config import Settings
from junjo.features.spans.store import SpanStore
from junjo.features.traces.client import TraceSource, open_source
from tests.conftest import PASSWORD
from tests.support.cli import CliResult, run_cli
from tests.support.export import grpc_exporter, http_exporter, tracer_provider
from tests.support.keys import make_keys
from tests.support.otlp_builders import (
    MS,
    T0,
    junjo_node_span,
    junjo_workflow_span,
    llm_span,
    make_event,
    make_span,
    new_span_id,
    new_trace_id,
    set_state_event,
)
from tests.support.server import ServerProcess
from tests.support.span_store import write_spans
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


@dataclass(frozen=True)
class Stored:
    """What ``stored`` wrote; ``ids`` maps each trace's label to its id (hex):

    - ``checkout`` (service shop, at T0, 10 ms): root ``checkout`` and ``charge-card``, which
      failed (an exception event) and has ``customer.tier=gold``;
    - ``chat`` (assistant, T0 + 20 ms): root ``answer`` and an LLM call, 12 + 30 tokens;
    - ``refund`` (shop, T0 + 40 ms): one span;
    - ``orphan`` (shop, T0 + 60 ms): ``late-child``, whose parent never arrived;
    - ``workflow`` (flows, T0 + 80 ms): a workflow run and its two nodes, whose set_state
      events take the state from ``WORKFLOW_START`` to ``WORKFLOW_END``;
    - ``tie-a``, ``tie-b`` (tie, both at T0 + 100 ms): indexed after ``indexed_between``.
    """

    data_dir: Path
    ids: dict[str, str]
    indexed_between: int

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    def newest_start_ns(self) -> int:
        return T0 + 100 * MS  # the ties'

    def newest_first(self) -> list[str]:
        ties = sorted([self.ids["tie-a"], self.ids["tie-b"]], reverse=True)  # then by id
        return [*ties, *(self.ids[label] for label in _BY_START[::-1])]


_BY_START = ["checkout", "chat", "refund", "orphan", "workflow"]
TIES = ("tie-a", "tie-b")


WORKFLOW_START = {"status": "new", "draft": "old"}
WORKFLOW_END = {"status": "done", "notes": ["checked"]}
WORKFLOW_PATCHES = [
    ("open", [{"op": "replace", "path": "/status", "value": "open"},
              {"op": "add", "path": "/notes", "value": ["checked"]}]),
    ("close", [{"op": "remove", "path": "/draft"},
               {"op": "replace", "path": "/status", "value": "done"}]),
]  # fmt: skip


def _workflow(trace_id: bytes, start: int) -> list:
    run = new_span_id()
    nodes = [
        junjo_node_span(
            trace_id=trace_id, parent_span_id=run, node_id=f"node-{n}", name=f"Node{n}",
            start_ns=start + (n + 1) * MS,
            events=[set_state_event(store_id="store-1", sequence=n + 1, action=action,
                                    patch=patch, time_ns=start + (n + 1) * MS + 1,
                                    event_id=f"evt-{n}")],
        )
        for n, (action, patch) in enumerate(WORKFLOW_PATCHES)
    ]  # fmt: skip
    owner = junjo_workflow_span(
        trace_id=trace_id, span_id=run, name="Ticket flow", state_start=WORKFLOW_START,
        state_end=WORKFLOW_END, transitions=2, start_ns=start, end_ns=start + 4 * MS,
    )  # fmt: skip
    return [*nodes, owner]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    data_dir = tmp_path_factory.mktemp("stored") / "data"
    settings = Settings(data_dir=data_dir)
    settings.ensure_data_dir()
    ids: dict[str, bytes] = {label: new_trace_id() for label in [*_BY_START, *TIES]}
    with SpanStore.open(settings.spans_db_path) as store:
        checkout_root = new_span_id()
        declined = make_event(
            "exception",
            T0 + 2 * MS,
            {"exception.type": "PaymentError", "exception.message": "card declined"},
        )
        write_spans(store, 1, [
            make_span(trace_id=ids["checkout"], span_id=checkout_root, name="checkout",
                      end_ns=T0 + 10 * MS),
            make_span(trace_id=ids["checkout"], parent_span_id=checkout_root, name="charge-card",
                      start_ns=T0 + MS, end_ns=T0 + 4 * MS, status_code=2,
                      status_message="card declined", attributes={"customer.tier": "gold"},
                      events=[declined]),
            make_span(trace_id=ids["refund"], name="refund", start_ns=T0 + 40 * MS),
            make_span(trace_id=ids["orphan"], parent_span_id=new_span_id(), name="late-child",
                      start_ns=T0 + 60 * MS),
        ], service="shop")  # fmt: skip
        answer = new_span_id()
        write_spans(store, 2, [
            make_span(trace_id=ids["chat"], span_id=answer, name="answer", start_ns=T0 + 20 * MS,
                      end_ns=T0 + 25 * MS),
            llm_span(trace_id=ids["chat"], parent_span_id=answer, start_ns=T0 + 21 * MS),
        ], service="assistant")  # fmt: skip
        write_spans(store, 3, _workflow(ids["workflow"], T0 + 80 * MS), service="flows")
        between = time.time_ns()  # indexed_at_ns is the wall clock (in ns) when written
        ties = [make_span(trace_id=ids[t], name=t, start_ns=T0 + 100 * MS) for t in TIES]
        write_spans(store, 4, ties, service="tie")
    return Stored(data_dir, {label: trace_id.hex() for label, trace_id in ids.items()}, between)


@pytest.fixture
def files(stored: Stored) -> Iterator[TraceSource]:
    """``junjo traces``'s source for the stored data dir: its files (no server runs)."""
    source = open_source(stored.settings, None, None)
    yield source
    source.close()
