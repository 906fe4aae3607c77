"""Build OTLP export requests for ingestion tests: protobuf messages and OTLP/JSON bodies."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass(frozen=True)
class SpanIds:
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes = b""

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id.hex(), self.span_id.hex()


def new_ids(count: int, trace_id: bytes | None = None) -> list[SpanIds]:
    trace_id = trace_id or os.urandom(16)
    return [SpanIds(trace_id, os.urandom(8)) for _ in range(count)]


def build_request(
    ids: list[SpanIds], *, service: str = "test-service", padding: int = 0
) -> ExportTraceServiceRequest:
    """One resource, one scope, a span per id; ``padding`` bytes of attribute per span."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "junjo"
    for number, span_ids in enumerate(ids):
        span = scope_spans.spans.add()
        span.trace_id = span_ids.trace_id
        span.span_id = span_ids.span_id
        span.parent_span_id = span_ids.parent_span_id
        span.name = f"span-{number}"
        span.kind = 1
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + number
        span.end_time_unix_nano = 1_700_000_000_000_500_000 + number
        if padding:
            pad = span.attributes.add()
            pad.key, pad.value.string_value = "pad", "x" * padding
    return request


def request_bytes(ids: list[SpanIds], **kwargs) -> bytes:
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
            "startTimeUnixNano": str(1_700_000_000_000_000_000 + number),
            "endTimeUnixNano": 1_700_000_000_000_500_000 + number,
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
