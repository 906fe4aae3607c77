"""Seeds for the walker's fuzzer: serialized ``ExportTraceServiceRequest`` bytes, good and bad.

    .venv/bin/python -m tests.fuzz.corpus DIR     # writes them to DIR, one file each

Three sources, so the fuzzer starts from every path the walker has (coverage-guided mutation
finds its way from a seed far sooner than from nothing):

* the benchmark spans (``scripts/bench_ingest.py``, ``scripts/bench_indexer.py``): the shape
  of production traffic, Junjo and LLM spans;
* the real-SDK fixtures of ``tests/workflows/fixtures`` (contract 2 and 3, legacy), and the
  parity test's random wire-level requests (``tests/spans/test_native.py``);
* hand-made edge cases, most written at the wire level with the small encoder below because
  protobuf will not produce them: every AnyValue kind, deep nesting, huge and empty strings,
  invalid UTF-8, repeated singular fields (merged), unknown fields, wrong wire types, groups,
  bad varints and lengths, and truncations of all of the above.

Field numbers are those of ``proto/opentelemetry/proto`` (the ``F_*`` constants).
"""

from __future__ import annotations

import json
import math
import random
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scripts.bench_indexer import build_payloads
from scripts.bench_ingest import build_template
from tests.spans.test_native import random_cases
from tests.support.otlp_builders import (
    CLIENT,
    T0,
    make_event,
    make_link,
    make_request,
    make_resource_spans,
    make_span,
    request_payload,
)
from tests.support.resend import recorded_span
from tests.support.wire import f32, f64, ld, tag, varint, vi

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "workflows" / "fixtures"
REGRESSIONS = Path(__file__).resolve().with_name("regressions")
# The fuzzer's -max_len: a seed longer than this is cut to it when the fuzzer loads it, so the
# seeds are built below it (the replay of the seeds walks the few larger ones whole).
MAX_LEN = 256 * 1024

Seeds = Iterator[tuple[str, bytes]]

# -- the wire format ------------------------------------------------------------------------

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5

# ExportTraceServiceRequest, ResourceSpans, ScopeSpans
F_RESOURCE_SPANS = 1
F_RESOURCE, F_SCOPE_SPANS, F_SCHEMA_URL = 1, 2, 3
F_SCOPE, F_SPANS = 1, 2
# Resource, InstrumentationScope
F_RESOURCE_ATTRIBUTES, F_RESOURCE_DROPPED = 1, 2
F_SCOPE_NAME, F_SCOPE_VERSION, F_SCOPE_ATTRIBUTES = 1, 2, 3
# Span
F_TRACE_ID, F_SPAN_ID, F_TRACE_STATE, F_PARENT, F_NAME, F_KIND = 1, 2, 3, 4, 5, 6
F_START, F_END, F_ATTRIBUTES, F_DROPPED_ATTRIBUTES, F_EVENTS = 7, 8, 9, 10, 11
F_DROPPED_EVENTS, F_LINKS, F_DROPPED_LINKS, F_STATUS, F_FLAGS = 12, 13, 14, 15, 16
F_EVENT_TIME, F_EVENT_NAME, F_EVENT_ATTRIBUTES = 1, 2, 3
F_LINK_ATTRIBUTES, F_LINK_FLAGS = 4, 6
F_STATUS_MESSAGE, F_STATUS_CODE = 2, 3
# KeyValue, AnyValue, ArrayValue / KeyValueList
F_KEY, F_VALUE = 1, 2
F_STRING, F_BOOL, F_INT, F_DOUBLE, F_ARRAY, F_KVLIST, F_BYTES, F_STRINDEX = 1, 2, 3, 4, 5, 6, 7, 8
F_VALUES = 1


def double(field: int, number: float) -> bytes:
    return tag(field, I64) + struct.pack("<d", number)


def request(*spans: bytes, resource: bytes = b"", scope: bytes = b"") -> bytes:
    """One resource holding one scope holding ``spans`` (each a Span's bytes)."""
    scope_spans = ld(F_SCOPE, scope) + b"".join(ld(F_SPANS, span) for span in spans)
    return ld(F_RESOURCE_SPANS, ld(F_RESOURCE, resource), ld(F_SCOPE_SPANS, scope_spans))


