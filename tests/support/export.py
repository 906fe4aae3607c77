"""Sending spans to a server in tests: raw OTLP/gRPC calls, and spans made and exported by
the real OpenTelemetry SDK."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import grpc
import httpx
from grpc import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
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


def grpc_exporter(
    target: str, api_key: str | None, *, gzip: bool = False, tls_ca: bytes | None = None
) -> GrpcSpanExporter:
    """``tls_ca``: talk TLS to the server, trusting this CA (PEM)."""
    headers = ((API_KEY_HEADER, api_key),) if api_key else None
    credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca) if tls_ca else None
    return GrpcSpanExporter(
        endpoint=target,
        insecure=tls_ca is None,
        credentials=credentials,
        headers=headers,
        timeout=10,
        compression=GrpcCompression.Gzip if gzip else None,
    )


def http_exporter(
    base_url: str,
    api_key: str | None,
    *,
    gzip: bool = False,
    bearer: bool = False,
    tls_ca_file: str | None = None,
) -> HttpSpanExporter:
    """``tls_ca_file``: for an https:// ``base_url``, the CA file to trust."""
    headers = {}
    if api_key:
        headers = {"Authorization": f"Bearer {api_key}"} if bearer else {API_KEY_HEADER: api_key}
    return HttpSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        headers=headers,
        certificate_file=tls_ca_file,
        timeout=10,
        compression=HttpCompression.Gzip if gzip else HttpCompression.NoCompression,
    )


def post_otlp(
    base_url: str, ingest_key: str, requests: Iterable[ExportTraceServiceRequest | bytes]
) -> None:
    """Each request to ``POST /v1/traces`` (protobuf), as an OTLP/HTTP exporter sends it;
    every one must be accepted (200)."""
    headers = {API_KEY_HEADER: ingest_key, "Content-Type": "application/x-protobuf"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for request in requests:
            body = request if isinstance(request, bytes) else request.SerializeToString()
            response = client.post("/v1/traces", content=body)
            assert response.status_code == 200, response.text
