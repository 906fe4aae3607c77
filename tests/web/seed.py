"""Traces for the home and traces-list browser tests, made by the real OpenTelemetry SDK and
sent through a server's real ingestion (OTLP/HTTP or gRPC exporters, the ingest key), with
chosen start times and durations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from tests.support.export import grpc_exporter, http_exporter, tracer_provider
from tests.support.otlp_builders import MS
from tests.support.web import WebServer

MINUTE = 60_000 * MS
HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class S:
    """A span to make: name, start (ns after the trace's), length (ms), children."""

    name: str
    ms: float
    at_ms: float = 0
    error: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[S] = field(default_factory=list)
    kind: SpanKind = SpanKind.INTERNAL


def llm_call(at_ms: float, tokens_in: int, tokens_out: int) -> S:
    return S(
        "chat gpt-test",
        20,
        at_ms,
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-test",
            "gen_ai.usage.input_tokens": tokens_in,
            "gen_ai.usage.output_tokens": tokens_out,
        },
    )


def emit(provider: TracerProvider, spec: S, start_ns: int, context: Any = None) -> str:
    """Make and end the spans of ``spec`` (children first, as they end); the trace id."""
    tracer = provider.get_tracer("tests")
    begin = start_ns + int(spec.at_ms * MS)
    span = tracer.start_span(
        spec.name, context=context, kind=spec.kind, start_time=begin, attributes=spec.attributes
    )
    for child in spec.children:
        emit(provider, child, begin, trace.set_span_in_context(span))
    if spec.error:
        span.set_status(Status(StatusCode.ERROR, f"{spec.name} failed"))
    span.end(end_time=begin + int(spec.ms * MS))
    return f"{span.get_span_context().trace_id:032x}"


def remote_parent() -> Any:
    """A context whose span lives in another system and is never sent here."""
    parent = SpanContext(0xFEED << 90, 0xBEEF, is_remote=True, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def http_provider(web: WebServer, service: str) -> TracerProvider:
    return tracer_provider(service, http_exporter(web.url, web.keys.ingest))


def grpc_provider(web: WebServer, service: str) -> TracerProvider:
    return tracer_provider(service, grpc_exporter(web.server.grpc_target, web.keys.ingest))


def seed_shop_and_assistant(web: WebServer) -> dict[str, str]:
    """shop (OTLP/HTTP): checkout (an error, 120 ms), browse (30 ms) and a hostile root
    name (5 ms) minutes ago, nightly-report (2 s) two days ago; assistant (gRPC): answer,
    800 ms, two LLM calls of 18 tokens; webhooks: a span whose parent never arrives.
    Returns trace ids by root name."""
    now = time.time_ns()
    ids: dict[str, str] = {}
    shop = http_provider(web, "shop")
    charge = S("charge-card", 40, 10, error=True, attributes={"customer.tier": "gold"})
    ids["checkout"] = emit(shop, S("checkout", 120, children=[charge]), now - 10 * MINUTE)
    ids["browse"] = emit(shop, S("browse", 30), now - 9 * MINUTE)
    ids[HOSTILE] = emit(shop, S(HOSTILE, 5), now - 8 * MINUTE)
    ids["nightly-report"] = emit(shop, S("nightly-report", 2000), now - 2 * 24 * 60 * MINUTE)
    shop.shutdown()
    assistant = grpc_provider(web, "assistant")
    answer = S("answer", 800, children=[llm_call(10, 11, 7), llm_call(400, 11, 7)])
    ids["answer"] = emit(assistant, answer, now - 7 * MINUTE)
    assistant.shutdown()
    webhooks = http_provider(web, "webhooks")
    ids["handle-webhook"] = emit(
        webhooks, S("handle-webhook", 3), now - 6 * MINUTE, remote_parent()
    )
    webhooks.shutdown()
    return ids
