"""A minimal OTLP/gRPC trace receiver for tests: records every `TraceService/Export` request.

    with OtlpRecorder(api_key="secret") as recorder:
        ...send spans to recorder.endpoint...
        spans = recorder.spans()

Requests whose `x-junjo-api-key` metadata differs from `api_key` are answered UNAUTHENTICATED and
counted in `rejected`. `spans()` flattens accepted requests into plain dicts shaped like the
manifest span records of `scripts/sdk_e2e/workflow_app.py`.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

API_KEY_HEADER = "x-junjo-api-key"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedExport:
    metadata: dict[str, str]
    request: trace_service_pb2.ExportTraceServiceRequest


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def _span_dict(span: Any, scope: str, service_name: Any) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "name": span.name,
        "kind": span.kind,
        "status_code": span.status.code,
        "status_message": span.status.message,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "scope": scope,
        "service_name": service_name,
        "attributes": attributes(span.attributes),
        "events": [
            {
                "name": e.name,
                "time_unix_nano": e.time_unix_nano,
                "attributes": attributes(e.attributes),
            }
            for e in span.events
        ],
    }


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, recorder: OtlpRecorder) -> None:
        self._recorder = recorder

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        if not self._recorder.receive(metadata, request):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid API key")
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpRecorder:
    """An in-process gRPC server on 127.0.0.1 (ephemeral port) that records OTLP trace exports."""

    def __init__(self, api_key: str | None = None, host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self.exports: list[ReceivedExport] = []
        self.rejected: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        port = self._server.add_insecure_port(f"{host}:0")
        self.endpoint = f"{host}:{port}"

    def receive(self, metadata: dict[str, str], request: Any) -> bool:
        """Record one Export call; False means it is rejected for a wrong or missing key."""
        accepted = self.api_key is None or metadata.get(API_KEY_HEADER) == self.api_key
        with self._lock:
            if accepted:
                self.exports.append(ReceivedExport(metadata, request))
            else:
                self.rejected.append(metadata)
        return accepted

    def spans(self) -> list[dict[str, Any]]:
        """Every received span, in arrival order."""
        with self._lock:
            requests = [export.request for export in self.exports]
        return [
            _span_dict(
                span, scope_spans.scope.name, attributes(rs.resource.attributes).get("service.name")
            )
            for request in requests
            for rs in request.resource_spans
            for scope_spans in rs.scope_spans
            for span in scope_spans.spans
        ]

    def start(self) -> OtlpRecorder:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def __enter__(self) -> OtlpRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