def span(*fields: bytes) -> bytes:
    """A span with ids and times, then ``fields``."""
    return (
        ld(F_TRACE_ID, bytes(range(1, 17)))
        + ld(F_SPAN_ID, bytes(range(1, 9)))
        + f64(F_START, T0)
        + f64(F_END, T0 + 1000)
        + b"".join(fields)
    )


def kv(key: bytes, *value: bytes) -> bytes:
    """A KeyValue's bytes (key, then AnyValue fields as given)."""
    return ld(F_KEY, key) + ld(F_VALUE, *value)


def attr(key: bytes, *value: bytes) -> bytes:
    """A span attribute: ``span(attr(b"k", ld(F_STRING, b"v")))``."""
    return ld(F_ATTRIBUTES, kv(key, *value))


def string(text: bytes) -> bytes:
    return ld(F_STRING, text)


def array(*values: bytes) -> bytes:
    return ld(F_ARRAY, b"".join(ld(F_VALUES, value) for value in values))


def kvlist(*pairs: bytes) -> bytes:
    return ld(F_KVLIST, b"".join(ld(F_VALUES, pair) for pair in pairs))


# -- the seeds --------------------------------------------------------------------------------


def seeds() -> Seeds:
    """Every seed, as (file name, bytes); names are unique and say what the seed is."""
    for source in (
        bench_seeds,
        fixture_seeds,
        value_seeds,
        lifted_column_seeds,
        nesting_seeds,
        string_seeds,
        merge_seeds,
        unknown_and_wire_type_seeds,
        varint_and_length_seeds,
        time_and_id_seeds,
        shape_seeds,
        random_seeds,
        parity_seeds,
        amplification_seeds,
    ):
        yield from source()
    yield from truncation_seeds()
    yield from regression_seeds()


def write_seeds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in seeds():
        path = directory / name
        assert not path.exists(), f"two seeds named {name}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def bench_seeds() -> Seeds:
    for spans, seed in ((16, 1), (64, 2), (160, 3)):  # 160 spans: ~190 KB, under MAX_LEN
        template, _ = build_template(spans, seed)
        yield f"bench_ingest_{spans}", template
    for number, payload in enumerate(build_payloads(120)):
        yield f"bench_indexer_{number}", payload
    yield "bench_indexer_large", build_payloads(600)[0]  # > MAX_LEN: replay only


def parity_seeds(count: int = 300) -> Seeds:
    """The first of the parity test's random wire-level requests (tests/spans/test_native)."""
    for number, payload in enumerate(random_cases(count)):
        yield f"parity_{number}", payload


def fixture_seeds() -> Seeds:
    for path in sorted(FIXTURES.glob("*.json")):
        spans = json.loads(path.read_text())
        trace_id = bytes.fromhex(spans[0]["trace_id"]) if "trace_id" in spans[0] else b"\1" * 16
        converted = [recorded_span(s, trace_id, 0) for s in spans]
        yield f"fixture_{path.stem}", request_payload(converted, service_name=path.stem)


def value_seeds() -> Seeds:
    """Every AnyValue kind, through protobuf (well-formed) and as raw wire fields."""
    values: dict[str, Any] = {
        "s": "text",
        "empty": "",
        "t": True,
        "f": False,
        "i": 12,
        "i_min": -(1 << 63),
        "i_max": (1 << 63) - 1,
        "i_neg": -1,
        "b": b"\x00\xff bytes",
        "b_empty": b"",
        "arr": [1, "two", 3.5, None, [True], {"k": b"\x01"}],
        "arr_empty": [],
        "map": {"a": 1, "b": {"c": [None]}},
        "map_empty": {},
        "unset": None,
    }
    doubles = [0.0, -0.0, 1.0, 0.1, 1e-5, 1e-4, 1e15, 1e16, 1.5e300, 5e-324, 2.0**63, 2.0**64]
    doubles += [-(2.0**63), 123456789012345680.0, 1 / 3, math.nan, math.inf, -math.inf]
    values |= {f"d{n}": d for n, d in enumerate(doubles)}
    yield "values_all_kinds", request_payload([make_span(attributes=values)])
    raw = [
        ("strindex", vi(F_STRINDEX, 7)),
        ("strindex_negative", vi(F_STRINDEX, -5)),
        ("bool_2", vi(F_BOOL, 2)),
        ("bool_huge", vi(F_BOOL, (1 << 64) - 1)),
        ("double_nan_payload", tag(F_DOUBLE, I64) + b"\x01\x00\x00\x00\x00\x00\xf8\x7f"),
        ("double_neg_nan", tag(F_DOUBLE, I64) + b"\x00\x00\x00\x00\x00\x00\xf8\xff"),
        ("empty_value", b""),
    ]
    for name, value in raw:
        yield f"value_{name}", request(span(attr(b"k", value)))
    yield "value_key_strindex", request(span(ld(F_ATTRIBUTES, vi(3, 4), ld(F_VALUE, string(b"v")))))
    yield "value_missing", request(span(ld(F_ATTRIBUTES, ld(F_KEY, b"k"))))
    yield "value_missing_key", request(span(ld(F_ATTRIBUTES, ld(F_VALUE, vi(F_INT, 1)))))


