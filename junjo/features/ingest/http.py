"""OTLP/HTTP door (``POST /v1/traces``) and the ingestion status route.

Status codes, per the OTLP/HTTP spec (clients retry 429, 502, 503 and 504 only):

    missing / unknown key                    401
    read-scope key                           403
    content type not protobuf or JSON,
    or an unknown Content-Encoding           415
    body (or its decompressed form) too big  413
    malformed protobuf / JSON / gzip         400
    body slower than the minimum pace        408 (and the connection is closed)
    WAL backlog over bound                   429 + Retry-After
    low disk, overload, shutting down,
    WAL or key-store failure,
    any unexpected error                     503 + Retry-After (never 500: clients drop those)

Success is 200 with an ExportTraceServiceResponse in the request's encoding (with
``partial_success`` when spans were rejected); errors carry a ``google.rpc.Status`` body.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junjo.features.api_keys import KeyVerifier
from junjo.features.ingest.otlp import (
    SUPPORTED_ENCODINGS,
    OtlpDecodeError,
    PayloadTooLarge,
    WireFormat,
    encode_response,
    encode_status,
)
from junjo.features.ingest.service import BodyBudget, IngestService
from junjo.kernel.credentials import presented_key
from junjo.kernel.errors import Busy, InvalidInput, JunjoError, TooLarge, UnsupportedMediaType
from junjo.kernel.params import int_param
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, Content, Schema, endpoint, principal_of
from junjo.server.errors import error_headers
from junjo.server.http_utils import BodyTimeout, body_chunks, json_object

log = logging.getLogger("junjo.ingest.http")

_MEDIA_TYPES: dict[str, WireFormat] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_CONTENT_TYPE: dict[WireFormat, str] = {
    "protobuf": "application/x-protobuf",
    "json": "application/json",
}
# Retry-After for an unexpected error, as for a failed WAL write.
_UNEXPECTED_RETRY_AFTER_S = 5


# The OpenAPI description of both encodings: a reply uses the request's (JSON when the
# request's Content-Type is neither).
def _otlp(message: str, json_schema: Schema) -> Content:
    binary = {"type": "string", "format": "binary", "description": f"protobuf {message}"}
    return Content({"application/x-protobuf": binary, "application/json": json_schema})


OTLP_STATUS = _otlp(
    "google.rpc.Status",
    {
        "type": "object",
        "description": "google.rpc.Status; code is a google.rpc.Code",
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
        "required": ["code", "message"],
    },
)
EXPORT_REQUEST = _otlp(
    "ExportTraceServiceRequest",
    {
        "type": "object",
        "description": "ExportTraceServiceRequest in OTLP/JSON (hex ids)",
        "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
    },
)
EXPORT_RESPONSE = _otlp(
    "ExportTraceServiceResponse",
    {
        "type": "object",
        "description": "{} or, when spans were rejected, partialSuccess",
        "properties": {
            "partialSuccess": {
                "type": "object",
                "properties": {
                    "rejectedSpans": {"type": "string"},
                    "errorMessage": {"type": "string"},
                },
            }
        },
    },
)
IGNORED_EXPORT = _otlp("Export{Metrics,Logs}ServiceRequest", {"type": "object"})
IGNORED_RESPONSE = _otlp("Export{Metrics,Logs}ServiceResponse", {"type": "object"})


@endpoint(
    "OTLP/HTTP trace export (application/x-protobuf or application/json, optional gzip)",
    auth="api_key",
    tag="ingest",
    body=EXPORT_REQUEST,
    responses={
        200: EXPORT_RESPONSE,
        **dict.fromkeys((400, 401, 403, 408, 413, 415, 429, 503), OTLP_STATUS),
    },
    error_body=OTLP_STATUS,
)
async def export_traces(request: Request) -> Response:
    wire = _MEDIA_TYPES.get(_media_type(request), "json")  # errors before 415 answer JSON
    try:
        return await _export(request)
    except JunjoError as exc:
        return _error_response(exc, wire)
    except ClientDisconnect:
        return _gone()
    except Exception:
        return _error_response(_unexpected(request), wire)


def _unexpected(request: Request) -> Busy:
    """A bug or an unforeseen failure: 503, which OTLP clients retry (they drop a 500)."""
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return Busy("temporary server error; retry later", _UNEXPECTED_RETRY_AFTER_S)


def _gone() -> Response:
    """The client hung up mid-body: nobody reads this, but the request log shows it."""
    return Response(status_code=400)


def _error_response(error: JunjoError, wire: WireFormat) -> Response:
    """The error as OTLP/HTTP answers it: a google.rpc.Status body in the request's encoding."""
    status, code, headers = error_headers(error)
    return Response(
        encode_status(code, str(error), wire),
        status_code=status,
        media_type=_CONTENT_TYPE[wire],
        headers=headers,
    )


async def _export(request: Request) -> Response:
    service = state_of(request).get(IngestService)
    key = await _authenticate(request, service)
    wire = _MEDIA_TYPES.get(_media_type(request))
    if wire is None:
        raise UnsupportedMediaType(
            "Content-Type must be application/x-protobuf or application/json"
        )
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in SUPPORTED_ENCODINGS:
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}")
    limit = service.limits.max_body_bytes
    declared = _content_length(request)
    if declared is not None and declared > limit:
        service.record_invalid()
        raise TooLarge(f"request body is larger than {limit} bytes")
    delay = service.pacing_delay()
    if delay:
        await asyncio.sleep(delay)
    try:
        # The in-flight budget covers bodies being received, by what has arrived (not by
        # what Content-Length promises); a request slot is taken once the body is complete.
        with service.receiving() as budget:
            body = await _read_body(request, limit, service, budget)
            with service.admit(0, wait_s=0):
                result = await run_in_threadpool(
                    service.accept, body, wire, content_encoding=encoding, api_key_id=key.id
                )
    except (PayloadTooLarge, OtlpDecodeError):
        service.record_invalid()
        raise
    return Response(
        encode_response(result.rejected_spans, result.error_message, wire),
        media_type=_CONTENT_TYPE[wire],
    )


