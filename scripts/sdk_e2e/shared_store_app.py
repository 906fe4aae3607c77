"""Telemetry contract 3 (junjo SDK >= 0.69.0) workloads: composable application Stores.

Runs ONLY inside an SDK venv holding junjo >= 0.69.0 (see venv.py). Three traces:

* "Shared Store Batch": a user span running two workflows ("Shared Intake" and "Shared Audit")
  concurrently on ONE live Store, so each run's transition window holds the other's writes.
* "Checkpoint Resume": a workflow run on a Store that an earlier run (its own trace,
  "Checkpoint Warmup") already advanced, so it starts at a nonzero checkpoint.
* "Agent Desk": a workflow whose node runs an Agent on the workflow's Store; the Agent's Tool
  writes to it, and the agent span carries `junjo.agent.application_store.*`.

Prints the finished spans as JSON in the query layer's span shape. With `--endpoint` the spans
also go there through `JunjoOtelExporter`, exactly as an SDK user wires it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from junjo.agent import (
    Agent,
    FinalOutputResponse,
    ModelDriverBinding,
    ModelDriverDescriptor,
    Tool,
    ToolCall,
    ToolCallsResponse,
)
from junjo.agent.testing import ScriptedModelDriver
from junjo.telemetry.junjo_otel_exporter import JunjoOtelExporter
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, Field

# The SDK, not this repo's package: ruff files `junjo` as first-party because of the name clash.
from junjo import BaseState, BaseStore, Graph, Node, Workflow

SHARED_WORKFLOWS = ("Shared Intake", "Shared Audit")


class LedgerState(BaseState):
    entries: list[str] = Field(default_factory=list)
    total: int = 0
    note: str | None = None


class LedgerStore(BaseStore[LedgerState]):
    async def add_entry(self, entry: str, amount: int) -> None:
        state = await self.get_state()
        await self.set_state({"entries": [*state.entries, entry], "total": state.total + amount})

    async def set_note(self, note: str) -> None:
        await self.set_state({"note": note})


class RecordNode(Node[LedgerStore]):
    """Writes a few entries, yielding between them so concurrent runs interleave."""

    def __init__(self, label: str, writes: int) -> None:
        super().__init__()
        self.label, self.writes = label, writes

    async def service(self, store: LedgerStore) -> None:
        for i in range(self.writes):
            await store.add_entry(f"{self.label}-{i}", i + 1)
            await asyncio.sleep(0.001)


def ledger_workflow(name: str, writes: int) -> Workflow[LedgerState, LedgerStore]:
    def graph() -> Graph:
        node = RecordNode(name.lower().replace(" ", "-"), writes)
        return Graph(source=node, sinks=[node], edges=[])

    return Workflow[LedgerState, LedgerStore](
        name=name, graph_factory=graph, store_factory=lambda: LedgerStore(LedgerState())
    )


# ------------------------------------------------------------------------------- the agent
class NoteInput(BaseModel):
    note: str


async def record_note(note: NoteInput, context: Any) -> str:
    await context.store.set_note(note.note)
    return "recorded"


def desk_agent() -> Agent[Any, Any, Any, Any, Any]:
    script = ScriptedModelDriver(
        [
            ToolCallsResponse(
                tool_calls=[ToolCall(id="call-1", name="record_note", arguments={"note": "ok"})]
            ),
            FinalOutputResponse(output="noted"),
        ]
    )
    return Agent(
        key="desk-agent",
        name="Desk Agent",
        instructions="Record a note on the ledger.",
        input_type=str,
        model=ModelDriverBinding(
            descriptor=ModelDriverDescriptor(
                driver_key="scripted", provider="junjo", model="scripted", fixture=True
            ),
            shared_driver=script,
        ),
        tools=[
            Tool(
                name="record_note",
                description="Record a note.",
                input_type=NoteInput,
                output_type=str,
                shared_service=record_note,
            )
        ],
        output_type=str,
    )


class AgentNode(Node[LedgerStore]):
    async def service(self, store: LedgerStore) -> None:
        await store.add_entry("desk-open", 1)
        await desk_agent().execute("note the ledger", dependencies=None, store=store)
        await store.add_entry("desk-close", 1)


def agent_workflow() -> Workflow[LedgerState, LedgerStore]:
    def graph() -> Graph:
        node = AgentNode()
        return Graph(source=node, sinks=[node], edges=[])

    return Workflow[LedgerState, LedgerStore](
        name="Agent Desk", graph_factory=graph, store_factory=lambda: LedgerStore(LedgerState())
    )


# ----------------------------------------------------------------------------- the workload
async def run_all() -> None:
    tracer = trace.get_tracer("e2e.shared_store")
    shared = LedgerStore(LedgerState())
    with tracer.start_as_current_span("Shared Store Batch"):
        await asyncio.gather(
            *(ledger_workflow(name, 3).execute(store=shared) for name in SHARED_WORKFLOWS)
        )
    resumed = LedgerStore(LedgerState())
    await ledger_workflow("Checkpoint Warmup", 2).execute(store=resumed)
    await ledger_workflow("Checkpoint Resume", 2).execute(store=resumed)
    await agent_workflow().execute()


def span_dict(span: ReadableSpan, service_name: str) -> dict[str, Any]:
    ctx = span.get_span_context()
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "service_name": service_name,
        "name": span.name,
        "kind": span.kind.value + 1,
        "start_time_ns": span.start_time,
        "end_time_ns": span.end_time,
        "status_code": span.status.status_code.value,
        "status_message": span.status.description or "",
        "attributes": {
            k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()
        },
        "events": [
            {
                "name": e.name,
                "timeUnixNano": str(e.timestamp),
                "attributes": dict(e.attributes or {}),
                "droppedAttributesCount": 0,
            }
            for e in span.events
        ],
        "dropped_events_count": span.dropped_events,
        "dropped_attributes_count": span.dropped_attributes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="OTLP gRPC host:port")
    parser.add_argument("--api-key")
    parser.add_argument("--service-name", default="junjo-e2e-v3")
    args = parser.parse_args()
    provider = TracerProvider(resource=Resource.create({"service.name": args.service_name}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if args.endpoint:
        exporter = JunjoOtelExporter(endpoint=args.endpoint, api_key=args.api_key, insecure=True)
        provider.add_span_processor(exporter.span_processor)
    trace.set_tracer_provider(provider)
    with contextlib.redirect_stdout(sys.stderr):  # the SDK prints progress lines
        asyncio.run(run_all())
    provider.shutdown()
    spans = [span_dict(s, args.service_name) for s in memory.get_finished_spans()]
    json.dump(spans, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
