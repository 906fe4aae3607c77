"""One OTLP ``ExportTraceServiceRequest`` → rows for the ``spans`` table.

This is the indexer's hot loop (protobuf parsing is cheap, building Python values and JSON is
not), so it is written for speed: one pass over the message, resource and scope work done once
per group instead of per span, locals bound outside loops, compact ``json.dumps``.

Rows are tuples in the order of ``schema.SPAN_COLUMNS`` (the table's declaration), because
DuckDB's appender, the fastest bulk path measured (see ``store.py``), takes rows. A span's
events, ``set_state`` ones included, are kept in its ``events_json``, which workflow replay
reads (``features/workflows``).

Two guards keep one span from costing its neighbours:

* **Oversized values are truncated**, never dropped: a string (name, status message,
  attribute value, also inside arrays and maps, of the span, its events, links, resource or
  scope) longer than ``max_value_bytes`` in UTF-8 is cut there and ends with a marker
  naming its original size, and the span gets a ``junjo.server.truncated`` attribute mapping
  each cut value's path to its original size. A 30 MB attribute would otherwise make DuckDB
  ask for a 50 MiB block, fail, and stop every later write. Only requests larger than the
  limit can hold such a value, and only spans whose encoded size passes it are inspected,
  so the usual request costs nothing here.
* **A span that cannot be converted is set aside alone**: the rest of its request is
  converted, and the span is handed back (re-packed in a request of its own, with its
  resource and scope) for the store to quarantine.
"""

from __future__ import annotations

import json
import json.encoder
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_ID, TRACE_ID
from junjo.otlp_proto.trace_service_pb2 import ExportTraceServiceRequest

if TYPE_CHECKING:
    from junjo.features.spans.native import NativeSpans

_INT64_MAX = (1 << 63) - 1
_STATUS_ERROR = 2
_EMPTY_JSON_LIST = "[]"


class ConversionError(ValueError):
    """The request decodes but holds values the store cannot represent (e.g. times > 2^63)."""


# The default for ``max_value_bytes`` (the ``max_attribute_value_kb`` setting).
DEFAULT_MAX_VALUE_BYTES = 1 << 20
TRUNCATED_ATTRIBUTE = "junjo.server.truncated"


@dataclass(frozen=True)
class FailedSpans:
    """Spans of one request that could not be converted, as a request of their own."""

    error: str
    payload: bytes  # a serialized ExportTraceServiceRequest holding only those spans
    span_count: int


@dataclass(frozen=True)
class ConvertedBatch:
    """Rows for one WAL batch; ``seq`` ties them to the WAL position they came from.

    A batch of the native converter (``native.py``) holds its rows as columns in ``native``
    (an Arrow C stream source) and has ``spans == []``."""

    seq: int
    spans: list[tuple[Any, ...]]
    truncated_values: int = 0
    failed: FailedSpans | None = None
    native: NativeSpans | None = None

    @property
    def span_count(self) -> int:
        return len(self.native) if self.native is not None else len(self.spans)

    def keys(self) -> list[tuple[str, str]]:
        """(trace_id, span_id) of each row, in order."""
        if self.native is not None:
            return self.native.keys()
        return [(row[TRACE_ID], row[SPAN_ID]) for row in self.spans]

    def halves(self) -> tuple[ConvertedBatch, ConvertedBatch]:
        """Its spans in two parts (for a write that failed); the first keeps the count of
        truncated values. A native batch becomes rows first (an error path only)."""
        spans = self.native.to_rows() if self.native is not None else self.spans
        middle = len(spans) // 2
        return (
            ConvertedBatch(self.seq, spans[:middle], self.truncated_values),
            ConvertedBatch(self.seq, spans[middle:]),
        )


# -- values -----------------------------------------------------------------------------


_SCALARS = frozenset({"bool_value", "int_value", "double_value", "string_value_strindex"})


def any_value(value: Any) -> Any:
    """AnyValue → JSON-able Python: arrays and kvlists nest, bytes → hex, unset → None."""
    # Most values are non-empty strings: reading string_value first skips the oneof lookup.
    return value.string_value or _not_a_non_empty_string(value)


