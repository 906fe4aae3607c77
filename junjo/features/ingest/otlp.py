"""Decode and validate OTLP trace export requests, before they are written to the WAL.

Two wire encodings arrive here: protobuf (gRPC and OTLP/HTTP) and the OTLP/JSON mapping
(OTLP/HTTP only), optionally gzip- or deflate-compressed. The result is always the protobuf
bytes of an ``ExportTraceServiceRequest`` that the indexer can parse without surprises.

The protobuf path is the hot one: it parses once to validate and count, and hands the
caller's own bytes to the WAL unless a span had to be removed (no re-serialization).
"""

from __future__ import annotations

import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from junjo.features.ingest.masking import MaskCounts, Masker
from junjo.kernel.errors import Malformed, TooLarge
from junjo.otlp_proto.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

WireFormat = Literal["protobuf", "json"]

_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
# OTLP times are uint64 ns; the span store keeps BIGINT (up to the year 2262). A time beyond
# that is a broken clock or a hostile client: the span is rejected alone, not its batch.
_MAX_TIME_NS = (1 << 63) - 1
# Every span's row repeats its resource and scope (attributes as JSON): a request of one big
# resource and many tiny spans expands without bound (a 2 MB resource over 60,000 spans of 30
# bytes: 120 GB of rows). A request whose spans together repeat more than this is refused
# whole; an exporter's batch of 512 spans may carry a 128 KB resource and scope.
MAX_REPEATED_BYTES = 64 << 20
# zlib wbits: 16+MAX_WBITS reads a gzip header, MAX_WBITS a zlib (HTTP "deflate") header.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
SUPPORTED_ENCODINGS = frozenset({"", "identity", *_WBITS})
# More gzip members than any real exporter writes (they write one; block-gzip writers one per
# 64 KiB, so 1,024 for the largest body); an empty member costs 20 bytes but a full call.
MAX_GZIP_MEMBERS = 4096
# Input fed to zlib per call: small first, so a tiny member copies little back out as
# unused_data, then doubling, so a big member costs few calls.
_FIRST_FEED, _MAX_FEED = 1 << 10, 1 << 20


class OtlpDecodeError(Malformed, ValueError):
    """The request is not a valid OTLP export."""


class PayloadTooLarge(TooLarge, ValueError):
    """The request, or what it decompresses to, is above the configured limit."""


@dataclass(frozen=True, slots=True)
class DecodedTraces:
    payload: bytes  # serialized ExportTraceServiceRequest holding only the accepted spans
    accepted_spans: int
    rejected_spans: int
    error_message: str  # why spans were rejected; "" when none were
    masked: MaskCounts | None = None  # what the masking rules masked (None: no rules)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding``, refusing output above ``limit`` bytes (zip bombs).

    Linear in the input: each gzip member is fed from a view of the body in growing
    slices, so what zlib copies out as ``unused_data`` is never more than twice what that
    member consumed (re-feeding the whole rest per member made 200,000 empty members take
    16 s). At most ``MAX_GZIP_MEMBERS`` members.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise OtlpDecodeError(f"unsupported content encoding {encoding!r}")
    view = memoryview(data)
    out = bytearray()
    offset = members = 0
    # A gzip body may hold several members back to back; "deflate" is one zlib stream.
    while offset < len(view) and (members == 0 or wbits != zlib.MAX_WBITS):
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise OtlpDecodeError(f"{encoding} data has more than {MAX_GZIP_MEMBERS} members")
        offset = _inflate_member(view, offset, wbits, out, limit, encoding)
    return bytes(out)


def _inflate_member(
    view: memoryview, offset: int, wbits: int, out: bytearray, limit: int, encoding: str
) -> int:
    """Inflate the member starting at ``offset`` into ``out``; the offset just past it."""
    inflater = zlib.decompressobj(wbits)
    feed = _FIRST_FEED
    while not inflater.eof:
        if offset >= len(view):
            raise OtlpDecodeError(f"truncated {encoding} data")
        piece = view[offset : offset + feed]
        offset += len(piece)
        feed = min(feed * 2, _MAX_FEED)
        try:
            out += inflater.decompress(piece, limit - len(out) + 1)
        except zlib.error as exc:
            raise OtlpDecodeError(f"invalid {encoding} data: {exc}") from exc
        if len(out) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"decompressed request is larger than {limit} bytes")
    return offset - len(inflater.unused_data)