def lifted_column_seeds() -> Seeds:
    """Attributes convert.py lifts into columns, with each kind of value they can hold."""
    junjo = {
        "junjo.span_type": "workflow",
        "junjo.telemetry.contract_version": "3",
        "junjo.executable_definition_id": ["not", "a", "string"],
        "junjo.executable_runtime_id": 7,
        "junjo.workflow.store.id": "",
        "junjo.agent.store.id": "agent-store",
        "junjo.id": {"legacy": True},
        "junjo.parent_id": 1.5,
        "junjo.correlation.type": "x",
        "error.type": "TimeoutError",
    }
    yield "lifted_junjo", request_payload([make_span(attributes=junjo)])
    tokens = [12, 12.0, 12.5, 1e20, " 12 ", "+5", "-0", "0012", "1_000", "١٢", "12a", "", True]
    tokens += ["9223372036854775807", "9223372036854775808", "-9223372036854775809", None]
    tokens += ["\u00a012", "\t\n 7\x0b\x0c\r", "\x1c3", "12\x00", "٣"]
    spans = []
    for number, value in enumerate(tokens):
        attributes = {
            "gen_ai.system": "openai" if number % 2 else "",
            "gen_ai.operation.name": ["chat", "invoke_agent", "", 5, None][number % 5],
            "llm.token_count.prompt": value,
            "gen_ai.usage.output_tokens": tokens[-1 - number],
            "llm.token_count.total": value if number % 3 == 0 else None,
            "llm.provider": {"nested": value} if number % 4 == 0 else None,
            "openinference.span.kind": "LLM" if number % 6 == 0 else "CHAIN",
        }
        spans.append(make_span(name=f"tokens-{number}", kind=CLIENT, attributes=attributes))
    yield "lifted_tokens", request_payload(spans)
    for number, alone in enumerate(spans):  # alone too: one declined value declines them all
        yield f"lifted_tokens_{number}", request_payload([alone])
    int64_max = (1 << 63) - 1
    overflow = {"llm.token_count.prompt": int64_max, "gen_ai.usage.output_tokens": 1}
    yield "lifted_tokens_sum_overflows", request_payload([make_span(attributes=overflow)])
    exception = make_event("exception", T0, {"exception.type": "ValueError"})
    spans = [
        make_span(name="error", status_code=2, status_message="boom"),
        make_span(name="exception", events=[make_event("x"), exception]),
        make_span(name="ok", status_code=1, status_message="fine"),
        make_span(name="code_99", status_code=99),
    ]
    yield "lifted_errors", request_payload(spans)
    yield "status_code_negative", request(span(ld(F_STATUS, vi(F_STATUS_CODE, -2))))
    yield "status_code_huge", request(span(ld(F_STATUS, vi(F_STATUS_CODE, 1 << 40 | 2))))
    yield "kind_negative", request(span(vi(F_KIND, -1)))
    yield "kind_huge", request(span(vi(F_KIND, (1 << 64) - 1)))
    yield "dropped_huge", request(span(vi(F_DROPPED_ATTRIBUTES, 1 << 35 | 5)))


