"""Spans made by the real OpenTelemetry SDK, and its real OTLP exporters, for tests."""

from __future__ import annotations

from collections.abc import Sequence

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
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def sdk_spans(count: int, service: str = "sdk-test") -> list[ReadableSpan]:
    """A root span and ``count - 1`` children, finished, as the SDK hands them to exporters."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
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
    headers = (("x-junjo-api-key", api_key),) if api_key else None
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
        headers = {"Authorization": f"Bearer {api_key}"} if bearer else {"x-junjo-api-key": api_key}
    return HttpSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        headers=headers,
        timeout=10,
        compression=HttpCompression.Gzip if gzip else HttpCompression.NoCompression,
    )
