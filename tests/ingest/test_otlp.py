"""Decoding and validation of export requests, without any server."""

from __future__ import annotations

import json
import os
import time
import zlib

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from junjo.features.ingest.otlp import (
    OtlpDecodeError,
    PayloadTooLarge,
    decode_traces,
    decompress,
    encode_response,
    encode_status,
)
from tests.support.otlp_builders import (
    SpanIds,
    build_request,
    gzip_bomb,
    gzipped,
    json_body,
    make_span,
    new_ids,
    request_bytes,
    request_payload,
)


def stored_ids(payload: bytes) -> list[tuple[str, str]]:
    request = ExportTraceServiceRequest.FromString(payload)
    return [
        (span.trace_id.hex(), span.span_id.hex())
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def test_valid_protobuf_is_passed_through_without_reserializing():
    data = request_bytes(new_ids(5))
    decoded = decode_traces(data, "protobuf")
    assert decoded.payload is data
    assert (decoded.accepted_spans, decoded.rejected_spans, decoded.error_message) == (5, 0, "")


@pytest.mark.parametrize(
    "bad",
    [
        SpanIds(bytes(16), b"\x01" * 8),  # all-zero trace id
        SpanIds(b"\x01" * 15, b"\x01" * 8),  # short trace id
        SpanIds(b"\x01" * 16, bytes(8)),  # all-zero span id
        SpanIds(b"\x01" * 16, b"\x01" * 9),  # long span id
        SpanIds(b"\x01" * 16, b"", b""),  # missing span id
        SpanIds(b"\x01" * 16, b"\x01" * 8, b"\x02" * 4),  # bad parent id length
    ],
)
def test_spans_with_bad_ids_are_removed_and_counted(bad: SpanIds):
    good = new_ids(3)
    decoded = decode_traces(request_bytes([good[0], bad, good[1], good[2]]), "protobuf")
    assert decoded.accepted_spans == 3
    assert decoded.rejected_spans == 1
    assert "rejected" in decoded.error_message
    assert stored_ids(decoded.payload) == [ids.key for ids in good]


def test_parent_id_of_eight_bytes_is_fine():
    ids = SpanIds(b"\x01" * 16, b"\x02" * 8, b"\x03" * 8)
    assert decode_traces(request_bytes([ids]), "protobuf").rejected_spans == 0


def test_all_spans_rejected_leaves_nothing_to_store():
    decoded = decode_traces(request_bytes([SpanIds(bytes(16), bytes(8))]), "protobuf")
    assert (decoded.accepted_spans, decoded.rejected_spans) == (0, 1)


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x10abc", b"not a protobuf at all"])
def test_malformed_protobuf_is_a_decode_error(data: bytes):
    with pytest.raises(OtlpDecodeError, match="malformed protobuf"):
        decode_traces(data, "protobuf")


def test_empty_request_is_valid_and_empty():
    decoded = decode_traces(b"", "protobuf")
    assert (decoded.accepted_spans, decoded.rejected_spans) == (0, 0)


def test_json_uses_hex_ids_enum_names_and_string_int64():
    ids = new_ids(4)
    ids[1] = SpanIds(ids[1].trace_id, ids[1].span_id, ids[0].span_id)
    decoded = decode_traces(json_body(ids), "json")
    assert (decoded.accepted_spans, decoded.rejected_spans) == (4, 0)
    request = ExportTraceServiceRequest.FromString(decoded.payload)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert [(s.trace_id.hex(), s.span_id.hex()) for s in spans] == [i.key for i in ids]
    assert spans[1].parent_span_id == ids[0].span_id
    assert [s.kind for s in spans] == [3, 2, 3, 2]
    assert spans[0].start_time_unix_nano == 1_700_000_000_000_000_000
    assert spans[0].attributes[0].value.int_value == 0
    assert spans[0].status.code == 2


def test_json_span_with_non_hex_id_is_rejected_not_the_batch():
    ids = new_ids(2)
    document = json.loads(json_body(ids))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "zz-not-hex"
    decoded = decode_traces(json.dumps(document).encode(), "json")
    assert (decoded.accepted_spans, decoded.rejected_spans) == (1, 1)
    assert stored_ids(decoded.payload) == [ids[1].key]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"resourceSpans": "nope"}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
        b"\xff\xfe",
        b"[" * 100_000,
    ],
)
def test_malformed_json_is_a_decode_error(body: bytes):
    with pytest.raises(OtlpDecodeError):
        decode_traces(body, "json")


