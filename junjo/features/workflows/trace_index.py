"""The spans of one trace as a tree, plus defensive readers for Junjo attributes.

Spans come from the query layer as plain dicts (see ``execution.build_workflow_execution``).
Nothing here trusts them: ids may be missing, parents may be absent from the trace (they can
arrive in a later export) and attribute values may have the wrong type or be cut-off JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Attribute names (telemetry contract §2.2, §2.3, §2.5, §2.9).
SPAN_TYPE = "junjo.span_type"
CONTRACT_VERSION = "junjo.telemetry.contract_version"
DEFINITION_ID = "junjo.executable_definition_id"
RUNTIME_ID = "junjo.executable_runtime_id"
STRUCTURAL_ID = "junjo.executable_structural_id"
LEGACY_ID = "junjo.id"
STORE_ID = "junjo.workflow.store.id"
PARENT_STORE_ID = "junjo.workflow.parent_store.id"
STATE_START = "junjo.workflow.state.start"
STATE_END = "junjo.workflow.state.end"
GRAPH_V2 = "junjo.workflow.execution_graph_snapshot"
GRAPH_V1 = "junjo.workflow.graph_structure"
REVISION_START = "junjo.store.revision.start"
REVISION_END = "junjo.store.revision.end"
TRANSITION_COUNT = "junjo.store.transition.count"
# Contract 3: a Store may be shared (by sibling executions, agents, later runs), so sequences
# count per Store; an owner replays the transitions in (TRANSITION_START, TRANSITION_END].
TRANSITION_START = "junjo.store.transition.start"
TRANSITION_END = "junjo.store.transition.end"
RECONSTRUCTABLE = "junjo.store.reconstructable"
NODE_COUNT = "junjo.workflow.node.count"

AGENT_APP_STORE = "junjo.agent.application_store"  # contract 3: an Agent's application Store
AGENT_APP_STATE = "junjo.agent.application_state"


@dataclass(frozen=True)
class StoreSlots:
    """Where a span that replays a Store keeps that Store's owner attributes."""

    store_id: str
    state_start: str
    state_end: str
    revision_start: str
    revision_end: str
    transition_start: str
    transition_end: str
    transition_count: str
    reconstructable: str


WORKFLOW_SLOTS = StoreSlots(
    STORE_ID, STATE_START, STATE_END, REVISION_START, REVISION_END, TRANSITION_START,
    TRANSITION_END, TRANSITION_COUNT, RECONSTRUCTABLE,
)  # fmt: skip
# An Agent's own ``junjo.store.*`` attributes describe its private runtime Store; the
# application Store it borrowed or made (``store=``/``store_factory``) has these.
AGENT_APPLICATION_SLOTS = StoreSlots(
    f"{AGENT_APP_STORE}.id", f"{AGENT_APP_STATE}.start", f"{AGENT_APP_STATE}.end",
    f"{AGENT_APP_STORE}.revision.start", f"{AGENT_APP_STORE}.revision.end",
    f"{AGENT_APP_STORE}.transition.start", f"{AGENT_APP_STORE}.transition.end",
    f"{AGENT_APP_STORE}.transition.count", f"{AGENT_APP_STORE}.reconstructable",
)  # fmt: skip

OWNER_TYPES = frozenset({"workflow", "subflow"})
# Span types that are graph nodes (or graph owners). Agent spans are not graph nodes: their
# spans map to the node that ran the agent, like any other child span.
GRAPH_TYPES = frozenset({"workflow", "subflow", "node", "run_concurrent"})


def as_int(value: Any) -> int | None:
    """Integers as OTLP carries them (int, "12", 12.0); anything else (bools too) → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


class JsonAttributeError(ValueError):
    pass


def parse_json(value: Any) -> Any:
    """A JSON payload attribute: a JSON string (what the SDK sends) or an already-parsed
    value. Raises JsonAttributeError for unparseable text (e.g. a truncated attribute)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise JsonAttributeError(f"not valid JSON ({exc})") from None
    return value