def nesting_seeds() -> Seeds:
    """Values nested around upb's recursion limit (100 messages deep: 29 arrays or maps in a
    span attribute parse, 30 do not) and far past it."""
    for depth in (10, 28, 29, 30, 31, 64, 1000, 20000):
        yield f"nesting_array_{depth}", request(span(attr(b"deep", _nested(depth, array))))
    for depth in (29, 30, 200):
        nested = _nested(depth, lambda inner: kvlist(kv(b"k", *([inner] if inner else []))))
        yield f"nesting_kvlist_{depth}", request(span(attr(b"deep", nested)))
    mixed = _nested(100, lambda inner: kvlist(kv(b"k", array(inner, vi(F_INT, 1)))))
    yield "nesting_mixed", request(span(attr(b"deep", mixed)))


def _nested(depth: int, wrap: Callable[[bytes], bytes]) -> bytes:
    value = string(b"bottom")
    for _ in range(depth):
        value = wrap(value)
    return value


INVALID_UTF8 = {
    "lone_continuation": b"a\x80b",
    "overlong": b"\xc0\xaf",
    "overlong_nul": b"\xc0\x80",
    "surrogate": b"\xed\xa0\x80",
    "above_max": b"\xf4\x90\x80\x80",
    "truncated_at_end": b"ok\xe2\x82",
    "f5": b"\xf5\x80\x80\x80",
    "ff": b"\xff",
}


def string_seeds() -> Seeds:
    escapes = '\x00\x01\x1f"\\\n\r\t\b\f\x7f \u2028\u2029 é ✓ 😀 \ufffd'
    spans = [
        make_span(name="", attributes={"": "", "escapes": escapes, escapes: escapes}),
        make_span(name=escapes, trace_state=escapes, status_message=escapes),
        make_span(name="huge", attributes={"huge": "x" * 200_000}),
    ]
    yield "strings", request_payload(spans)
    yield "strings_huge_key", request_payload([make_span(attributes={"k" * 100_000: 1})])
    yield "strings_huge_bytes", request(span(attr(b"b", ld(F_BYTES, bytes(range(256)) * 400))))
    for name, bad in INVALID_UTF8.items():
        yield f"utf8_value_{name}", request(span(attr(b"k", string(bad))))
        yield f"utf8_key_{name}", request(span(attr(bad, string(b"v"))))
    bad = INVALID_UTF8["surrogate"]
    places = {
        "name": request(span(ld(F_NAME, bad))),
        "trace_state": request(span(ld(F_TRACE_STATE, bad))),
        "status": request(span(ld(F_STATUS, ld(F_STATUS_MESSAGE, bad)))),
        "event_name": request(span(ld(F_EVENTS, f64(F_EVENT_TIME, T0), ld(F_EVENT_NAME, bad)))),
        "link_trace_state": request(span(ld(F_LINKS, ld(F_TRACE_STATE, bad)))),
        "scope_name": request(span(), scope=ld(F_SCOPE_NAME, bad)),
        "scope_version": request(span(), scope=ld(F_SCOPE_VERSION, bad)),
        "schema_url": ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS, ld(F_SPANS, span())), ld(3, bad)),
        "resource_key": request(span(), resource=ld(F_RESOURCE_ATTRIBUTES, kv(bad, string(b"")))),
        "nested_key": request(span(attr(b"m", kvlist(kv(bad, vi(F_INT, 1)))))),
        "in_array": request(span(attr(b"a", array(string(b"ok"), string(bad))))),
        "bytes_ok": request(span(ld(F_TRACE_ID, bad), attr(b"b", ld(F_BYTES, bad)))),
    }
    for name, data in places.items():
        yield f"utf8_in_{name}", data


