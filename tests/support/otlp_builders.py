"""Build OTLP trace export requests from plain Python values, for any test that needs spans.

General pieces (``make_span``, ``make_event``, ``make_link``, ``make_resource_spans``,
``make_request``); a batch of plain spans from a list of ids (``new_ids``,
``request_bytes``) and the same as OTLP/JSON (``json_body``); Junjo-shaped helpers that
follow telemetry contract v2: a workflow span with its owner attributes, node spans,
``set_state`` events and an LLM span.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z in ns
MS = 1_000_000

INTERNAL = Span.SpanKind.SPAN_KIND_INTERNAL
SERVER = Span.SpanKind.SPAN_KIND_SERVER
CLIENT = Span.SpanKind.SPAN_KIND_CLIENT


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def fill_any_value(target: AnyValue, value: Any) -> None:
    """Python value → AnyValue; lists and dicts nest, ``None`` leaves the value unset."""
    if value is None:
        return
    if isinstance(value, bool):  # before int: bool is an int subclass
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, Mapping):
        target.kvlist_value.SetInParent()  # an empty kvlist is still a kvlist
        fill_attributes(target.kvlist_value.values, value)
    elif isinstance(value, list | tuple):
        target.array_value.SetInParent()
        for item in value:
            fill_any_value(target.array_value.values.add(), item)
    else:
        raise TypeError(f"no AnyValue for {type(value).__name__}")


def fill_attributes(target: Any, attributes: Mapping[str, Any] | None) -> None:
    """Append ``attributes`` to a repeated KeyValue field."""
    for key, value in (attributes or {}).items():
        item: KeyValue = target.add()
        item.key = key
        fill_any_value(item.value, value)


def make_event(
    name: str,
    time_ns: int = T0,
    attributes: Mapping[str, Any] | None = None,
    *,
    dropped_attributes_count: int = 0,
) -> Span.Event:
    event = Span.Event(
        name=name, time_unix_nano=time_ns, dropped_attributes_count=dropped_attributes_count
    )
    fill_attributes(event.attributes, attributes)
    return event


def make_link(
    trace_id: bytes,
    span_id: bytes,
    attributes: Mapping[str, Any] | None = None,
    *,
    trace_state: str = "",
    flags: int = 0,
    dropped_attributes_count: int = 0,
) -> Span.Link:
    link = Span.Link(
        trace_id=trace_id,
        span_id=span_id,
        trace_state=trace_state,
        flags=flags,
        dropped_attributes_count=dropped_attributes_count,
    )
    fill_attributes(link.attributes, attributes)
    return link


def make_span(
    *,
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    parent_span_id: bytes = b"",
    name: str = "span",
    kind: int = INTERNAL,
    start_ns: int = T0,
    end_ns: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    events: Iterable[Span.Event] = (),
    links: Iterable[Span.Link] = (),
    status_code: int = 0,
    status_message: str = "",
    flags: int = 0,
    trace_state: str = "",
    dropped_attributes_count: int = 0,
    dropped_events_count: int = 0,
    dropped_links_count: int = 0,
) -> Span:
    span = Span(
        trace_id=new_trace_id() if trace_id is None else trace_id,  # b"" stays empty
        span_id=new_span_id() if span_id is None else span_id,
        parent_span_id=parent_span_id,
        name=name,
        kind=kind,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + MS if end_ns is None else end_ns,
        status=Status(code=status_code, message=status_message),
        flags=flags,
        trace_state=trace_state,
        dropped_attributes_count=dropped_attributes_count,
        dropped_events_count=dropped_events_count,
        dropped_links_count=dropped_links_count,
    )
    fill_attributes(span.attributes, attributes)
    span.events.extend(events)
    span.links.extend(links)
    return span


def make_resource_spans(
    spans: Iterable[Span],
    *,
    service_name: str | None = "test-service",
    resource_attributes: Mapping[str, Any] | None = None,
    scope_name: str = "junjo",
    scope_version: str = "",
    scope_attributes: Mapping[str, Any] | None = None,
    schema_url: str = "",
) -> ResourceSpans:
    """One resource (``service.name`` first, unless None) holding one scope of ``spans``."""
    resource_spans = ResourceSpans(schema_url=schema_url)
    attributes = {} if service_name is None else {"service.name": service_name}
    attributes.update(resource_attributes or {})
    fill_attributes(resource_spans.resource.attributes, attributes)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope_name
    scope_spans.scope.version = scope_version
    fill_attributes(scope_spans.scope.attributes, scope_attributes)
    scope_spans.spans.extend(spans)
    return resource_spans


def make_request(resource_spans: Iterable[ResourceSpans]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.resource_spans.extend(resource_spans)
    return request


def request_payload(spans: Iterable[Span], **resource_kwargs: Any) -> bytes:
    """Shortcut: serialized request with one resource and scope around ``spans``."""
    return make_request([make_resource_spans(spans, **resource_kwargs)]).SerializeToString()


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


# -- batches of plain spans by id ------------------------------------------------------


@dataclass(frozen=True)
class SpanIds:
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes = b""

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id.hex(), self.span_id.hex()


def new_ids(count: int, trace_id: bytes | None = None) -> list[SpanIds]:
    trace_id = trace_id or new_trace_id()
    return [SpanIds(trace_id, new_span_id()) for _ in range(count)]


def build_request(
    ids: list[SpanIds], *, service: str = "test-service", padding: int = 0
) -> ExportTraceServiceRequest:
    """One resource, one scope, a span per id; ``padding`` bytes of attribute per span."""
    spans = [
        make_span(
            trace_id=span_ids.trace_id,
            span_id=span_ids.span_id,
            parent_span_id=span_ids.parent_span_id,
            name=f"span-{number}",
            start_ns=T0 + number,
            end_ns=T0 + 500_000 + number,
            attributes={"pad": "x" * padding} if padding else None,
        )
        for number, span_ids in enumerate(ids)
    ]
    return make_request([make_resource_spans(spans, service_name=service)])


def request_bytes(ids: list[SpanIds], **kwargs: Any) -> bytes:
    return build_request(ids, **kwargs).SerializeToString()


def json_body(ids: list[SpanIds], *, service: str = "json-service") -> bytes:
    """OTLP/JSON as the spec writes it: hex ids, enum as int or name, int64 as strings."""
    spans = []
    for number, span_ids in enumerate(ids):
        span = {
            "traceId": span_ids.trace_id.hex(),
            "spanId": span_ids.span_id.hex(),
            "name": f"json-span-{number}",
            "kind": "SPAN_KIND_SERVER" if number % 2 else 3,
            "startTimeUnixNano": str(T0 + number),
            "endTimeUnixNano": T0 + 500_000 + number,
            "attributes": [{"key": "n", "value": {"intValue": str(number)}}],
            "status": {"code": 2, "message": "boom"},
            "unknownFieldFromTheFuture": True,
        }
        if span_ids.parent_span_id:
            span["parentSpanId"] = span_ids.parent_span_id.hex()
        spans.append(span)
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [{"scope": {"name": "json-test"}, "spans": spans}],
            }
        ]
    }
    return json.dumps(document).encode()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def gzip_bomb(size: int) -> bytes:
    """A small gzip body that inflates to ``size`` zero bytes."""
    return gzip.compress(bytes(size), compresslevel=9)


# -- Junjo contract v2 shapes --------------------------------------------------------------


def _payload(value: Any) -> str:
    # How the SDK serializes JSON payload attributes (telemetry contract §2.1).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


GRAPH_ID = "graph_" + "a" * 32  # the structural id of the one graph these helpers build


def _v2_identity(
    span_type: str, definition_id: str, runtime_id: str, structural_id: str
) -> dict[str, Any]:
    """The identity attributes every contract-v2 executable span carries (§2.2)."""
    return {
        "junjo.telemetry.contract_version": 2,
        "junjo.span_type": span_type,
        "junjo.executable_definition_id": definition_id,
        "junjo.executable_runtime_id": runtime_id,
        "junjo.executable_structural_id": structural_id,
        "junjo.enclosing_graph_structural_id": GRAPH_ID,
    }


def set_state_event(
    *,
    store_id: str,
    sequence: int | None,
    action: str = "set_value",
    patch: Any = (),
    store_name: str = "TestStore",
    revision_before: int | None = None,
    time_ns: int = T0,
    event_id: str = "evt",
) -> Span.Event:
    """A ``set_state`` event; ``sequence=None`` gives the legacy shape (no sequence/revisions)."""
    attributes: dict[str, Any] = {
        "id": event_id,
        "junjo.store.name": store_name,
        "junjo.store.id": store_id,
        "junjo.store.action": action,
    }
    if sequence is not None:
        before = sequence - 1 if revision_before is None else revision_before
        attributes["junjo.store.transition.sequence"] = sequence
        attributes["junjo.store.revision.before"] = before
        attributes["junjo.store.revision.after"] = before + (1 if patch else 0)
    attributes["junjo.state_json_patch"] = patch if isinstance(patch, str) else _payload(patch)
    if sequence is not None:
        attributes["junjo.state_json_patch.mode"] = "full"
        attributes["junjo.state_json_patch.policy"] = "junjo.full.v1"
    return make_event("set_state", time_ns, attributes)


def junjo_workflow_span(
    *,
    trace_id: bytes,
    span_id: bytes | None = None,
    run_id: str = "wf-run-1",
    definition_id: str = "wf-def-1",
    store_id: str = "store-1",
    state_start: Any = None,
    state_end: Any = None,
    transitions: int = 0,
    start_ns: int = T0,
    end_ns: int | None = None,
    name: str = "Workflow(name=Test)",
    extra_attributes: Mapping[str, Any] | None = None,
    **span_kwargs: Any,
) -> Span:
    """A v2 workflow owner span (telemetry contract §2.2-2.3)."""
    attributes = _v2_identity("workflow", definition_id, run_id, GRAPH_ID)
    attributes |= {
        "junjo.workflow.state.start": _payload(state_start or {}),
        "junjo.workflow.state.start.mode": "full",
        "junjo.workflow.state.start.policy": "junjo.full.v1",
        "junjo.workflow.state.end": _payload(state_end or {}),
        "junjo.workflow.state.end.mode": "full",
        "junjo.workflow.state.end.policy": "junjo.full.v1",
        "junjo.workflow.store.id": store_id,
        "junjo.workflow.execution_graph_snapshot": _payload(
            {"v": 2, "graphStructuralId": GRAPH_ID, "nodes": [], "edges": []}
        ),
        "junjo.store.revision.start": 0,
        "junjo.store.revision.end": transitions,
        "junjo.store.transition.count": transitions,
        "junjo.store.reconstructable": True,
        "junjo.workflow.node.count": 1,
    }
    attributes.update(extra_attributes or {})
    return make_span(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attributes,
        **span_kwargs,
    )


def junjo_node_span(
    *,
    trace_id: bytes,
    parent_span_id: bytes,
    node_id: str = "node-1",
    parent_run_id: str = "wf-run-1",
    parent_definition_id: str = "wf-def-1",
    name: str = "TestNode",
    start_ns: int = T0,
    end_ns: int | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
    **span_kwargs: Any,
) -> Span:
    """A v2 node span: runtime id equals definition id equals the node id."""
    attributes = _v2_identity("node", node_id, node_id, "node_" + "b" * 32)
    attributes |= {
        "junjo.parent_executable_definition_id": parent_definition_id,
        "junjo.parent_executable_runtime_id": parent_run_id,
        "junjo.parent_executable_structural_id": GRAPH_ID,
    }
    attributes.update(extra_attributes or {})
    return make_span(
        trace_id=trace_id,
        parent_span_id=parent_span_id,
        name=name,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attributes,
        **span_kwargs,
    )


def llm_span(
    *,
    trace_id: bytes,
    parent_span_id: bytes = b"",
    model: str = "gpt-test",
    prompt_tokens: int = 12,
    completion_tokens: int = 30,
    start_ns: int = T0,
    **span_kwargs: Any,
) -> Span:
    """An OpenInference LLM span, as an instrumentor inside a node's service() writes it."""
    return make_span(
        trace_id=trace_id,
        parent_span_id=parent_span_id,
        name="ChatCompletion",
        kind=CLIENT,
        start_ns=start_ns,
        attributes={
            "openinference.span.kind": "LLM",
            "llm.model_name": model,
            "llm.provider": "openai",
            "llm.token_count.prompt": prompt_tokens,
            "llm.token_count.completion": completion_tokens,
            "llm.token_count.total": prompt_tokens + completion_tokens,
            "input.value": "Summarize the ticket",
            "output.value": "A short summary",
        },
        **span_kwargs,
    )


