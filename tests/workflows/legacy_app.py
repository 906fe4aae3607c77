"""The ticket workflow on the LEGACY junjo SDK (0.62.1: `junjo.id`, graph `v:1`, no sequences).

Runs only inside an isolated venv holding `junjo==0.62.1` (never this repo's venv); prints the
finished spans as JSON in the query layer's span shape. Used to regenerate
`fixtures/sdk_legacy_ticket_triage.json`:

    python3.11 -m venv /tmp/junjo-legacy && /tmp/junjo-legacy/bin/pip install junjo==0.62.1
    cd /tmp && /tmp/junjo-legacy/bin/python /work/main/tests/workflows/legacy_app.py > out.json
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field

from junjo import (
    BaseState,
    BaseStore,
    Condition,
    Edge,
    Graph,
    Node,
    RunConcurrent,
    Subflow,
    Workflow,
)


class TicketState(BaseState):
    raw_text: str
    words: list[str] = Field(default_factory=list)
    word_count: int | None = None
    sentiment: str | None = None
    summary: str | None = None
    escalated: bool = False
    status: str = "new"


class TicketStore(BaseStore[TicketState]):
    async def set_words(self, words: list[str]) -> None:
        await self.set_state({"words": words})

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


class SummaryState(BaseState):
    words: list[str] = Field(default_factory=list)
    summary: str | None = None


class SummaryStore(BaseStore[SummaryState]):
    async def load_words(self, words: list[str]) -> None:
        await self.set_state({"words": words})

    async def set_summary(self, summary: str) -> None:
        await self.set_state({"summary": summary})


class NormalizeNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        state = await store.get_state()
        await store.set_words([w.strip(".,!?").lower() for w in state.raw_text.split()])


class CountWordsNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        await store.set_word_count(len((await store.get_state()).words))


class DetectSentimentNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        with trace.get_tracer("legacy.fake_llm").start_as_current_span("llm.generate") as span:
            span.set_attribute("openinference.span.kind", "LLM")
            span.set_attribute("llm.model_name", "fake-sentiment-1")
        await store.set_sentiment("negative")


class DraftSummaryNode(Node[SummaryStore]):
    async def service(self, store: SummaryStore) -> None:
        words = (await store.get_state()).words
        await store.set_summary("Customer says: " + " ".join(words[:5]))


class SummarizeSubflow(Subflow[SummaryState, SummaryStore, TicketState, TicketStore]):
    async def pre_run_actions(self, parent_store: TicketStore) -> None:
        await self.store.load_words((await parent_store.get_state()).words)

    async def post_run_actions(self, parent_store: TicketStore) -> None:
        await parent_store.set_summary((await self.get_state()).summary or "")


class EscalateNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        await store.mark_escalated()


class FinalizeNode(Node[TicketStore]):
    async def service(self, store: TicketStore) -> None:
        await store.set_status("resolved")
        await store.set_status("resolved")  # a no-op write: legacy patch "{}"


class SentimentIsNegative(Condition[TicketState]):
    def evaluate(self, state: TicketState) -> bool:
        return state.sentiment == "negative"


def summary_graph() -> Graph:
    draft = DraftSummaryNode()
    return Graph(source=draft, sink=draft, edges=[])


def ticket_graph() -> Graph:
    normalize = NormalizeNode()
    analyze = RunConcurrent(name="Analyze", items=[CountWordsNode(), DetectSentimentNode()])
    summarize = SummarizeSubflow(
        name="Summarize",
        graph_factory=summary_graph,
        store_factory=lambda: SummaryStore(initial_state=SummaryState()),
    )
    escalate, finalize = EscalateNode(), FinalizeNode()
    return Graph(
        source=normalize,
        sink=finalize,
        edges=[
            Edge(tail=normalize, head=analyze),
            Edge(tail=analyze, head=summarize),
            Edge(tail=summarize, head=escalate, condition=SentimentIsNegative()),
            Edge(tail=summarize, head=finalize),
            Edge(tail=escalate, head=finalize),
        ],
    )


def span_dict(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "service_name": "legacy-app",
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


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "legacy-app"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    state = TicketState(raw_text="My order arrived broken and I want a refund!")
    workflow = Workflow[TicketState, TicketStore](
        name="Support Ticket Triage",
        graph_factory=ticket_graph,
        store_factory=lambda: TicketStore(initial_state=state),
    )
    with contextlib.redirect_stdout(sys.stderr):  # the SDK prints progress lines
        asyncio.run(workflow.execute())
    provider.shutdown()
    json.dump(
        [span_dict(s) for s in memory.get_finished_spans()], sys.stdout, indent=1, sort_keys=True
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