def merge_seeds() -> Seeds:
    """Singular fields that appear twice: protobuf merges messages, the last scalar wins, and
    a oneof keeps its last member."""
    merge_two_resources = ld(
        F_RESOURCE_SPANS,
        ld(F_RESOURCE, ld(F_RESOURCE_ATTRIBUTES, kv(b"service.name", string(b"first")))),
        ld(F_SCOPE_SPANS, ld(F_SPANS, span())),
        ld(F_RESOURCE, ld(F_RESOURCE_ATTRIBUTES, kv(b"service.name", string(b"second")))),
        ld(F_RESOURCE, vi(F_RESOURCE_DROPPED, 3)),
    )
    yield "merge_two_resources", merge_two_resources
    merge_two_scopes = ld(
        F_RESOURCE_SPANS,
        ld(
            F_SCOPE_SPANS,
            ld(F_SCOPE, ld(F_SCOPE_NAME, b"a"), ld(F_SCOPE_ATTRIBUTES, kv(b"x", vi(F_INT, 1)))),
            ld(F_SPANS, span()),
            ld(F_SCOPE, ld(F_SCOPE_VERSION, b"2"), ld(F_SCOPE_ATTRIBUTES, kv(b"x", vi(F_INT, 2)))),
        ),
    )
    yield "merge_two_scopes", merge_two_scopes
    merge_status = request(
        span(
            ld(F_STATUS, vi(F_STATUS_CODE, 2)),
            ld(F_STATUS, ld(F_STATUS_MESSAGE, b"msg")),
            ld(F_STATUS, vi(F_STATUS_CODE, 1)),
        )
    )
    yield "merge_status", merge_status
    merge_scalars_last_wins = request(
        span(
            ld(F_NAME, b"first"),
            ld(F_NAME, b"second"),
            vi(F_KIND, 2),
            vi(F_KIND, 3),
            ld(F_TRACE_ID, b"\xaa" * 16),
            f64(F_START, 1),
            f32(F_FLAGS, 1),
            f32(F_FLAGS, 0x301),
            vi(F_DROPPED_EVENTS, 4),
            vi(F_DROPPED_EVENTS, 0),
        )
    )
    yield "merge_scalars_last_wins", merge_scalars_last_wins
    oneofs = {
        "string_then_int": string(b"s") + vi(F_INT, 5),
        "int_then_string": vi(F_INT, 5) + string(b"s"),
        "array_then_string": array(vi(F_INT, 1)) + string(b""),
        "string_then_array": string(b"s") + array(),
        "array_twice": array(vi(F_INT, 1)) + array(vi(F_INT, 2)),  # merged: [1, 2]
        "kvlist_twice": kvlist(kv(b"a", vi(F_INT, 1))) + kvlist(kv(b"a", vi(F_INT, 2))),
        "array_then_kvlist_then_array": array(vi(F_INT, 1)) + kvlist() + array(vi(F_INT, 9)),
        "bytes_then_bool": ld(F_BYTES, b"\x01") + vi(F_BOOL, 1),
        "double_then_strindex": double(F_DOUBLE, 1.5) + vi(F_STRINDEX, 3),
    }
    for name, value in oneofs.items():
        yield f"oneof_{name}", request(span(attr(b"k", value)))
    # A KeyValue whose value field appears twice (AnyValue merged), and whose key does.
    two_values = ld(F_KEY, b"k") + ld(F_VALUE, array()) + ld(F_VALUE, array(vi(F_INT, 1)))
    yield "keyvalue_two_values", request(span(ld(F_ATTRIBUTES, two_values)))
    yield "keyvalue_two_keys", request(span(ld(F_ATTRIBUTES, ld(F_KEY, b"a"), ld(F_KEY, b"b"))))
    repeated = [attr(b"k%d" % (n % 7), vi(F_INT, n)) for n in range(40)]
    yield "attributes_repeated_keys", request(span(*repeated))
    many = [attr(b"key-%d" % n, vi(F_INT, n)) for n in range(12000)]
    yield "attributes_many_distinct", request(span(*many))
    same = [attr(b"same", vi(F_INT, n)) for n in range(12000)]
    yield "attributes_many_same", request(span(*same))


