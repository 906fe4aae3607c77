"""A stored trace as an OTLP/JSON ``ExportTraceServiceRequest``: what "Copy as OTLP-JSON" and
"download" give, and what ``POST /v1/traces`` (``application/json``) takes back, so a trace
moves from one server to another, or into a bug report, as it was received.

The OTLP/JSON mapping: ids in hex, 64-bit integers (times, ``intValue``) as decimal strings,
enums as numbers, field names in lowerCamelCase. Spans are grouped by resource and then by
scope as they were sent. What the store does not keep cannot come back: a ``bytesValue`` was
stored as its hex text and returns as a string, and a value cut at ingestion stays cut (its
span keeps the ``junjo.server.truncated`` attribute naming it).
"""

from __future__ import annotations

import json
import math
from typing import Any


def any_value(value: Any) -> dict[str, Any]:
    """A stored (JSON) attribute value → an OTLP/JSON AnyValue; null → the empty AnyValue."""
    if value is None:
        return {}
    if isinstance(value, bool):  # before int: bool is an int subclass
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value if math.isfinite(value) else str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": str(value)}


def key_values(attributes: Any) -> list[dict[str, Any]]:
    if not isinstance(attributes, dict):
        return []
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def export_request(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """Whole span records (``queries.trace_export_spans``) → ``{"resourceSpans": [...]}``."""
    resources: dict[str, dict[str, Any]] = {}
    scopes: dict[tuple[str, str], dict[str, Any]] = {}
    for span in spans:
        resource_key = _key(
            span["resource_attributes"],
            span["resource_dropped_attributes_count"],
            span["resource_schema_url"],
        )
        resource = resources.get(resource_key)
        if resource is None:
            resource = resources[resource_key] = {
                "resource": {
                    "attributes": key_values(span["resource_attributes"]),
                    "droppedAttributesCount": span["resource_dropped_attributes_count"] or 0,
                },
                "scopeSpans": [],
                "schemaUrl": span["resource_schema_url"] or "",
            }
        scope_key = _key(
            span["scope_name"],
            span["scope_version"],
            span["scope_attributes"],
            span["scope_dropped_attributes_count"],
            span["scope_schema_url"],
        )
        scope = scopes.get((resource_key, scope_key))
        if scope is None:
            scope = scopes[(resource_key, scope_key)] = {
                "scope": {
                    "name": span["scope_name"] or "",
                    "version": span["scope_version"] or "",
                    "attributes": key_values(span["scope_attributes"]),
                    "droppedAttributesCount": span["scope_dropped_attributes_count"] or 0,
                },
                "spans": [],
                "schemaUrl": span["scope_schema_url"] or "",
            }
            resource["scopeSpans"].append(scope)
        scope["spans"].append(otlp_span(span))
    return {"resourceSpans": list(resources.values())}


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def otlp_span(span: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span["trace_id"],
        "spanId": span["span_id"],
        "traceState": span["trace_state"] or "",
        "name": span["name"],
        "kind": span["kind"],
        "startTimeUnixNano": str(span["start_time_ns"]),
        "endTimeUnixNano": str(span["end_time_ns"]),
        "attributes": key_values(span["attributes"]),
        "droppedAttributesCount": span["dropped_attributes_count"] or 0,
        "events": [_event(event) for event in _list(span["events"])],
        "droppedEventsCount": span["dropped_events_count"] or 0,
        "links": [_link(link) for link in _list(span["links"])],
        "droppedLinksCount": span["dropped_links_count"] or 0,
        "status": {"code": span["status_code"], "message": span["status_message"] or ""},
        "flags": span["flags"] or 0,
    }
    if span["parent_span_id"]:
        out["parentSpanId"] = span["parent_span_id"]
    return out


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _event(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "timeUnixNano": str(event.get("timeUnixNano") or 0),
        "name": event.get("name") or "",
        "attributes": key_values(event.get("attributes")),
        "droppedAttributesCount": event.get("droppedAttributesCount") or 0,
    }


def _link(link: dict[str, Any]) -> dict[str, Any]:
    return {
        "traceId": link.get("traceId") or "",
        "spanId": link.get("spanId") or "",
        "traceState": link.get("traceState") or "",
        "attributes": key_values(link.get("attributes")),
        "droppedAttributesCount": link.get("droppedAttributesCount") or 0,
        "flags": link.get("flags") or 0,
    }