def test_gzip_and_deflate_round_trip():
    data = request_bytes(new_ids(3))
    assert decompress(gzipped(data), "gzip", 1 << 20) == data
    assert decompress(zlib.compress(data), "deflate", 1 << 20) == data
    assert decompress(gzipped(data[:10]) + gzipped(data[10:]), "gzip", 1 << 20) == data
    assert decompress(data, "identity", 1 << 20) is data


def test_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip_bomb(50 << 20)
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge):
        decompress(bomb, "gzip", 1 << 20)


def test_many_empty_gzip_members_are_refused_at_once():
    body = gzipped(b"") * 200_000  # 4 MB; 16 s to decompress before members were capped
    started = time.monotonic()
    with pytest.raises(OtlpDecodeError, match=r"more than 4096 members"):
        decompress(body, "gzip", 64 << 20)
    assert time.monotonic() - started < 0.5


def test_gzip_members_up_to_the_cap_decode_in_linear_time():
    parts = [os.urandom(100) for _ in range(4095)] + [bytes(8 << 20)]
    body = b"".join(gzipped(part) for part in parts)  # the last member's output is large
    started = time.monotonic()
    assert decompress(body, "gzip", 16 << 20) == b"".join(parts)
    assert time.monotonic() - started < 0.5
    big = os.urandom(3 << 20)  # incompressible: a long input, fed in growing slices
    assert decompress(gzipped(big) + gzipped(b"tail"), "gzip", 4 << 20) == big + b"tail"
    assert decompress(zlib.compress(big), "deflate", 4 << 20) == big


@pytest.mark.parametrize("body", [b"not gzip", gzipped(b"x" * 1000)[:-12]])
def test_corrupt_or_truncated_gzip_is_a_decode_error(body: bytes):
    with pytest.raises(OtlpDecodeError):
        decompress(body, "gzip", 1 << 20)


def test_unknown_encoding_is_refused():
    with pytest.raises(OtlpDecodeError, match="unsupported"):
        decompress(b"x", "br", 100)


def test_responses_in_both_encodings():
    assert encode_response(0, "", "protobuf") == b""
    assert encode_response(0, "", "json") == b"{}"
    response = ExportTraceServiceResponse.FromString(encode_response(2, "why", "protobuf"))
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "why"
    assert json.loads(encode_response(2, "why", "json")) == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "why"}
    }


def test_status_body_is_a_google_rpc_status():
    message = "bad input " * 30  # longer than 127 bytes: a two-byte length varint
    status = status_pb2.Status.FromString(encode_status(3, message, "protobuf"))
    assert (status.code, status.message) == (3, message)
    assert json.loads(encode_status(14, "later", "json")) == {"code": 14, "message": "later"}


def test_decoding_keeps_resource_and_scope():
    data = build_request(new_ids(1), service="svc").SerializeToString()
    request = ExportTraceServiceRequest.FromString(decode_traces(data, "protobuf").payload)
    assert request.resource_spans[0].resource.attributes[0].value.string_value == "svc"
    assert request.resource_spans[0].scope_spans[0].scope.name == "junjo"


def test_a_request_whose_spans_repeat_a_big_resource_too_often_is_refused_whole():
    """Each span's row repeats its resource and scope: 2 MB of resource over many tiny spans
    would expand to gigabytes in the store. Refused at the door, with what to change."""
    resource = {"blob": "r" * (64 << 10)}  # 64 KB, over 1,100 spans: 72 MB repeated
    spans = [make_span() for _ in range(1100)]
    payload = request_payload(spans, resource_attributes=resource)
    assert len(payload) < 200_000
    with pytest.raises(PayloadTooLarge, match="repeat its resource and scope"):
        decode_traces(payload, "protobuf")
    # An exporter's usual batch with the same resource: 512 spans, 33 MB repeated.
    fine = request_payload(spans[:512], resource_attributes=resource)
    assert decode_traces(fine, "protobuf").accepted_spans == 512