def unknown_and_wire_type_seeds() -> Seeds:
    unknown = vi(99, 1) + f64(100, 2) + ld(101, b"zz") + f32(102, 3) + vi((1 << 29) - 1, 0)
    unknown_everywhere = ld(
        F_RESOURCE_SPANS,
        unknown,
        ld(F_RESOURCE, unknown, ld(F_RESOURCE_ATTRIBUTES, unknown, kv(b"k", unknown))),
        ld(F_SCOPE_SPANS, unknown, ld(F_SCOPE, unknown), ld(F_SPANS, span(unknown))),
        ld(F_SCHEMA_URL, b"schema"),
    ) + ld(2, b"unknown top-level")
    yield "unknown_everywhere", unknown_everywhere
    entity_refs = request(
        span(),
        resource=ld(3, ld(1, b"url"), ld(2, b"service"), ld(3, b"id"), ld(4, b"d")),
    )
    yield "entity_refs", entity_refs
    wrong = {
        "name_as_varint": vi(F_NAME, 5),
        "kind_as_len": ld(F_KIND, b"\x01"),
        "start_as_varint": vi(F_START, 5),
        "flags_as_fixed64": f64(F_FLAGS, 5),
        "attributes_as_varint": vi(F_ATTRIBUTES, 1),
        "events_as_fixed32": f32(F_EVENTS, 1),
        "status_as_varint": vi(F_STATUS, 2),
        "value_string_as_fixed32": attr(b"k", f32(F_STRING, 1)),
        "value_array_as_varint": attr(b"k", vi(F_ARRAY, 1)),
        "value_double_as_varint": attr(b"k", vi(F_DOUBLE, 1)),
        "value_int_as_len": attr(b"k", ld(F_INT, b"\x01")),
        "key_as_varint": ld(F_ATTRIBUTES, vi(F_KEY, 1), ld(F_VALUE, string(b"v"))),
    }
    for name, field in wrong.items():
        yield f"wire_type_{name}", request(span(field))
    bad = {
        "field_zero": vi(0, 1),
        "group": tag(77, SGROUP) + vi(1, 1) + tag(77, EGROUP),
        "end_group_alone": tag(77, EGROUP),
        "group_unterminated": tag(77, SGROUP) + vi(1, 1),
        "wire_type_6": tag(77, 6) + b"\x00",
        "wire_type_7": tag(77, 7) + b"\x00",
        "field_too_large": tag(1 << 29, VARINT) + b"\x00",
    }
    for name, field in bad.items():
        yield f"bad_{name}_in_span", request(span(field))
        yield f"bad_{name}_in_value", request(span(attr(b"k", field)))
        yield f"bad_{name}_top_level", field + request(span())


def varint_and_length_seeds() -> Seeds:
    cases = {
        "ten_bytes": tag(F_KIND, VARINT) + b"\xff" * 9 + b"\x01",
        "ten_bytes_high": tag(F_KIND, VARINT) + b"\xff" * 9 + b"\x7f",
        "eleven_bytes": tag(F_KIND, VARINT) + b"\xff" * 10 + b"\x01",
        "non_minimal_zero": tag(F_KIND, VARINT) + b"\x80\x80\x00",
        "unterminated": tag(F_KIND, VARINT) + b"\xff\xff",
        "tag_non_minimal": b"\xaa\x80\x00" + b"\x01x",  # field 5 (name) as LEN, tag padded
        "tag_ten_bytes": b"\xaa" + b"\x80" * 8 + b"\x00" + b"\x00",
        "len_past_end": tag(F_NAME, LEN) + varint(100) + b"short",
        "len_2_31": tag(F_NAME, LEN) + varint(1 << 31) + b"x",
        "len_2_32": tag(F_NAME, LEN) + varint(1 << 32) + b"x",
        "len_2_63": tag(F_NAME, LEN) + varint(1 << 63) + b"x",
        "len_max": tag(F_NAME, LEN) + varint((1 << 64) - 1) + b"x",
        "len_non_minimal": tag(F_NAME, LEN) + b"\x83\x80\x00" + b"abc",
        "fixed64_short": tag(F_START, I64) + b"\x01\x02\x03",
        "fixed32_short": tag(F_FLAGS, I32) + b"\x01",
    }
    for name, field in cases.items():
        yield f"varint_{name}", request(span(field))
        yield f"varint_{name}_last", ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS)) + field
    yield "len_max_outer", tag(F_RESOURCE_SPANS, LEN) + varint((1 << 64) - 1) + request(span())
    len_nested_longer_than_parent = ld(
        F_RESOURCE_SPANS, tag(F_SCOPE_SPANS, LEN) + varint(50) + ld(F_SPANS, span())
    )
    yield "len_nested_longer_than_parent", len_nested_longer_than_parent


