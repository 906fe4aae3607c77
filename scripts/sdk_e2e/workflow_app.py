"""A realistic app built on the real `junjo` SDK. Runs ONLY inside the SDK venv (see venv.py).

Each run executes two workflows, each its own trace:

* "Support Ticket Triage" completes: nodes writing state, a RunConcurrent group, an
  OpenInference LLM child span, a Subflow with its own store that also writes to the parent
  store, a conditional branch and a no-op store write.
* "Order Enrichment" fails: a node raises inside a RunConcurrent group, so a sibling is
  cancelled and the group and workflow end in ERROR. The failure is caught here.

Spans go to `--endpoint` through `JunjoOtelExporter`, exactly as an SDK user wires it. An
in-memory exporter on the same provider records the same spans, and a JSON manifest of them is
printed to stdout. Exit code 2 means the OTLP export failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from junjo.telemetry.junjo_otel_exporter import JunjoOtelExporter
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field

# The SDK, not this repo's package: ruff files `junjo` as first-party because of the name clash.
import junjo
from junjo import (
    BaseState,
    BaseStore,
    Condition,
    Edge,
    ExecutionCorrelation,
    Graph,
    Node,
    RunConcurrent,
    Subflow,
    Workflow,
    WorkflowExecutionError,
)

MANIFEST_VERSION = 1
LLM_TRACER = "e2e.fake_llm"
FILLER = ("invoice", "refund", "shipment", "delay", "warranty", "account", "password", "login")


# ------------------------------------------------------------------ ticket workflow (completes)
class TicketState(BaseState):
    ticket_id: str
    raw_text: str
    words: list[str] = Field(default_factory=list)
    context: str | None = None
    word_count: int | None = None
    sentiment: str | None = None
    summary: str | None = None
    escalated: bool = False
    status: str = "new"


class TicketStore(BaseStore[TicketState]):
    async def set_words(self, words: list[str]) -> None:
        await self.set_state({"words": words})

    async def set_context(self, context: str) -> None:
        await self.set_state({"context": context})

    async def set_word_count(self, count: int) -> None:
        await self.set_state({"word_count": count})

    async def set_sentiment(self, sentiment: str) -> None:
        await self.set_state({"sentiment": sentiment})

    async def set_summary(self, summary: str) -> None:
        await self.set_state({"summary": summary})

    async def mark_escalated(self) -> None:
        await self.set_state({"escalated": True})

    async def set_status(self, status: str) -> None:
        await self.set_state({"status": status})

    async def confirm_status(self) -> None:
        """Idempotent re-write of the current status: a no-op transition (patch `[]`)."""
        state = await self.get_state()
        await self.set_state({"status": state.status})


class SummaryState(BaseState):
    words: list[str] = Field(default_factory=list)
    draft: str | None = None
    summary: str | None = None


class SummaryStore(BaseStore[SummaryState]):
    async def load_words(self, words: list[str]) -> None:
        await self.set_state({"words": words})

    async def set_draft(self, draft: str) -> None:
        await self.set_state({"draft": draft})

    async def set_summary(self, summary: str) -> None:
        await self.set_state({"summary": summary})


def fake_llm_call(prompt: str, completion: str) -> str:
    """An OpenInference-style LLM span, a child of whatever node span is current."""
    tracer = trace.get_tracer(LLM_TRACER)
    with tracer.start_as_current_span("fake_llm.generate_content") as span:
        prompt_tokens, completion_tokens = len(prompt.split()), len(completion.split())
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.provider": "fake-provider",
                "llm.model_name": "fake-sentiment-1",
                "llm.invocation_parameters": json.dumps({"temperature": 0.0}),
                "llm.token_count.prompt": prompt_tokens,
                "llm.token_count.completion": completion_tokens,
                "llm.token_count.total": prompt_tokens + completion_tokens,
                "input.value": prompt,
                "input.mime_type": "text/plain",
                "output.value": completion,
                "output.mime_type": "text/plain",
            }
        )
    return completion


def fake_chat_call(prompt: str, completion: str) -> str:
    """A GenAI-semconv style chat span (kind CLIENT), as an `openai_agents`-like plugin writes."""
    tracer = trace.get_tracer(LLM_TRACER)
    with tracer.start_as_current_span("chat fake-chat-1", kind=trace.SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "fake-provider",
                "gen_ai.request.model": "fake-chat-1",
                "gen_ai.response.model": "fake-chat-1",
                "gen_ai.usage.input_tokens": len(prompt.split()),
                "gen_ai.usage.output_tokens": len(completion.split()),
                "input.value": prompt,
                "output.value": completion,
            }
        )
    return completion


class NormalizeNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        state = await store.get_state()
        await store.set_words([w.strip(".,!?").lower() for w in state.raw_text.split()])


class RetrieveContextNode(Node[TicketStore]):
    """Simulated RAG retrieval: a ~300-word context, so state payloads are realistically big."""

    async def service(self, store: TicketStore) -> None:
        state = await store.get_state()
        words = [FILLER[(i * 7 + len(state.ticket_id)) % len(FILLER)] for i in range(300)]
        await store.set_context(" ".join(words))


class CountWordsNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        state = await store.get_state()
        await asyncio.sleep(0.005)
        await store.set_word_count(len(state.words))


class DetectSentimentNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        state = await store.get_state()
        negative = {"angry", "broken", "terrible", "refund"} & set(state.words)
        sentiment = fake_llm_call(
            f"Classify the sentiment of: {state.raw_text}", "negative" if negative else "positive"
        )
        await store.set_sentiment(sentiment)


class DraftSummaryNode(Node[SummaryStore]):
    async def service(self, store: SummaryStore) -> None:
        state = await store.get_state()
        await store.set_draft("Customer says: " + " ".join(state.words[:8]))


class PolishSummaryNode(Node[SummaryStore]):
    async def service(self, store: SummaryStore) -> None:
        state = await store.get_state()
        polished = fake_chat_call(f"Polish: {state.draft}", f"{state.draft} (polished)")
        await store.set_summary(polished)


class SummarizeSubflow(Subflow[SummaryState, SummaryStore, TicketState, TicketStore]):
    async def pre_run_actions(self, parent_store: TicketStore, subflow_store: SummaryStore) -> None:
        await subflow_store.load_words((await parent_store.get_state()).words)

    async def post_run_actions(
        self, parent_store: TicketStore, subflow_store: SummaryStore
    ) -> None:
        summary = (await subflow_store.get_state()).summary
        await parent_store.set_summary(summary or "")


class EscalateNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        await store.mark_escalated()


class FinalizeNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        await store.set_status("resolved")
        await store.confirm_status()


class SentimentIsNegative(Condition[TicketState]):
    def evaluate(self, state: TicketState) -> bool:
        return state.sentiment == "negative"


def summary_graph() -> Graph:
    draft, polish = DraftSummaryNode(), PolishSummaryNode()
    return Graph(source=draft, sinks=[polish], edges=[Edge(tail=draft, head=polish)])


def ticket_graph() -> Graph:
    normalize, retrieve = NormalizeNode(), RetrieveContextNode()
    analyze = RunConcurrent(name="Analyze", items=[CountWordsNode(), DetectSentimentNode()])
    summarize = SummarizeSubflow(
        name="Summarize",
        graph_factory=summary_graph,
        store_factory=lambda: SummaryStore(initial_state=SummaryState()),
    )
    escalate, finalize = EscalateNode(), FinalizeNode()
    return Graph(
        source=normalize,
        sinks=[finalize],
        edges=[
            Edge(tail=normalize, head=retrieve),
            Edge(tail=retrieve, head=analyze),
            Edge(tail=analyze, head=summarize),
            Edge(tail=summarize, head=escalate, condition=SentimentIsNegative()),
            Edge(tail=summarize, head=finalize),
            Edge(tail=escalate, head=finalize),
        ],
    )


TICKETS = (
    "My order arrived broken and I want a refund now!",
    "Thanks, the upgrade worked and billing looks right.",
)


def ticket_workflow(index: int) -> Workflow[TicketState, TicketStore]:
    state = TicketState(ticket_id=f"T-{index}", raw_text=TICKETS[index % len(TICKETS)])
    return Workflow[TicketState, TicketStore](
        name="Support Ticket Triage",
        graph_factory=ticket_graph,
        store_factory=lambda: TicketStore(initial_state=state),
    )


# ------------------------------------------------------------------ order workflow (fails)
class InventoryServiceError(RuntimeError):
    pass


class OrderState(BaseState):
    order_id: str
    items: list[str] = Field(default_factory=list)
    prices: dict[str, float] = Field(default_factory=dict)
    shipping_quote: float | None = None
    status: str = "new"


class OrderStore(BaseStore[OrderState]):
    async def set_items(self, items: list[str]) -> None:
        await self.set_state({"items": items})

    async def set_prices(self, prices: dict[str, float]) -> None:
        await self.set_state({"prices": prices})

    async def set_shipping_quote(self, quote: float) -> None:
        await self.set_state({"shipping_quote": quote})

    async def set_status(self, status: str) -> None:
        await self.set_state({"status": status})


class LoadOrderNode(Node[OrderStore]):
    async def service(self, store: OrderStore) -> None:
        await store.set_items(["widget", "gadget", "gizmo"])


class PriceLookupNode(Node[OrderStore]):
    async def service(self, store: OrderStore) -> None:
        items = (await store.get_state()).items
        await store.set_prices({item: 9.5 + i for i, item in enumerate(items)})


class CheckInventoryNode(Node[OrderStore]):
    """The failing node."""

    async def service(self, store: OrderStore) -> None:
        await asyncio.sleep(0.02)
        raise InventoryServiceError("inventory service returned 503 for item 'gizmo'")


class ShippingQuoteNode(Node[OrderStore]):
    """Slow sibling: still pending when CheckInventoryNode fails, so it gets cancelled."""

    async def service(self, store: OrderStore) -> None:
        await asyncio.sleep(5)
        await store.set_shipping_quote(4.99)


class ConfirmOrderNode(Node[OrderStore]):
    async def service(self, store: OrderStore) -> None:
        await store.set_status("confirmed")


def order_graph() -> Graph:
    load, confirm = LoadOrderNode(), ConfirmOrderNode()
    enrich = RunConcurrent(
        name="Enrich", items=[PriceLookupNode(), CheckInventoryNode(), ShippingQuoteNode()]
    )
    return Graph(
        source=load,
        sinks=[confirm],
        edges=[Edge(tail=load, head=enrich), Edge(tail=enrich, head=confirm)],
    )


def order_workflow(index: int) -> Workflow[OrderState, OrderStore]:
    return Workflow[OrderState, OrderStore](
        name="Order Enrichment",
        graph_factory=order_graph,
        store_factory=lambda: OrderStore(initial_state=OrderState(order_id=f"O-{index}")),
    )


# ------------------------------------------------------------------ running and exporting
class ExportAudit:
    """Wraps the OTLP exporter inside the Junjo span processor to count what the server took."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.calls = self.failed_calls = self.spans_ok = self.spans_failed = 0
        self.errors: list[str] = []
        original = exporter.export

        def export(spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.calls += 1
            try:
                result = original(spans)
            except Exception as exc:
                result = SpanExportResult.FAILURE
                self.errors.append(f"export raised {type(exc).__name__}: {exc}")
            if result is SpanExportResult.SUCCESS:
                self.spans_ok += len(spans)
            else:
                self.failed_calls += 1
                self.spans_failed += len(spans)
            return result

        exporter.export = export  # type: ignore[method-assign]

    def as_dict(self, expected_spans: int) -> dict[str, Any]:
        ok = self.failed_calls == 0 and self.spans_ok == expected_spans
        return {
            "ok": ok,
            "export_calls": self.calls,
            "failed_calls": self.failed_calls,
            "spans_exported": self.spans_ok,
            "spans_failed": self.spans_failed,
            "errors": self.errors,
        }


class ErrorLogCapture(logging.Handler):
    """Collects WARNING+ records from OpenTelemetry (e.g. 'Failed to export traces ...')."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()}")
        self.errors += record.levelno >= logging.ERROR


async def run_once(index: int) -> list[dict[str, Any]]:
    correlation = ExecutionCorrelation(type="e2e.run", id=f"run-{index}")
    outcomes: list[dict[str, Any]] = []
    result = await ticket_workflow(index).execute(correlation=correlation)
    outcomes.append(
        {
            "workflow": "Support Ticket Triage",
            "run": index,
            "outcome": "completed",
            "run_id": result.run_id,
            "state": result.state.model_dump(mode="json"),
        }
    )
    try:
        await order_workflow(index).execute(correlation=correlation)
        outcomes.append({"workflow": "Order Enrichment", "run": index, "outcome": "completed"})
    except WorkflowExecutionError as exc:
        cause = exc.__cause__
        outcomes.append(
            {
                "workflow": "Order Enrichment",
                "run": index,
                "outcome": "failed",
                "error": f"{type(cause).__name__}: {cause}",
            }
        )
    return outcomes


def otel_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.value + 1,  # OTLP enum: the Python enum has no UNSPECIFIED slot
        "status_code": span.status.status_code.value,
        "status_message": span.status.description or "",
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "service_name": span.resource.attributes.get("service.name"),
        "attributes": {k: otel_value(v) for k, v in (span.attributes or {}).items()},
        "events": [
            {
                "name": e.name,
                "time_unix_nano": e.timestamp,
                "attributes": {k: otel_value(v) for k, v in (e.attributes or {}).items()},
            }
            for e in span.events
        ],
    }


def summarize(spans: list[dict[str, Any]]) -> dict[str, Any]:
    events = [(s, e) for s in spans for e in s["events"]]
    set_state = [e["attributes"] for _, e in events if e["name"] == "set_state"]
    owners = [s for s in spans if s["attributes"].get("junjo.span_type") in ("workflow", "subflow")]

    def by_type(span_type: str) -> list[str]:
        return [s["span_id"] for s in spans if s["attributes"].get("junjo.span_type") == span_type]

    return {
        "span_count": len(spans),
        "trace_ids": sorted({s["trace_id"] for s in spans}),
        "workflow_span_ids": by_type("workflow"),
        "subflow_span_ids": by_type("subflow"),
        "node_span_ids": by_type("node"),
        "run_concurrent_span_ids": by_type("run_concurrent"),
        "llm_span_ids": [s["span_id"] for s in spans if s["scope"] == LLM_TRACER],
        "error_span_ids": [s["span_id"] for s in spans if s["status_code"] == 2],
        "cancelled_span_ids": [
            s["span_id"] for s in spans if s["attributes"].get("junjo.cancelled")
        ],
        "store_ids": sorted(s["attributes"]["junjo.workflow.store.id"] for s in owners),
        "final_states": {
            s["attributes"]["junjo.workflow.store.id"]: json.loads(
                s["attributes"]["junjo.workflow.state.end"]
            )
            for s in owners
        },
        "set_state_counts": dict(Counter(a["junjo.store.id"] for a in set_state)),
        "set_state_event_count": len(set_state),
        "exception_event_count": sum(1 for _, e in events if e["name"] == "exception"),
    }


def package_versions() -> dict[str, str]:
    names = (
        "junjo",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-grpc",
        "grpcio",
        "protobuf",
        "pydantic",
    )
    return {name: importlib.metadata.version(name) for name in names}


def build_provider(
    args: argparse.Namespace,
) -> tuple[TracerProvider, InMemorySpanExporter, ExportAudit]:
    provider = TracerProvider(resource=Resource.create({"service.name": args.service_name}))
    exporter = JunjoOtelExporter(endpoint=args.endpoint, api_key=args.api_key, insecure=True)
    audit = ExportAudit(exporter.span_processor.span_exporter)
    provider.add_span_processor(exporter.span_processor)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return provider, memory, audit


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="OTLP gRPC host:port")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--service-name", default="junjo-e2e")
    parser.add_argument("--runs", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not junjo.__file__ or not junjo.__file__.startswith(sys.prefix):
        sys.exit(f"`import junjo` is {junjo.__file__}, not the SDK in {sys.prefix}")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("junjo").setLevel(logging.CRITICAL)  # the expected failure is not news
    log_capture = ErrorLogCapture()
    logging.getLogger("opentelemetry").addHandler(log_capture)

    provider, memory, audit = build_provider(args)

    async def run_all() -> list[dict[str, Any]]:
        results = await asyncio.gather(*(run_once(i) for i in range(args.runs)))
        return [outcome for outcomes in results for outcome in outcomes]

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the manifest and nothing else
        outcomes = asyncio.run(run_all())
        provider.shutdown()  # drains the Junjo BatchSpanProcessor: every span is sent or failed

    spans = [span_record(s) for s in memory.get_finished_spans()]
    export = audit.as_dict(len(spans))
    export["log_messages"] = log_capture.messages
    export["ok"] = export["ok"] and not log_capture.errors
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "service_name": args.service_name,
        "endpoint": args.endpoint,
        "runs": args.runs,
        "packages": package_versions(),
        "export": export,
        "outcomes": outcomes,
        "summary": summarize(spans),
        "spans": spans,
    }
    json.dump(manifest, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if export["ok"] else 2


if __name__ == "__main__":
    sys.exit(main())