def decode_traces(data: bytes, wire: WireFormat, masker: Masker | None = None) -> DecodedTraces:
    """Parse, validate ids, drop the spans whose ids are unusable, and apply the masking
    rules. The caller's protobuf bytes are kept when nothing had to change."""
    request = _parse_protobuf(data) if wire == "protobuf" else _parse_json(data)
    total, bad = _count_spans(request)
    _check_repeated_bytes(request)
    if bad:
        _remove_bad_spans(request)
    raw = data if wire == "protobuf" else None  # JSON strings may hide behind \u escapes
    masked = masker.mask(request, raw) if masker is not None else None
    if bad == 0 and wire == "protobuf" and not (masked and masked.values):
        return DecodedTraces(data, total, 0, "", masked)  # the hot path: no re-serializing
    message = (
        f"{bad} span(s) rejected: trace_id must be 16 non-zero bytes, span_id 8 non-zero"
        " bytes, parent_span_id empty or 8 bytes, and times at most 2^63-1 ns"
        if bad
        else ""
    )
    return DecodedTraces(request.SerializeToString(), total - bad, bad, message, masked)


def _parse_protobuf(data: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(data)
    except DecodeError as exc:
        raise OtlpDecodeError(f"malformed protobuf ExportTraceServiceRequest: {exc}") from exc


def _parse_json(data: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise OtlpDecodeError(f"malformed JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise OtlpDecodeError("malformed OTLP/JSON: the body must be a JSON object")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, TypeError, ValueError) as exc:
        raise OtlpDecodeError(f"malformed OTLP/JSON ExportTraceServiceRequest: {exc}") from exc
    return request


def _is_bad(span: Any) -> bool:
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    return (
        len(trace_id) != 16
        or trace_id == _ZERO_TRACE_ID
        or len(span_id) != 8
        or span_id == _ZERO_SPAN_ID
        or len(parent) not in (0, 8)
        or span.start_time_unix_nano > _MAX_TIME_NS
        or span.end_time_unix_nano > _MAX_TIME_NS
        or any(event.time_unix_nano > _MAX_TIME_NS for event in span.events)
    )


def _count_spans(request: ExportTraceServiceRequest) -> tuple[int, int]:
    total = bad = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            total += len(spans)
            for span in spans:
                if _is_bad(span):
                    bad += 1
    return total, bad


def _check_repeated_bytes(request: ExportTraceServiceRequest) -> None:
    repeated = 0
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource.ByteSize() + len(resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            shared = resource + scope_spans.scope.ByteSize() + len(scope_spans.schema_url)
            repeated += shared * len(scope_spans.spans)
    if repeated > MAX_REPEATED_BYTES:
        raise PayloadTooLarge(
            f"the request's spans repeat its resource and scope {repeated:,} bytes in all"
            f" (limit {MAX_REPEATED_BYTES:,}): send fewer spans per request, or smaller"
            " resource and scope attributes"
        )


def _remove_bad_spans(request: ExportTraceServiceRequest) -> None:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            # Walk backwards so deleting by index leaves the unvisited indexes intact.
            spans = scope_spans.spans
            for index in range(len(spans) - 1, -1, -1):
                if _is_bad(spans[index]):
                    del spans[index]


# -- OTLP/JSON ids ------------------------------------------------------------------------
# OTLP/JSON writes trace and span ids as hex, where the generic protobuf JSON mapping expects
# base64. Rewrite them in place before ParseDict. An id that is not valid hex becomes empty,
# so the span is rejected by the id check and counted, rather than failing the whole batch.


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert_ids(span, ("traceId", "trace_id", "spanId", "span_id"))
                _convert_ids(span, ("parentSpanId", "parent_span_id"))
                for link in _items(span, "links"):
                    _convert_ids(link, ("traceId", "trace_id", "spanId", "span_id"))


def _items(parent: Any, *names: str) -> list[Any]:
    """The list under the first present name; malformed shapes are left to ParseDict."""
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(obj: Any, names: tuple[str, ...]) -> None:
    if not isinstance(obj, dict):
        return
    for name in names:
        value = obj.get(name)
        if isinstance(value, str):
            obj[name] = _hex_to_base64(value)


def _hex_to_base64(text: str) -> str:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


# -- responses ----------------------------------------------------------------------------


def encode_response(rejected_spans: int, error_message: str, wire: WireFormat) -> bytes:
    """An ExportTraceServiceResponse; ``partial_success`` set only when spans were rejected."""
    if rejected_spans == 0 and not error_message:
        return b"{}" if wire == "json" else b""
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = rejected_spans
    response.partial_success.error_message = error_message
    if wire == "protobuf":
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(code: int, message: str, wire: WireFormat) -> bytes:
    """A ``google.rpc.Status`` body, the error body the OTLP/HTTP spec asks for.

    Hand-encoded (two fields) so the runtime needs no googleapis-common-protos.
    """
    if wire == "json":
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    out = bytearray()
    if code:
        out += b"\x08" + _varint(code)
    if text:
        out += b"\x12" + _varint(len(text)) + text
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