def time_and_id_seeds() -> Seeds:
    int64_max = (1 << 63) - 1
    spans = [
        span(ld(F_NAME, b"ok")),
        span(f64(F_START, int64_max), f64(F_END, int64_max)),
        span(f64(F_START, int64_max + 1)),  # set aside: beyond year 2262
        span(f64(F_END, (1 << 64) - 1)),
        span(f64(F_START, T0 + 5), f64(F_END, T0)),  # ends before it starts
        span(f64(F_START, 0), f64(F_END, 0)),
        span(ld(F_EVENTS, f64(F_EVENT_TIME, (1 << 64) - 1), ld(F_EVENT_NAME, b"e"))),
        span(ld(F_EVENTS, f64(F_EVENT_TIME, 1 << 63), ld(F_EVENT_NAME, b"exception"))),
    ]
    yield "times", request(*spans)
    yield "times_all_failed", request(span(f64(F_START, 1 << 63)), span(f64(F_END, 1 << 63)))
    ids = [b"", b"\x01", b"\x00" * 8, b"\xff" * 17, b"\x00" * 1024]
    spans = [
        ld(F_TRACE_ID, trace_id) + ld(F_SPAN_ID, span_id) + ld(F_PARENT, trace_id)
        for trace_id in ids
        for span_id in ids[:3]
    ]
    yield "ids", request(*spans)
    links = [
        make_link(b"\x01" * 16, b"\x02" * 8, {"a": [1]}, trace_state="k=v", flags=0x301),
        make_link(b"", b"", dropped_attributes_count=3),
    ]
    yield "links", request_payload([make_span(links=links, flags=0xFFFFFFFF)])
    yield "link_flags_huge", request(span(ld(F_LINKS, f32(F_LINK_FLAGS, 0xFFFFFFFF))))


def shape_seeds() -> Seeds:
    yield "empty", b""
    yield "empty_resource_spans", ld(F_RESOURCE_SPANS)
    yield "empty_scope_spans", ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS))
    yield "empty_span", ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS, ld(F_SPANS)))
    yield "spans_many_empty", ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS, ld(F_SPANS) * 5000))
    resources = [
        make_resource_spans([make_span(name=f"r{r}s{s}")], service_name=service, scope_name=f"s{s}")
        for r, service in enumerate(["one", None, ""])
        for s in range(2)
    ]
    yield "resources_many", make_request(resources).SerializeToString()
    services = {
        "int": vi(F_INT, 5),
        "array": array(string(b"a")),
        "bytes": ld(F_BYTES, b"\x01"),
        "unset": b"",
        "double": double(F_DOUBLE, 2.0),
    }
    for name, value in services.items():
        resource = ld(F_RESOURCE_ATTRIBUTES, kv(b"service.name", value))
        yield f"service_name_{name}", request(span(), resource=resource)
    events = [make_event(f"e{n}", T0 + n, {"n": n}, dropped_attributes_count=n) for n in range(50)]
    yield "events_many", request_payload([make_span(events=events, dropped_events_count=1)])


def random_seeds(count: int = 40) -> Seeds:
    """Well-formed requests of random values (the same every run): attribute trees, doubles
    of random bits (the walker formats them as Python's repr does), edge integers, strings
    that need escaping, events and links."""
    rng = random.Random(16)
    for number in range(count):
        spans = [_random_span(rng) for _ in range(rng.randint(1, 6))]
        resource = {"service.name": _random_value(rng, 0) if rng.random() < 0.2 else "svc"}
        resource_spans = make_resource_spans(
            spans, service_name=None, resource_attributes=resource, scope_name=_text(rng)
        )
        yield f"random_{number}", make_request([resource_spans]).SerializeToString()