def junjo_workflow_trace(
    *,
    trace_id: bytes | None = None,
    store_id: str = "store-1",
    nodes: int = 2,
    start_ns: int = T0,
    patch_padding: int = 0,
) -> list[Span]:
    """A workflow span plus ``nodes`` node spans, each node writing one ``set_state``.

    ``patch_padding`` adds that many characters to each patch value, to size spans.
    """
    trace_id = trace_id or new_trace_id()
    workflow_id = new_span_id()
    spans = []
    for index in range(nodes):
        node_start = start_ns + (index + 1) * MS
        patch = [{"op": "replace", "path": f"/field{index}", "value": "v" * patch_padding}]
        event = set_state_event(
            store_id=store_id,
            sequence=index + 1,
            action=f"set_field{index}",
            patch=patch,
            time_ns=node_start + MS // 2,
            event_id=f"evt-{index}",
        )
        spans.append(
            junjo_node_span(
                trace_id=trace_id,
                parent_span_id=workflow_id,
                node_id=f"node-{index}",
                name=f"Node{index}",
                start_ns=node_start,
                events=[event],
            )
        )
    spans.append(
        junjo_workflow_span(
            trace_id=trace_id,
            span_id=workflow_id,
            store_id=store_id,
            transitions=nodes,
            start_ns=start_ns,
            end_ns=start_ns + (nodes + 2) * MS,
        )
    )
    return spans
