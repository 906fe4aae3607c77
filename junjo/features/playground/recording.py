"""Each playground run, traced into this server: one span in a trace of its own under the
service ``junjo-playground``, with the attributes OpenInference and OTel GenAI give an LLM
call (model, messages, parameters, tokens), so it is listed, searched, priced and opened
in the playground again like any LLM span of an app.

The span is written through ingestion's own durable path (``IngestService.accept``: the
same WAL append an OTLP export gets, in-process), not over the network.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from junjo import __version__
from junjo.kernel.errors import JunjoError
from junjo.otlp_proto.common_pb2 import AnyValue, KeyValue
from junjo.otlp_proto.trace_pb2 import Span, Status
from junjo.otlp_proto.trace_service_pb2 import ExportTraceServiceRequest

from .engine import Outcome, run_cost

SERVICE = "junjo-playground"
log = logging.getLogger("junjo.playground")

# (protobuf bytes) -> None; raises JunjoError when ingestion refuses (backpressure).
Accept = Callable[[bytes], None]


def record(outcome: Outcome, accept: Accept | None, user: str) -> dict[str, Any]:
    """Write the run's span; ``{"trace_id", "span_id", "service", "recorded"}``."""
    trace_id, span_id = os.urandom(16), os.urandom(8)
    ids = {"trace_id": trace_id.hex(), "span_id": span_id.hex(), "service": SERVICE}
    if accept is None:  # a server without the ingest feature
        return {**ids, "recorded": False}
    try:
        accept(export_request(outcome, trace_id, span_id, user).SerializeToString())
    except JunjoError as exc:  # ingestion busy: the run's answer still goes back
        log.warning("playground run not recorded: %s", exc)
        return {**ids, "recorded": False}
    return {**ids, "recorded": True}


def export_request(
    outcome: Outcome, trace_id: bytes, span_id: bytes, user: str
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _fill(resource_spans.resource.attributes, {"service.name": SERVICE})
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "junjo.playground"
    scope_spans.scope.version = __version__
    span = scope_spans.spans.add()
    span.trace_id, span.span_id = trace_id, span_id
    span.name = f"chat {outcome.request.model_name}"
    span.kind = Span.SpanKind.SPAN_KIND_CLIENT
    span.start_time_unix_nano = outcome.started_ns
    span.end_time_unix_nano = max(outcome.ended_ns, outcome.started_ns)
    _fill(span.attributes, span_attributes(outcome, user))
    if outcome.error is not None:
        span.status.code = Status.StatusCode.STATUS_CODE_ERROR
        span.status.message = str(outcome.error)
    else:
        span.status.code = Status.StatusCode.STATUS_CODE_OK
    return request


def span_attributes(outcome: Outcome, user: str) -> dict[str, Any]:
    request, response = outcome.request, outcome.response or {}
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    usage = response.get("usage") or {}
    params = {**request.params, "json_mode": request.json_mode}
    if request.json_schema is not None:
        params["json_schema"] = request.json_schema
    attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.provider": request.provider,
        "llm.model_name": request.model_name,
        "llm.invocation_parameters": json.dumps(params),
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": request.provider,
        "gen_ai.request.model": request.model_name,
        "junjo.playground.user": user,
        "junjo.playground.latency_ms": round(outcome.latency_ms, 3),
    }
    for key, value in request.source.items():
        attrs[f"junjo.playground.source.{key}"] = value
    if request.tools:
        attrs["llm.tools"] = json.dumps(request.tools)
    for index, item in enumerate(request.messages):
        prefix = f"llm.input_messages.{index}.message."
        attrs[prefix + "role"] = item["role"]
        attrs[prefix + "content"] = _text(item.get("content"))
        if item.get("tool_calls"):
            attrs[prefix + "tool_calls"] = json.dumps(item["tool_calls"])
    if outcome.response is not None:
        attrs["llm.output_messages.0.message.role"] = message.get("role") or "assistant"
        attrs["llm.output_messages.0.message.content"] = message.get("content") or ""
        attrs["gen_ai.response.model"] = response.get("model") or request.model_name
        if choice.get("finish_reason"):
            attrs["gen_ai.response.finish_reasons"] = [str(choice["finish_reason"])]
        if response.get("reasoning_content"):
            attrs["junjo.playground.reasoning"] = response["reasoning_content"]
    if usage:
        attrs["llm.token_count.prompt"] = usage["prompt_tokens"]
        attrs["llm.token_count.completion"] = usage["completion_tokens"]
        attrs["llm.token_count.total"] = usage["total_tokens"]
    cost = run_cost(request, outcome.response)
    if cost is not None:
        attrs["junjo.playground.cost_usd"] = cost["usd"]
    return attrs


def _text(content: Any) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def _fill(target: Any, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        item: KeyValue = target.add()
        item.key = key
        _value(item.value, value)


def _value(target: AnyValue, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            _value(target.array_value.values.add(), item)
    else:
        target.string_value = str(value)
