"""Workflow execution: one workflow/subflow span → graph, node↔span mapping, store timeline
and an integrity verdict. Pure: input is the span dicts of one trace as the query layer
returns them; output is JSON-ready (the REST API and the CLI serve it as-is).

Node↔span matching follows Studio (telemetry contract §2.10):

* in the owner's own snapshot, node and RunConcurrent spans match ``nodeRuntimeId`` by
  ``junjo.executable_runtime_id`` (legacy: ``junjo.id``); a subflow span matches its node by
  definition id or by its own graph structural id;
* inside a nested subflow the parent's snapshot holds runtime ids of a throwaway graph
  (§2.4 pitfall), so spans there match by ``junjo.executable_structural_id``; legacy spans,
  which have no structural id, fall back to a unique node type/label equal to the span name;
* every other span (LLM, HTTP, agent, ...) maps to its nearest mapped ancestor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from junjo.features.workflows.graph import all_nodes, graph_to_mermaid, normalize_graph
from junjo.features.workflows.trace_index import (
    CONTRACT_VERSION,
    NODE_COUNT,
    PARENT_STORE_ID,
    WORKFLOW_SLOTS,
    SpanNode,
    TraceIndex,
    as_int,
    as_str,
)
from junjo.features.workflows.transitions import reason, store_timeline
from junjo.kernel.errors import InvalidInput, NotFound
from junjo.kernel.times import iso_time

# -- owner summaries ---------------------------------------------------------------------------


def _owner_summary(index: TraceIndex, span: SpanNode) -> dict[str, Any]:
    raw, attrs = span.raw, span.attrs
    parent_owner = index.owner_of(span)
    correlation_type = as_str(attrs.get("junjo.correlation.type"))
    correlation_id = as_str(attrs.get("junjo.correlation.id"))
    duration = span.end_ns - span.start_ns if span.end_ns is not None else None
    return {
        "span_id": span.span_id,
        "trace_id": as_str(raw.get("trace_id")),
        "parent_span_id": span.parent_span_id,
        "parent_owner_span_id": parent_owner.span_id if parent_owner else None,
        "name": span.name,
        "span_type": span.span_type,
        "service_name": as_str(raw.get("service_name")),
        "start_time_ns": span.start_ns,
        "end_time_ns": span.end_ns,
        "duration_ns": duration,
        "start_time": iso_time(span.start_ns),
        "end_time": iso_time(span.end_ns),
        "status_code": as_int(raw.get("status_code")) or 0,
        "status_message": as_str(raw.get("status_message")),
        "error_type": as_str(attrs.get("error.type")),
        "cancelled": attrs.get("junjo.cancelled") is True,
        "contract_version": as_int(attrs.get(CONTRACT_VERSION)),
        "legacy": span.is_legacy,
        "definition_id": span.definition_id,
        "runtime_id": span.runtime_id,
        "structural_id": span.structural_id,
        "store_id": as_str(attrs.get((span.store_slots or WORKFLOW_SLOTS).store_id)),
        "parent_store_id": as_str(attrs.get(PARENT_STORE_ID)),
        "node_count": as_int(attrs.get(NODE_COUNT)),
        "correlation": (
            {"type": correlation_type, "id": correlation_id}
            if correlation_type or correlation_id
            else None
        ),
    }


# -- node ↔ span mapping -----------------------------------------------------------------------


def _scope(owner: SpanNode) -> Iterator[SpanNode]:
    """Graph spans whose nearest owner is ``owner`` (RunConcurrent children included), in
    start order; nested owners are yielded but not entered."""
    stack = list(reversed(owner.children))
    while stack:
        span = stack.pop()
        if span.is_graph_span:
            yield span
        if not span.is_owner:
            stack.extend(reversed(span.children))


def _first(nodes: list[dict[str, Any]], **wanted: Any) -> dict[str, Any] | None:
    for node in nodes:
        if all(value is not None and node.get(k) == value for k, value in wanted.items()):
            return node
    return None


def _unique_by_name(nodes: list[dict[str, Any]], span: SpanNode) -> dict[str, Any] | None:
    """Last resort for legacy nested subflows (no structural ids): a single node whose type or
    label is the span name (Junjo names node spans after the class, groups and subflows after
    their ``name``)."""
    found = [n for n in nodes if span.name and span.name in (n["type"], n["label"])]
    return found[0] if len(found) == 1 else None


def _match(span: SpanNode, level: dict[str, Any]) -> dict[str, Any] | None:
    nodes = level["nodes"]
    if span.span_type == "subflow":
        subflows = [n for n in nodes if n["kind"] == "subflow"]
        by_graph = {s["graph_structural_id"]: s["id"] for s in level["subflows"]}
        node_id = by_graph.get(span.structural_id) if span.structural_id else None
        return (
            _first(subflows, runtime_id=span.definition_id)
            or _first(subflows, id=node_id)
            or _unique_by_name(subflows, span)
        )
    plain = [n for n in nodes if n["kind"] != "subflow"]
    return (
        _first(plain, runtime_id=span.runtime_id)
        or _first(plain, structural_id=span.structural_id)
        or _unique_by_name(plain, span)
    )


def _match_level(owner: SpanNode, level: dict[str, Any], direct: dict[str, str]) -> None:
    subflow_graphs = {s["id"]: s["graph"] for s in level["subflows"]}
    for span in _scope(owner):
        node = _match(span, level)
        if node is None:
            continue
        direct[span.span_id] = node["id"]
        if span.is_owner and node["id"] in subflow_graphs:
            _match_level(span, subflow_graphs[node["id"]], direct)


def _map_spans(
    index: TraceIndex, owner: SpanNode, graph: dict[str, Any] | None
) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """(span id → node id, node id → span ids, span ids under the owner left unmapped)."""
    direct: dict[str, str] = {}
    if graph is not None:
        _match_level(owner, graph, direct)
    node_spans: dict[str, list[str]] = {n["id"]: [] for n in all_nodes(graph)} if graph else {}
    span_nodes: dict[str, str] = {}
    unmapped: list[str] = []
    for span in index.descendants(owner):
        node_id = _nearest_mapped(index, span, owner, direct)
        if node_id is None:
            unmapped.append(span.span_id)
            continue
        span_nodes[span.span_id] = node_id
        node_spans.setdefault(node_id, []).append(span.span_id)
    return span_nodes, node_spans, unmapped


def _nearest_mapped(
    index: TraceIndex, span: SpanNode, owner: SpanNode, direct: dict[str, str]
) -> str | None:
    for candidate in (span, *index.ancestors(span)):
        if candidate is owner:
            return None
        if candidate.span_id in direct:
            return direct[candidate.span_id]
    return None


# -- assembly ----------------------------------------------------------------------------------


def _find_owner(index: TraceIndex, span_id: Any) -> SpanNode:
    if not isinstance(span_id, str) or not span_id:
        raise InvalidInput("span_id must be a non-empty string")
    span = index.spans.get(span_id)
    if span is None:
        raise NotFound(f"span {span_id} is not in this trace")
    if span.store_slots is None:
        kind = span.span_type or "a non-Junjo span"
        raise InvalidInput(
            f"span {span_id} is {kind}, not a workflow or subflow "
            "(nor an agent with an application store)"
        )
    return span


def _graph_reasons(graph: dict[str, Any] | None) -> list[dict[str, Any]]:
    if graph is None:
        return [reason("missing_graph", "the span carries no graph snapshot")]
    if graph["problems"]:
        message = "the graph snapshot is malformed: " + "; ".join(graph["problems"][:3])
        return [reason("invalid_graph", message, problems=graph["problems"])]
    return []


def build_workflow_execution(
    trace_spans: list[dict[str, Any]], span_id: str, *, include_states: bool = True
) -> dict[str, Any]:
    """Everything about one workflow or subflow run, or about the application Store of an
    Agent run (contract 3; no graph). See the module docstring and README.

    Raises ``NotFound`` if ``span_id`` is not in ``trace_spans`` and ``InvalidInput`` if it is
    neither; any malformed telemetry becomes an integrity reason instead.
    ``include_states=False`` leaves ``state_before``/``state_after`` null (smaller payload).
    """
    index = TraceIndex(trace_spans)
    owner = _find_owner(index, span_id)
    graph = normalize_graph(owner.attrs)
    span_nodes, node_spans, unmapped = _map_spans(index, owner, graph)
    timeline = store_timeline(index, owner, include_states)
    for transition in timeline["transitions"]:
        transition["node_id"] = span_nodes.get(transition["span_id"])
    # An Agent has no graph to miss: only its application Store's timeline is judged.
    graph_reasons = _graph_reasons(graph) if owner.is_owner else []
    reasons = graph_reasons + timeline["reasons"]
    executed = {node_id for node_id, spans in node_spans.items() if spans}
    return {
        "span": _owner_summary(index, owner),
        "graph": graph,
        "mermaid": graph_to_mermaid(graph, executed) if graph else None,
        "node_spans": node_spans,
        "span_nodes": span_nodes,
        "unmapped_span_ids": unmapped,
        "store": timeline["store"],
        "transitions": timeline["transitions"],
        "integrity": {"verdict": "partial" if reasons else "complete", "reasons": reasons},
    }
