"""Send recorded spans (the query layer's shape: the real-SDK fixtures of tests/workflows, or
what ``run_shared_store_workload`` returns) to a server's OTLP/HTTP door, as a new trace
that starts now, optionally after editing them (a deleted state change)."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from tests.support.export import API_KEY_HEADER
from tests.support.otlp_builders import make_event, make_request, make_resource_spans, make_span


def recorded_span(span: dict[str, Any], trace_id: bytes, shift: int) -> Any:
    """A recorded span dict as an OTLP Span, under ``trace_id`` and moved ``shift`` ns."""
    return make_span(
        trace_id=trace_id,
        span_id=bytes.fromhex(span["span_id"]),
        parent_span_id=bytes.fromhex(span["parent_span_id"]) if span["parent_span_id"] else b"",
        name=span["name"],
        kind=span["kind"],
        start_ns=span["start_time_ns"] + shift,
        end_ns=span["end_time_ns"] + shift,
        attributes=span["attributes"],
        events=[
            make_event(
                e["name"],
                int(e["timeUnixNano"]) + shift,
                e["attributes"],
                dropped_attributes_count=e.get("droppedAttributesCount", 0),
            )
            for e in span["events"]
        ],
        status_code=span["status_code"],
        status_message=span["status_message"] or "",
        dropped_events_count=span.get("dropped_events_count", 0),
        dropped_attributes_count=span.get("dropped_attributes_count", 0),
    )


def resend(
    base_url: str,
    ingest_key: str,
    spans: list[dict[str, Any]],
    service: str,
    at_ns: int | None = None,
) -> str:
    """Send ``spans`` (one trace) under a fresh trace id, moved to start at ``at_ns`` (now);
    returns the new trace id."""
    trace_id = os.urandom(16)
    start = min(s["start_time_ns"] for s in spans)
    shift = (at_ns or time.time_ns()) - start
    moved = [recorded_span(s, trace_id, shift) for s in spans]
    request = make_request([make_resource_spans(moved, service_name=service)])
    response = httpx.post(
        f"{base_url}/v1/traces",
        content=request.SerializeToString(),
        headers={API_KEY_HEADER: ingest_key, "Content-Type": "application/x-protobuf"},
        timeout=30,
    )
    response.raise_for_status()
    return trace_id.hex()