_TEXTS = ["", "a", "é", "😀", "\x00", '"', "\\", "\u2028", "\x1f", "0", " 12 ", "-7", "1e3", "NaN"]
_KEYS = ["k", "", "service.name", "error.type", "llm.token_count.prompt", "gen_ai.system"]
_KEYS += ["junjo.span_type", "junjo.telemetry.contract_version", "openinference.span.kind"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_TEXTS) for _ in range(rng.randint(0, 4)))


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, (1 << 63) - 1, -(1 << 63), rng.getrandbits(63)])
    if kind == 3:
        return struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if kind == 4:
        return rng.choice([0.5, 1e16, 1e-5, 123.0, -0.0, 1 / 7, 2.5e-300, 9007199254740993.0])
    if kind == 5:
        return rng.randbytes(rng.randint(0, 5))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == 7:
        return {_text(rng): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return None


def _random_attributes(rng: random.Random) -> dict[str, Any]:
    return {rng.choice(_KEYS) + _text(rng): _random_value(rng, 0) for _ in range(rng.randint(0, 6))}


def _random_span(rng: random.Random) -> Any:
    names = ["exception", "set_state", _text(rng)]
    events = [
        make_event(rng.choice(names), rng.getrandbits(64), _random_attributes(rng))
        for _ in range(rng.randint(0, 2))
    ]
    links = [
        make_link(
            rng.randbytes(16), rng.randbytes(8), _random_attributes(rng), flags=rng.getrandbits(32)
        )
        for _ in range(rng.randint(0, 1))
    ]
    # Mostly ordinary times; now and then one beyond 2^63 (the span is set aside).
    start = rng.choice([T0] * 6 + [0, (1 << 63) - 1, rng.getrandbits(64)])
    end = rng.choice([start + 1000] * 4 + [start, rng.getrandbits(64)]) % (1 << 64)
    return make_span(
        name=_text(rng),
        kind=rng.randrange(6),
        start_ns=start,
        end_ns=end,
        attributes=_random_attributes(rng),
        events=events,
        links=links,
        status_code=rng.randrange(3),
        status_message=_text(rng),
        trace_state=_text(rng),
        flags=rng.getrandbits(32),
        dropped_attributes_count=rng.choice([0, 1, (1 << 32) - 1]),
    )


def amplification_seeds() -> Seeds:
    """Small requests whose rows are huge: one resource (or scope) attribute is copied into
    every span's row. 240 KB once made the walker hold 2 GB before it declined; it now
    declines past a budget (BUDGET_FACTOR in otlp_walk.c), and the replay's allocation limit
    (test_fuzz_walk.SANITIZER_ENV) fails the test if it ever holds that much again."""
    big = ld(F_RESOURCE_ATTRIBUTES, kv(b"big", string(b"x" * 60_000)))
    empty_spans = ld(F_SPANS) * 90_000
    yield (
        "amplify_resource",
        ld(F_RESOURCE_SPANS, ld(F_RESOURCE, big), ld(F_SCOPE_SPANS, empty_spans)),
    )
    scope = ld(F_SCOPE, ld(F_SCOPE_ATTRIBUTES, kv(b"big", string(b"\x01" * 20_000))))
    yield "amplify_scope", ld(F_RESOURCE_SPANS, ld(F_SCOPE_SPANS, scope, empty_spans))


def truncation_seeds() -> Seeds:
    """Prefixes of a few requests: every length of a small one, 64 cuts of a large one."""
    small = request(
        span(ld(F_NAME, b"n"), attr(b"k", array(string(b"\xc3\xa9"), vi(F_INT, -1)))),
        scope=ld(F_SCOPE_NAME, b"s"),
    )
    for length in range(len(small)):
        yield f"truncated_small_{length}", small[:length]
    for name, data in list(bench_seeds())[:1] + list(fixture_seeds())[:1]:
        for cut in range(1, 65):
            length = len(data) * cut // 65
            yield f"truncated_{name}_{length}", data[:length]


def regression_seeds() -> Seeds:
    """Inputs that once broke the walker: ``regressions/*.hex``, hex text (blanks ignored)
    after ``#`` comment lines that say what went wrong (``# expect: declined``: the walker
    must decline it, see ``declined_regressions``)."""
    for path in sorted(REGRESSIONS.glob("*.hex")):
        lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
        yield f"regression_{path.stem}", bytes.fromhex("".join("".join(lines).split()))


def declined_regressions() -> set[str]:
    """The seed names of the regressions the walker must decline."""
    return {
        f"regression_{path.stem}"
        for path in REGRESSIONS.glob("*.hex")
        if "# expect: declined" in path.read_text().splitlines()
    }


def main() -> None:
    directory = Path(sys.argv[1])
    paths = write_seeds(directory)
    print(f"{len(paths)} seeds in {directory}")


if __name__ == "__main__":
    main()