@dataclass
class SpanNode:
    """One span with the fields we use pulled out and type-checked."""

    raw: dict[str, Any]
    span_id: str
    parent_span_id: str | None
    name: str
    attrs: dict[str, Any]
    start_ns: int
    end_ns: int | None
    children: list[SpanNode] = field(default_factory=list)
    parent: SpanNode | None = None

    @property
    def span_type(self) -> str | None:
        return as_str(self.attrs.get(SPAN_TYPE))

    @property
    def is_owner(self) -> bool:
        return self.span_type in OWNER_TYPES

    @property
    def is_graph_span(self) -> bool:
        return self.span_type in GRAPH_TYPES

    @property
    def store_slots(self) -> StoreSlots | None:
        """Where this span's replayable Store is described: a workflow's or subflow's Store,
        or an Agent's application Store (when it has one); None for any other span."""
        if self.is_owner:
            return WORKFLOW_SLOTS
        if self.span_type == "agent" and AGENT_APPLICATION_SLOTS.store_id in self.attrs:
            return AGENT_APPLICATION_SLOTS
        return None

    @property
    def definition_id(self) -> str | None:
        return as_str(self.attrs.get(DEFINITION_ID)) or as_str(self.attrs.get(LEGACY_ID))

    @property
    def runtime_id(self) -> str | None:
        # Legacy spans have one id (junjo.id) that plays both roles for nodes.
        return as_str(self.attrs.get(RUNTIME_ID)) or as_str(self.attrs.get(LEGACY_ID))

    @property
    def structural_id(self) -> str | None:
        return as_str(self.attrs.get(STRUCTURAL_ID))

    @property
    def is_legacy(self) -> bool:
        return self.attrs.get(CONTRACT_VERSION) is None and STRUCTURAL_ID not in self.attrs

    def events(self) -> list[dict[str, Any]]:
        events = self.raw.get("events")
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []

    def dropped(self, key: str) -> int:
        return as_int(self.raw.get(key)) or 0


def _span_node(raw: dict[str, Any]) -> SpanNode | None:
    span_id = as_str(raw.get("span_id"))
    if span_id is None:
        return None
    attrs = raw.get("attributes")
    return SpanNode(
        raw=raw,
        span_id=span_id,
        parent_span_id=as_str(raw.get("parent_span_id")),
        name=as_str(raw.get("name")) or "",
        attrs=attrs if isinstance(attrs, dict) else {},
        start_ns=as_int(raw.get("start_time_ns")) or 0,
        end_ns=as_int(raw.get("end_time_ns")),
    )


class TraceIndex:
    """Spans by id, with parent/child links. Children are sorted by (start, span id) so every
    walk is deterministic whatever order the spans arrived in."""

    def __init__(self, trace_spans: list[dict[str, Any]]) -> None:
        self.spans: dict[str, SpanNode] = {}
        for raw in trace_spans if isinstance(trace_spans, list) else []:
            node = _span_node(raw) if isinstance(raw, dict) else None
            if node is not None and node.span_id not in self.spans:  # first copy wins
                self.spans[node.span_id] = node
        for node in self.spans.values():
            parent = self.spans.get(node.parent_span_id or "")
            if parent is not None and parent is not node:
                node.parent = parent
                parent.children.append(node)
        for node in self.spans.values():
            node.children.sort(key=sort_key)
        self._break_cycles()

    def _break_cycles(self) -> None:
        """Malformed parent ids can form a loop; cut it so walking up always ends."""
        for node in self.spans.values():
            seen = {node.span_id}
            current = node.parent
            while current is not None:
                if current.span_id in seen:
                    current.parent.children.remove(current)  # type: ignore[union-attr]
                    current.parent = None
                    break
                seen.add(current.span_id)
                current = current.parent

    def ordered(self) -> list[SpanNode]:
        return sorted(self.spans.values(), key=sort_key)

    def ancestors(self, node: SpanNode) -> Iterator[SpanNode]:
        current = node.parent
        while current is not None:
            yield current
            current = current.parent

    def descendants(self, node: SpanNode) -> Iterator[SpanNode]:
        """Depth-first, children in start order; ``node`` itself excluded."""
        stack = list(reversed(node.children))
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(current.children))

    def owner_of(self, node: SpanNode) -> SpanNode | None:
        """The nearest workflow/subflow span strictly above ``node``."""
        return next((a for a in self.ancestors(node) if a.is_owner), None)

    def nearest_graph_span(self, node: SpanNode) -> SpanNode | None:
        """``node`` itself if it is a Junjo graph span, else its nearest such ancestor."""
        if node.is_graph_span:
            return node
        return next((a for a in self.ancestors(node) if a.is_graph_span), None)


def sort_key(node: SpanNode) -> tuple[int, str]:
    return (node.start_ns, node.span_id)
