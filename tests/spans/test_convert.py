"""OTLP request → span and state-change rows, without a database."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from junjo.features.spans.convert import convert_request
from junjo.features.spans.schema import SPAN_COLUMNS
from tests.support.otlp_builders import (
    CLIENT,
    MS,
    SERVER,
    T0,
    junjo_node_span,
    junjo_workflow_span,
    llm_span,
    make_event,
    make_link,
    make_request,
    make_resource_spans,
    make_span,
    new_span_id,
    new_trace_id,
    request_payload,
    set_state_event,
)


def rows(payload: bytes, **kwargs: Any) -> list[dict[str, Any]]:
    batch = convert_request(payload, **kwargs)
    return [dict(zip(SPAN_COLUMNS, row, strict=True)) for row in batch.spans]


def one(span: Any, **resource_kwargs: Any) -> dict[str, Any]:
    (row,) = rows(request_payload([span], **resource_kwargs))
    return row


def test_ids_are_lowercase_hex_and_a_root_has_no_parent():
    trace_id, root_id, child_id = bytes(range(16)), b"\xab" * 8, b"\x0c" * 8
    root = make_span(trace_id=trace_id, span_id=root_id)
    child = make_span(trace_id=trace_id, span_id=child_id, parent_span_id=root_id)
    first, second = rows(request_payload([root, child]))
    assert first["trace_id"] == "000102030405060708090a0b0c0d0e0f"
    assert first["span_id"] == "abababababababab"
    assert first["parent_span_id"] is None
    assert second["parent_span_id"] == "abababababababab"


def test_service_name_comes_from_each_spans_own_resource():
    request = make_request(
        [
            make_resource_spans([make_span(name="a")], service_name="checkout"),
            make_resource_spans([make_span(name="b")], service_name="billing"),
            make_resource_spans([make_span(name="c")], service_name=None),
        ]
    )
    services = {r["name"]: r["service_name"] for r in rows(request.SerializeToString())}
    assert services == {"a": "checkout", "b": "billing", "c": ""}


def test_plain_fields_kind_times_status_and_counters():
    span = make_span(
        name="GET /x",
        kind=SERVER,
        start_ns=T0,
        end_ns=T0 + 5 * MS,
        status_code=2,
        status_message="boom",
        flags=0x301,
        trace_state="vendor=1",
        dropped_attributes_count=3,
        dropped_events_count=130,
        dropped_links_count=1,
    )
    row = one(span)
    assert row["kind"] == 2
    assert (row["start_time_ns"], row["end_time_ns"], row["duration_ns"]) == (
        T0,
        T0 + 5 * MS,
        5 * MS,
    )
    assert (row["status_code"], row["status_message"]) == (2, "boom")
    assert (row["flags"], row["trace_state"]) == (0x301, "vendor=1")
    counts = (
        row["dropped_attributes_count"],
        row["dropped_events_count"],
        row["dropped_links_count"],
    )
    assert counts == (3, 130, 1)


def test_attribute_values_map_to_json_recursively():
    attributes = {
        "s": "text",
        "empty": "",  # a set, empty string: not None
        "b": True,
        "i": 2**62,
        "d": 1.5,
        "bytes": b"\x00\xff",
        "arr": ["x", 1, [False], ""],
        "kv": {"inner": {"deep": "v"}, "n": -1},
        "empty_kv": {},
    }
    span = make_span(attributes=attributes)
    span.attributes.add().key = "unset"  # a key with no value at all
    decoded = json.loads(one(span)["attributes_json"])
    assert decoded == {
        "s": "text",
        "empty": "",
        "b": True,
        "i": 2**62,
        "d": 1.5,
        "bytes": "00ff",
        "arr": ["x", 1, [False], ""],
        "kv": {"inner": {"deep": "v"}, "n": -1},
        "empty_kv": {},
        "unset": None,
    }


def test_json_is_compact_so_substring_filters_work():
    row = one(make_span(attributes={"junjo.span_type": "workflow"}))
    assert '"junjo.span_type":"workflow"' in row["attributes_json"]


def test_non_finite_doubles_become_strings_not_invalid_json():
    row = one(make_span(attributes={"nan": math.nan, "inf": math.inf, "list": [-math.inf]}))
    assert json.loads(row["attributes_json"]) == {
        "nan": "NaN",
        "inf": "Infinity",
        "list": ["-Infinity"],
    }


def test_events_keep_time_as_decimal_string():
    big = 2**63 - 1  # beyond 2**53: a JSON number would lose digits in a browser
    event = make_event("checkpoint", big, {"k": "v"}, dropped_attributes_count=2)
    (decoded,) = json.loads(one(make_span(events=[event]))["events_json"])
    assert decoded == {
        "name": "checkpoint",
        "timeUnixNano": str(big),
        "attributes": {"k": "v"},
        "droppedAttributesCount": 2,
    }


def test_links_are_stored_with_hex_ids():
    link = make_link(b"\x01" * 16, b"\x02" * 8, {"why": "retry"}, trace_state="a=b", flags=1)
    row = one(make_span(links=[link]))
    assert json.loads(row["links_json"]) == [
        {
            "traceId": "01" * 16,
            "spanId": "02" * 8,
            "traceState": "a=b",
            "attributes": {"why": "retry"},
            "droppedAttributesCount": 0,
            "flags": 1,
        }
    ]
    assert one(make_span())["links_json"] == "[]"


def test_resource_scope_and_provenance_columns():
    payload = request_payload(
        [make_span()],
        service_name="svc",
        resource_attributes={"host.name": "box"},
        scope_name="my.lib",
        scope_version="1.2",
        scope_attributes={"lib.flag": True},
        schema_url="https://opentelemetry.io/schemas/1.21.0",
    )
    (row,) = rows(payload, seq=7, api_key_id="key-1", received_at_ns=11, indexed_at_ns=12)
    assert json.loads(row["resource_attributes_json"]) == {
        "service.name": "svc",
        "host.name": "box",
    }
    assert row["resource_schema_url"] == "https://opentelemetry.io/schemas/1.21.0"
    assert (row["scope_name"], row["scope_version"]) == ("my.lib", "1.2")
    assert json.loads(row["scope_attributes_json"]) == {"lib.flag": True}
    provenance = (row["api_key_id"], row["received_at_ns"], row["indexed_at_ns"], row["wal_seq"])
    assert provenance == ("key-1", 11, 12, 7)


def test_junjo_v2_columns_are_lifted():
    trace_id = new_trace_id()
    workflow = junjo_workflow_span(
        trace_id=trace_id,
        run_id="run-9",
        definition_id="def-9",
        store_id="store-9",
        extra_attributes={"junjo.correlation.type": "ticket", "junjo.correlation.id": "T-1"},
    )
    node = junjo_node_span(
        trace_id=trace_id, parent_span_id=workflow.span_id, node_id="n-1", parent_run_id="run-9"
    )
    wf, nd = rows(request_payload([workflow, node]))
    assert wf["junjo_span_type"] == "workflow"
    assert wf["junjo_contract_version"] == 2
    assert (wf["junjo_executable_runtime_id"], wf["junjo_executable_definition_id"]) == (
        "run-9",
        "def-9",
    )
    assert wf["junjo_executable_structural_id"].startswith("graph_")
    assert wf["junjo_store_id"] == "store-9"
    assert (wf["junjo_correlation_type"], wf["junjo_correlation_id"]) == ("ticket", "T-1")
    assert nd["junjo_span_type"] == "node"
    assert nd["junjo_parent_executable_runtime_id"] == "run-9"
    assert nd["junjo_executable_runtime_id"] == "n-1"
    assert nd["junjo_store_id"] is None


def test_legacy_junjo_ids_and_subflow_parent_store():
    span = make_span(
        attributes={
            "junjo.span_type": "subflow",
            "junjo.id": "legacy-id",
            "junjo.parent_id": "legacy-parent",
            "junjo.workflow.store.id": "child-store",
            "junjo.workflow.parent_store.id": "parent-store",
        }
    )
    row = one(span)
    assert (row["junjo_id"], row["junjo_parent_id"]) == ("legacy-id", "legacy-parent")
    assert row["junjo_contract_version"] is None
    assert (row["junjo_store_id"], row["junjo_parent_store_id"]) == ("child-store", "parent-store")


def test_generic_span_has_no_junjo_columns():
    row = one(make_span(attributes={"http.method": "GET"}))
    junjo = {k: v for k, v in row.items() if k.startswith("junjo_")}
    assert set(junjo.values()) == {None}
    assert row["is_llm"] is False and row["is_error"] is False


@pytest.mark.parametrize(
    ("attributes", "is_llm"),
    [
        ({"openinference.span.kind": "LLM"}, True),
        ({"openinference.span.kind": "CHAIN"}, False),
        ({"gen_ai.provider.name": "openai"}, True),
        ({"gen_ai.operation.name": "chat"}, True),
        ({"gen_ai.provider.name": ""}, False),
        ({"llm.model_name": "m"}, False),
        # Older GenAI instrumentations name no operation: provider, model or usage suffice.
        ({"gen_ai.system": "openai"}, True),
        ({"gen_ai.request.model": "gpt-4o"}, True),
        ({"gen_ai.usage.input_tokens": 3}, True),
        # Agent and tool spans carry the provider and model of the calls they hold.
        ({"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai"}, False),
        ({"gen_ai.operation.name": "execute_tool"}, False),
        ({"gen_ai.operation.name": "embeddings"}, True),
    ],
)
def test_llm_flag_follows_openinference_and_gen_ai(attributes, is_llm):
    assert one(make_span(attributes=attributes))["is_llm"] is is_llm


def test_a_gen_ai_span_without_an_operation_name_is_an_llm_call_with_its_model():
    row = one(
        make_span(
            attributes={
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
            }
        )
    )
    assert row["is_llm"] is True
    assert (row["llm_provider"], row["llm_model_name"], row["llm_total_tokens"]) == (
        "openai",
        "gpt-4o-mini",
        17,
    )


def test_openinference_model_and_tokens():
    row = one(
        llm_span(trace_id=new_trace_id(), model="gpt-x", prompt_tokens=7, completion_tokens=9)
    )
    assert row["is_llm"] is True
    assert (row["llm_model_name"], row["llm_provider"]) == ("gpt-x", "openai")
    tokens = (row["llm_prompt_tokens"], row["llm_completion_tokens"], row["llm_total_tokens"])
    assert tokens == (7, 9, 16)
    assert row["kind"] == CLIENT


def test_gen_ai_model_and_tokens_with_total_derived():
    span = make_span(
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "requested",
            "gen_ai.response.model": "answered",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": "25",  # tolerated: some SDKs send strings
        }
    )
    row = one(span)
    assert (row["llm_provider"], row["llm_model_name"]) == ("anthropic", "answered")
    tokens = (row["llm_prompt_tokens"], row["llm_completion_tokens"], row["llm_total_tokens"])
    assert tokens == (100, 25, 125)


def test_error_flag_from_status_or_exception_event():
    failed = make_span(status_code=2, attributes={"error.type": "ValueError"})
    raised = make_span(events=[make_event("exception", T0, {"exception.type": "KeyError"})])
    ok = make_span(status_code=1, events=[make_event("note")])
    rows_ = rows(request_payload([failed, raised, ok]))
    assert [r["is_error"] for r in rows_] == [True, True, False]
    assert rows_[0]["error_type"] == "ValueError"


def test_set_state_events_are_kept_whole_for_replay():
    # Workflow replay reads them from events_json: every attribute, in event order.
    patch = [{"op": "add", "path": "/a", "value": 1}]
    events = [
        make_event("other", T0),
        set_state_event(store_id="s-1", sequence=4, patch=patch, time_ns=T0 + 5, event_id="e-4"),
    ]
    other, state = json.loads(one(make_span(events=events))["events_json"])
    assert (other["name"], state["name"], state["timeUnixNano"]) == (
        "other", "set_state", str(T0 + 5)
    )  # fmt: skip
    attrs = state["attributes"]
    assert (attrs["junjo.store.id"], attrs["junjo.store.transition.sequence"]) == ("s-1", 4)
    assert (attrs["id"], json.loads(attrs["junjo.state_json_patch"])) == ("e-4", patch)


def test_garbage_payload_raises():
    with pytest.raises(DecodeError):
        convert_request(b"\xff\xff\xff not protobuf")


def test_a_span_that_cannot_be_stored_is_set_aside_alone():
    # A time beyond BIGINT is refused, not wrapped; its neighbours are kept, and the span
    # comes back re-packed with its resource.
    spans = [
        make_span(name="before"),
        make_span(name="too late", start_ns=2**63, end_ns=2**63 + 1),
        make_span(name="ends too late", end_ns=2**64 - 1),
        make_span(name="after", events=[set_state_event(store_id="s", sequence=1)]),
    ]
    request = make_request([make_resource_spans(spans, service_name="svc")])
    batch = convert_request(request.SerializeToString())
    assert [row[SPAN_COLUMNS.index("name")] for row in batch.spans] == ["before", "after"]
    assert batch.failed is not None and batch.failed.span_count == 2
    assert "ConversionError" in batch.failed.error and batch.failed.error.startswith("2 spans")
    repacked = ExportTraceServiceRequest.FromString(batch.failed.payload)
    (resource_spans,) = repacked.resource_spans
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["too late", "ends too late"]
    assert resource_spans.resource.attributes[0].value.string_value == "svc"


# -- oversized values ------------------------------------------------------------------------

KIB = 1024


def one_row(payload: bytes, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    batch = convert_request(payload, **kwargs)
    (row,) = rows_of(batch)
    return row, batch


def rows_of(batch: Any) -> list[dict[str, Any]]:
    return [dict(zip(SPAN_COLUMNS, row, strict=True)) for row in batch.spans]


def test_a_value_over_the_limit_is_cut_at_a_character_and_noted():
    value = "é" * (40 * KIB)  # 80 KiB of UTF-8
    span = make_span(name="n" * (100 * KIB), attributes={"big": value, "small": "s"})
    row, batch = one_row(request_payload([span]), max_value_bytes=64 * KIB)
    attrs = json.loads(row["attributes_json"])
    assert attrs["big"].endswith("…[truncated by junjo: 81,920 bytes]")
    assert attrs["big"].startswith("éé") and len(attrs["big"].encode()) < 64 * KIB + 64
    assert attrs["small"] == "s"
    assert row["name"].endswith("…[truncated by junjo: 102,400 bytes]")
    assert attrs["junjo.server.truncated"] == {"attributes.big": 81_920, "name": 102_400}
    assert batch.truncated_values == 2


def test_a_request_under_the_limit_is_not_inspected():
    span = make_span(attributes={"big": "x" * (60 * KIB)})
    row, batch = one_row(request_payload([span]), max_value_bytes=64 * KIB)
    assert json.loads(row["attributes_json"])["big"] == "x" * (60 * KIB)
    assert batch.truncated_values == 0


def test_many_values_under_the_limit_still_fit_the_column():
    # Ten 48 KiB values are each under a 64 KiB limit, but the column is kept under 4x it.
    attrs = {f"doc{i}": "y" * (48 * KIB) for i in range(10)}
    row, batch = one_row(request_payload([make_span(attributes=attrs)]), max_value_bytes=64 * KIB)
    assert len(row["attributes_json"].encode()) <= 4 * 64 * KIB + 2 * KIB
    cut = json.loads(row["attributes_json"])["junjo.server.truncated"]
    assert cut == {f"attributes.doc{i}": 48 * KIB for i in range(10)}
    assert batch.truncated_values == 10


def test_a_huge_resource_is_cut_once_for_all_its_spans():
    resource = {f"r{i}": "z" * (60 * KIB) for i in range(20)}
    spans = [make_span(), make_span()]
    request = make_request([make_resource_spans(spans, resource_attributes=resource)])
    request.resource_spans[0].schema_url = "u" * (100 * KIB)
    batch = convert_request(request.SerializeToString(), max_value_bytes=64 * KIB)
    for row in rows_of(batch):
        assert len(row["resource_attributes_json"].encode()) <= 4 * 64 * KIB + 2 * KIB
        assert len(row["resource_schema_url"].encode()) < 64 * KIB + 64
        cut = json.loads(row["attributes_json"])["junjo.server.truncated"]
        assert cut["resource.schema_url"] == 100 * KIB and "resource.attributes.r0" in cut
    assert batch.truncated_values == 21  # counted once, not per span


def test_a_column_of_countless_small_values_keeps_what_fits_and_counts_the_rest():
    attrs = {f"k{i:06}": "v" * 10 for i in range(40_000)}  # ~1 MB of JSON in 20-byte items
    row, _ = one_row(request_payload([make_span(attributes=attrs)]), max_value_bytes=16 * KIB)
    kept = json.loads(row["attributes_json"])
    cut = kept.pop("junjo.server.truncated")
    assert len(row["attributes_json"].encode()) <= 4 * 16 * KIB + KIB
    assert cut == {"attributes[dropped]": 40_000 - len(kept)}
    assert list(kept) == [f"k{i:06}" for i in range(len(kept))]  # the leading ones


def test_events_and_links_are_cut():
    patch = json.dumps([{"op": "replace", "path": "/doc", "value": "p" * (100 * KIB)}])
    event = set_state_event(store_id="s", sequence=1, patch=patch)
    link = make_link(trace_id=b"\x01" * (70 * KIB), span_id=new_span_id())
    span = make_span(events=[event], links=[link])
    row, _ = one_row(request_payload([span]), max_value_bytes=64 * KIB)
    stored_patch = json.loads(row["events_json"])[0]["attributes"]["junjo.state_json_patch"]
    assert stored_patch.endswith(f"…[truncated by junjo: {len(patch):,} bytes]")
    cut = json.loads(row["attributes_json"])["junjo.server.truncated"]
    assert set(cut) == {"events[0].attributes.junjo.state_json_patch", "links[0].traceId"}