async def _authenticate(request: Request, service: IngestService) -> Any:
    """The request's ingest key, else Unauthenticated, PermissionDenied or IngestRefused."""
    raw = presented_key(request.headers.get)
    # The verifier reads SQLite (and sometimes writes last_used_at): off the event loop.
    verifier = state_of(request).get(KeyVerifier)
    return await run_in_threadpool(service.authenticate, verifier, raw)


async def _read_body(
    request: Request, limit: int, service: IngestService, budget: BodyBudget
) -> bytes:
    """The body, claimed from the in-flight budget chunk by chunk as it arrives."""
    body = bytearray()
    try:
        async for chunk in body_chunks(request):
            if len(body) + len(chunk) > limit:
                service.record_invalid()
                raise TooLarge(f"request body is larger than {limit} bytes")
            budget.grow(len(chunk))
            body += chunk
    except BodyTimeout:
        service.record_timeout()
        raise
    return bytes(body)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _content_length(request: Request) -> int | None:
    try:
        value = int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


@endpoint(
    "OTLP/HTTP metrics and logs: accepted and discarded (older SDKs send them)",
    auth="api_key",
    tag="ingest",
    body=IGNORED_EXPORT,
    responses={200: IGNORED_RESPONSE, **dict.fromkeys((401, 403, 413, 503), OTLP_STATUS)},
    error_body=OTLP_STATUS,
)
async def export_ignored(request: Request) -> Response:
    """``/v1/metrics`` and ``/v1/logs``: authenticated no-ops, like their gRPC twins."""
    wire = _MEDIA_TYPES.get(_media_type(request), "json")
    service = state_of(request).get(IngestService)
    try:
        await _authenticate(request, service)
        with service.receiving() as budget:
            await _read_body(request, service.limits.max_body_bytes, service, budget)
    except JunjoError as exc:
        return _error_response(exc, wire)
    except ClientDisconnect:
        return _gone()
    except Exception:
        return _error_response(_unexpected(request), wire)
    return Response(encode_response(0, "", wire), media_type=_CONTENT_TYPE[wire])


@endpoint(
    "Ingestion counters (accepted, indexed, backlog, quarantined, truncated values, masked"
    " spans and values, indexer lag) and the newest quarantine entries",
    auth="session_or_read_key",
    tag="ingest",
    responses={200: {"type": "object"}},
)
async def ingest_status(request: Request) -> JSONResponse:
    principal = principal_of(request)
    service = state_of(request).get(IngestService)

    def status() -> dict[str, Any]:
        return {**service.status(), "quarantine": service.quarantine(principal)}

    return JSONResponse(await run_in_threadpool(status))


@endpoint(
    "Quarantine entries, newest first (without their payloads), and what is pending in all",
    auth="session_or_read_key",
    tag="ingest",
    query={"limit": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 20}},
    responses={200: {"type": "object"}, 422: ERROR_SCHEMA},
)
async def list_quarantine(request: Request) -> JSONResponse:
    principal = principal_of(request)
    limit = int_param(request.query_params, "limit", 20)
    service = state_of(request).get(IngestService)
    return JSONResponse(await run_in_threadpool(service.quarantine, principal, limit))


_REPLAY_BODY = {
    "type": "object",
    "properties": {
        "ids": {"type": "array", "items": {"type": "integer"}},
        "all": {"type": "boolean"},
    },
}


@endpoint(
    "Replay quarantined entries: their requests go back into the WAL to be indexed again",
    auth="session",
    tag="ingest",
    body=_REPLAY_BODY,
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA, 422: ERROR_SCHEMA},
)
async def replay_quarantine(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await json_object(request)
    ids, everything = body.get("ids"), body.get("all") is True
    if everything == (ids is not None) or (ids is not None and not isinstance(ids, list)):
        raise InvalidInput('give "ids" (a list of entry ids) or "all": true')
    service = state_of(request).get(IngestService)
    ids_or_all = None if everything else ids
    return JSONResponse(await run_in_threadpool(service.replay_quarantined, principal, ids_or_all))


@endpoint(
    "Index everything waiting in the WAL now (Junjo AI Studio's settings page)",
    auth="session",
    tag="ingest",
    responses={
        200: {
            "type": "object",
            "properties": {
                "success": {"type": "boolean"},
                "message": {"type": "string"},
                "spans_indexed": {"type": "integer", "description": "by this flush"},
            },
            "required": ["success", "message"],
        },
        503: ERROR_SCHEMA,
    },
)
async def flush_wal(request: Request) -> JSONResponse:
    principal = principal_of(request)
    service = state_of(request).get(IngestService)
    return JSONResponse(await run_in_threadpool(service.flush, principal))


routes = [
    Route("/v1/traces", export_traces, methods=["POST"]),
    Route("/v1/metrics", export_ignored, methods=["POST"]),
    Route("/v1/logs", export_ignored, methods=["POST"]),
    Route("/api/v1/ingest/status", ingest_status, methods=["GET"]),
    Route("/api/v1/ingest/quarantine", list_quarantine, methods=["GET"]),
    Route("/api/v1/ingest/quarantine/replay", replay_quarantine, methods=["POST"]),
    Route("/api/admin/flush-wal", flush_wal, methods=["POST"]),
]
