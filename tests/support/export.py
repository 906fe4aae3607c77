"""Sending spans to a server in tests: raw OTLP/gRPC calls, and spans made and exported by
the real OpenTelemetry SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
API_KEY_HEADER = "x-junjo-api-key"


def grpc_call(
    target: str,
    method: str,
    payload: bytes,
    api_key: str | None,
    *,
    compression: grpc.Compression | None = None,
    timeout: float = 30,
) -> tuple[grpc.StatusCode, Any, str]:
    """One raw unary call (``api_key`` None: no key sent): status, response, details."""
    metadata = ((API_KEY_HEADER, api_key),) if api_key else ()
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 256 << 20)]
    ) as channel:
        try:
            response = channel.unary_unary(method)(
                payload, metadata=metadata, timeout=timeout, compression=compression
            )
        except grpc.RpcError as error:
            return error.code(), None, error.details() or ""
    return grpc.StatusCode.OK, response, ""


def tracer_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    """An SDK provider for ``service`` that hands each span to ``exporter`` as it ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def sdk_spans(count: int, service: str = "sdk-test") -> list[ReadableSpan]:
    """A root span and ``count - 1`` children, finished, as the SDK hands them to exporters."""
    memory = InMemorySpanExporter()
    provider = tracer_provider(service, memory)
    tracer = provider.get_tracer("junjo")
    with tracer.start_as_current_span("root") as root:
        root.set_attribute("junjo.span_type", "workflow")
        for number in range(count - 1):
            with tracer.start_as_current_span(f"child-{number}") as child:
                child.set_attribute("n", number)
    provider.shutdown()
    return list(memory.get_finished_spans())


def span_keys(spans: Sequence[ReadableSpan]) -> list[tuple[str, str]]:
    return [(f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}") for span in spans]


def grpc_exporter(target: str, api_key: str | None, *, gzip: bool = False) -> GrpcSpanExporter:
    headers = ((API_KEY_HEADER, api_key),) if api_key else None
    return GrpcSpanExporter(
        endpoint=target,
        insecure=True,
        headers=headers,
        timeout=10,
        compression=GrpcCompression.Gzip if gzip else None,
    )


def http_exporter(
    base_url: str, api_key: str | None, *, gzip: bool = False, bearer: bool = False
) -> HttpSpanExporter:
    headers = {}
    if api_key:
        headers = {"Authorization": f"Bearer {api_key}"} if bearer else {API_KEY_HEADER: api_key}
    return HttpSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        headers=headers,
        timeout=10,
        compression=HttpCompression.Gzip if gzip else HttpCompression.NoCompression,
    )