def _not_a_non_empty_string(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return ""
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return value.bytes_value.hex()


def attributes(key_values: Any) -> dict[str, Any]:
    """A repeated KeyValue → dict. A repeated key keeps its last value, as OTel SDKs do."""
    out = {}
    for kv in key_values:
        value = kv.value
        # Inlined any_value: each call and protobuf attribute access costs ~100 ns here.
        out[kv.key] = value.string_value or _not_a_non_empty_string(value)
    return out


def _compact_encoder() -> Callable[[Any], str]:
    """json.dumps(separators=(",", ":"), ensure_ascii=False, allow_nan=False), minus the
    per-call setup JSONEncoder.encode does (~3 µs a call, two or more calls a span)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    escape = json.encoder.c_encode_basestring  # type: ignore[attr-defined]  # C, untyped
    encode = make(None, None, escape, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_dumps_strict = _compact_encoder()


def dumps(value: Any) -> str:
    """Compact JSON. NaN/±Infinity (legal in OTLP doubles, not in JSON) become the strings
    the OTLP/JSON mapping uses, so a stray NaN never makes a whole batch unreadable."""
    try:
        return _dumps_strict(value)
    except ValueError:
        return _dumps_strict(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    """An attribute lifted into a VARCHAR column: strings as-is, other values as JSON."""
    if value is None or value.__class__ is str:
        return value
    return dumps(value)


def _integer(value: Any) -> int | None:
    """An attribute lifted into a BIGINT column; tolerates "12" and 12.0, else None."""
    if value.__class__ is int:  # OTLP int_value: always within int64
        return value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
    else:  # None, bool, lists, maps: nothing sensible to count
        return None
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else None


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


# -- spans --------------------------------------------------------------------------------


def convert_request(
    payload: bytes,
    *,
    seq: int = 0,
    api_key_id: str | None = None,
    received_at_ns: int | None = None,
    indexed_at_ns: int | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> ConvertedBatch:
    """Decode and convert one serialized request. Raises only if it does not decode."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    out = _Output(max_value_bytes if len(payload) > max_value_bytes else None)
    provenance = (api_key_id, received_at_ns, indexed_at_ns, seq)
    for r, resource_spans in enumerate(request.resource_spans):
        resource = resource_spans.resource
        resource_attrs = attributes(resource.attributes)
        resource_attrs = out.bounded(resource_attrs, resource, "resource.attributes")
        service = _text(resource_attrs.get("service.name")) or ""
        resource_part = (
            dumps(resource_attrs),
            resource.dropped_attributes_count,
            out.bounded_text(resource_spans.schema_url, "resource.schema_url"),
        )
        resource_cuts = out.take_cuts()
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            scope_attrs = attributes(scope.attributes)
            scope_attrs = out.bounded(scope_attrs, scope, "scope.attributes")
            scope_part = (
                out.bounded_text(scope.name, "scope.name"),
                out.bounded_text(scope.version, "scope.version"),
                dumps(scope_attrs),
                scope.dropped_attributes_count,
                out.bounded_text(scope_spans.schema_url, "scope.schema_url"),
                *provenance,
            )
            shared_cuts = {**resource_cuts, **out.take_cuts()}
            for i, span in enumerate(scope_spans.spans):
                out.convert((r, s, i), span, service, resource_part, scope_part, shared_cuts)
    return ConvertedBatch(
        seq, out.spans, out.truncated, repack_failed(request, out.failed) if out.failed else None
    )


SpanPosition = tuple[int, int, int]  # (resource_spans, scope_spans, span) indexes


class _Output:
    """The rows of one request, and what was truncated or set aside on the way."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit  # None: the request is too small to hold an oversized value
        self.spans: list[tuple[Any, ...]] = []
        self.truncated = 0
        self.failed: dict[SpanPosition, str] = {}  # why each span set aside failed
        self._cuts: dict[str, int] = {}

    def convert(
        self,
        position: SpanPosition,
        span: Any,
        service: str,
        resource_part: tuple[Any, ...],
        scope_part: tuple[Any, ...],
        shared_cuts: dict[str, int],
    ) -> None:
        inspect = self.limit is not None and span.ByteSize() > self.limit
        try:
            row = _span_row(span, service, resource_part, scope_part, shared_cuts, self, inspect)
        except Exception as exc:  # this span alone is set aside; its neighbours go on
            self.failed[position] = f"{type(exc).__name__}: {exc}"
            self.truncated -= len(self._cuts)
            self._cuts = {}
            return
        self.spans.append(row)

    # -- truncation ------------------------------------------------------------------------

    def bounded(self, values: Any, message: Any, path: str) -> Any:
        """``values`` fitted (``fit``), if ``message`` is big enough to hold too much."""
        if self.limit is None or message.ByteSize() <= self.limit:
            return values
        return self.fit(values, path)

    def bounded_text(self, text: str, path: str) -> str:
        return self.fit(text, path) if self.limit is not None else text

    def take_cuts(self) -> dict[str, int]:
        cuts, self._cuts = self._cuts, {}
        return cuts

    def fit(self, value: Any, path: str) -> Any:
        """``value`` with every string longer than the limit cut. A JSON column (attributes,
        events, links) must also fit in ``COLUMN_LIMIT_FACTOR`` times the limit in all: if
        many values each under the limit add up to more, every string is cut shorter until
        it fits, and as a last resort the items that still do not are dropped and counted.
        Each cut is noted with its original size."""
        assert self.limit is not None
        budget, limit = self.limit * COLUMN_LIMIT_FACTOR, self.limit
        while True:
            cuts: dict[str, int] = {}
            fitted = _cut(value, path, limit, cuts)
            size = 0 if value.__class__ is str else _json_size(fitted)
            if size <= budget or limit <= _SMALLEST_CUT:
                break
            limit = max(_SMALLEST_CUT, int(limit * budget / size * 0.9))
        if size > budget:
            fitted = _drop_what_does_not_fit(fitted, path, budget, cuts)
        self._cuts.update(cuts)
        self.truncated += len(cuts)
        return fitted


# A column (attributes, events, links, resource or scope attributes) is kept under this many
# times max_value_bytes in all: values each under the limit can still add up to more than
# DuckDB can hold in one row (60 values of 1 MiB in a resource repeat in each of its spans).
COLUMN_LIMIT_FACTOR = 4
_SMALLEST_CUT = 1024


def _json_size(value: Any) -> int:
    return len(dumps(value).encode("utf-8", "surrogatepass"))


def _cut(value: Any, path: str, limit: int, cuts: dict[str, int]) -> Any:
    """``value`` with every string (map keys included) over ``limit`` bytes cut."""
    if value.__class__ is str:
        if len(value) * 4 <= limit:  # cannot be over the limit: no encoding needed
            return value
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) <= limit:
            return value
        cuts[path] = len(encoded)
        kept = encoded[:limit].decode("utf-8", "ignore")  # never half a character
        return f"{kept}…[truncated by junjo: {len(encoded):,} bytes]"
    if value.__class__ is list:
        return [_cut(item, f"{path}[{i}]", limit, cuts) for i, item in enumerate(value)]
    if value.__class__ is dict:
        return {
            _cut(key, f"{path}.<key>", limit, cuts): _cut(item, f"{path}.{key[:64]}", limit, cuts)
            for key, item in value.items()
        }
    return value


def _drop_what_does_not_fit(value: Any, path: str, budget: int, cuts: dict[str, int]) -> Any:
    """The leading items of a map or list that fit in ``budget``; the rest are counted in
    ``cuts`` as ``path + "[dropped]"``. (Only for a column of very many small values.)"""
    items = list(value.items()) if value.__class__ is dict else list(value)
    kept, size = [], 2
    for item in items:
        size += _json_size(item) + 1
        if size > budget:
            break
        kept.append(item)
    cuts[f"{path}[dropped]"] = len(items) - len(kept)
    return dict(kept) if value.__class__ is dict else kept


def repack_failed(
    request: ExportTraceServiceRequest, failed: dict[SpanPosition, str]
) -> FailedSpans:
    """The spans that could not be converted, as a request of their own."""
    payload, count = _subset(request, lambda position, span: position in failed)
    return FailedSpans(span_errors(list(failed.values())), payload, count)


def span_errors(errors: list[str]) -> str:
    """What went wrong with spans set aside together, in one line."""
    return errors[0] if len(errors) == 1 else f"{len(errors)} spans; the first: {errors[0]}"


def repack_spans(payload: bytes, keys: set[tuple[str, str]]) -> tuple[bytes, int]:
    """The spans of ``payload`` whose (trace_id, span_id) hex pair is in ``keys``, with their
    resource and scope, as a serialized request; and how many there are."""
    request = ExportTraceServiceRequest.FromString(payload)
    return _subset(request, lambda _, span: (span.trace_id.hex(), span.span_id.hex()) in keys)


def _subset(
    request: ExportTraceServiceRequest, keep: Callable[[SpanPosition, Any], bool]
) -> tuple[bytes, int]:
    out = ExportTraceServiceRequest()
    count = 0
    for r, resource_spans in enumerate(request.resource_spans):
        kept_resource = None
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            kept = [span for i, span in enumerate(scope_spans.spans) if keep((r, s, i), span)]
            if not kept:
                continue
            if kept_resource is None:
                kept_resource = out.resource_spans.add()
                kept_resource.resource.CopyFrom(resource_spans.resource)
                kept_resource.schema_url = resource_spans.schema_url
            kept_scope = kept_resource.scope_spans.add()
            kept_scope.scope.CopyFrom(scope_spans.scope)
            kept_scope.schema_url = scope_spans.schema_url
            kept_scope.spans.extend(kept)
            count += len(kept)
    return out.SerializeToString(), count


def _span_row(
    span: Any,
    service: str,
    resource_part: tuple[Any, ...],
    scope_part: tuple[Any, ...],
    shared_cuts: dict[str, int],
    out: _Output,
    inspect: bool,
) -> tuple[Any, ...]:
    """One span's row. ``inspect``: the span is big enough to hold oversized values, so they
    are cut; the cuts (and those of its resource and scope, ``shared_cuts``) are listed in
    its ``junjo.server.truncated`` attribute."""
    trace_id = span.trace_id.hex()
    span_id = span.span_id.hex()
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    if start > _INT64_MAX or end > _INT64_MAX:
        raise ConversionError(f"span {span_id}: timestamp beyond year 2262")
    attrs = attributes(span.attributes)
    name, status_message, trace_state = span.name, span.status.message, span.trace_state
    if inspect:
        attrs = out.fit(attrs, "attributes")
        name = out.fit(name, "name")
        status_message = out.fit(status_message, "status.message")
        trace_state = out.fit(trace_state, "trace_state")
    events_json, has_exception = _events(span, out, inspect)
    links_json = _links(span.links, out, inspect) if span.links else _EMPTY_JSON_LIST
    cuts = {**shared_cuts, **out.take_cuts()}
    if cuts:
        attrs[TRUNCATED_ATTRIBUTE] = cuts
    status = span.status
    parent = span.parent_span_id
    return (
        trace_id,
        span_id,
        parent.hex() if parent else None,
        service,
        name,
        span.kind,
        start,
        end,
        end - start,
        status.code,
        status_message,
        dumps(attrs),
        events_json,
        links_json,
        span.flags,
        trace_state,
        span.dropped_attributes_count,
        span.dropped_events_count,
        span.dropped_links_count,
        *resource_part,
        *scope_part,
        *_junjo_columns(attrs),
        *_llm_and_error_columns(attrs, status.code == _STATUS_ERROR or has_exception),
    )


def _events(span: Any, out: _Output, inspect: bool) -> tuple[str, bool]:
    """events_json for one span, and whether one of its events is an exception."""
    if not span.events:
        return _EMPTY_JSON_LIST, False
    events, has_exception = [], False
    for event in span.events:
        name = event.name
        has_exception = has_exception or name == "exception"
        events.append(
            {
                "name": name,
                "timeUnixNano": str(event.time_unix_nano),  # a u64: JS numbers lose precision
                "attributes": attributes(event.attributes),
                "droppedAttributesCount": event.dropped_attributes_count,
            }
        )
    if inspect:
        events = out.fit(events, "events")
    return dumps(events), has_exception


def _links(links: Any, out: _Output, inspect: bool) -> str:
    values = [
        {
            "traceId": link.trace_id.hex(),
            "spanId": link.span_id.hex(),
            "traceState": link.trace_state,
            "attributes": attributes(link.attributes),
            "droppedAttributesCount": link.dropped_attributes_count,
            "flags": link.flags,
        }
        for link in links
    ]
    if inspect:
        values = out.fit(values, "links")
    return dumps(values)


# Lifted into VARCHAR columns, in SPAN_COLUMNS order (contract_version and the store id,
# which need more than a lookup, are spliced in by _junjo_columns).
_JUNJO_TEXT_KEYS = (
    "junjo.executable_definition_id",
    "junjo.executable_runtime_id",
    "junjo.executable_structural_id",
    "junjo.enclosing_graph_structural_id",
    "junjo.parent_executable_definition_id",
    "junjo.parent_executable_runtime_id",
    "junjo.parent_executable_structural_id",
    "junjo.parent_executable_type",
)
_JUNJO_TEXT_KEYS_AFTER_STORE = (
    "junjo.workflow.parent_store.id",
    "junjo.id",  # legacy (SDK <= 0.62)
    "junjo.parent_id",
    "junjo.correlation.type",
    "junjo.correlation.id",
)


def _junjo_columns(attrs: dict[str, Any]) -> tuple[Any, ...]:
    get = attrs.get
    span_type = get("junjo.span_type")
    version = get("junjo.telemetry.contract_version")
    if span_type is None and version is None:
        return _NO_JUNJO  # most non-Junjo spans: skip the lookups
    # Inline str checks, not _text() calls: this runs for every Junjo span.
    ids = [v if v is None or v.__class__ is str else dumps(v) for v in map(get, _JUNJO_TEXT_KEYS)]
    more = [
        v if v is None or v.__class__ is str else dumps(v)
        for v in map(get, _JUNJO_TEXT_KEYS_AFTER_STORE)
    ]
    # The store this span owns: a workflow/subflow store, else an agent's.
    store_id = _text(_first(attrs, _STORE_ID))
    return (_text(span_type), _integer(version), *ids, store_id, *more)


# One None per lifted Junjo column: junjo_span_type up to is_llm.
_NO_JUNJO = (None,) * (SPAN_COLUMNS.index("is_llm") - SPAN_COLUMNS.index("junjo_span_type"))
_STORE_ID = ("junjo.workflow.store.id", "junjo.agent.store.id")


_PROMPT_TOKENS = (
    "llm.token_count.prompt",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
)
_COMPLETION_TOKENS = (
    "llm.token_count.completion",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
)
_PROVIDER = ("llm.provider", "gen_ai.provider.name", "gen_ai.system")
_MODEL = ("llm.model_name", "gen_ai.response.model", "gen_ai.request.model")
# GenAI attributes that mark a model call when gen_ai.operation.name is missing (older
# instrumentations; gen_ai.system is the pre-1.37 name of gen_ai.provider.name).
_GEN_AI_CALL_KEYS = (
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    *(key for key in (*_PROMPT_TOKENS, *_COMPLETION_TOKENS) if key.startswith("gen_ai.")),
)
# gen_ai.operation.name values of the GenAI conventions that are not a call to a model: an
# agent or tool span carries the provider, model and usage of the calls it holds.
_NOT_MODEL_CALLS = frozenset({"create_agent", "invoke_agent", "execute_tool"})
_LLM_KEYS = frozenset(
    {
        "openinference.span.kind",
        "gen_ai.operation.name",
        "llm.token_count.total",
        *_PROMPT_TOKENS,
        *_COMPLETION_TOKENS,
        *_PROVIDER,
        *_MODEL,
    }
)


def is_llm_call(attrs: dict[str, Any]) -> bool:
    """Whether a span is a call to a model (Studio's LLM icon and has_llm filter, the
    traces' LLM call count): an OpenInference LLM span, or a GenAI one (OTel semantic
    conventions) whose operation is a model call or, with no operation named, that names a
    provider or model or counts tokens."""
    get = attrs.get
    if get("openinference.span.kind") == "LLM":
        return True
    operation = get("gen_ai.operation.name")
    if _non_empty_str(operation):
        return operation not in _NOT_MODEL_CALLS
    return any(get(key) not in (None, "") for key in _GEN_AI_CALL_KEYS)


def _llm_and_error_columns(attrs: dict[str, Any], is_error: bool) -> tuple[Any, ...]:
    get = attrs.get
    error_type = get("error.type")
    if _LLM_KEYS.isdisjoint(attrs):  # most spans: one pass over the keys, no lookups
        return (False, is_error, _text(error_type), None, None, None, None, None)
    is_llm = is_llm_call(attrs)
    prompt = _integer(_first(attrs, _PROMPT_TOKENS))
    completion = _integer(_first(attrs, _COMPLETION_TOKENS))
    total = _integer(get("llm.token_count.total"))
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    return (
        is_llm,
        is_error,
        _text(error_type),
        _text(_first(attrs, _PROVIDER)),
        _text(_first(attrs, _MODEL)),
        prompt,
        completion,
        total,
    )


def _non_empty_str(value: Any) -> bool:
    return value.__class__ is str and value != ""
