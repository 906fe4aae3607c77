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

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junjo.features.auth.guards import require_principal
from junjo.features.ingest.otlp import (
    SUPPORTED_ENCODINGS,
    OtlpDecodeError,
    PayloadTooLarge,
    WireFormat,
    encode_response,
    encode_status,
)
from junjo.features.ingest.service import (
    AuthFailure,
    BodyBudget,
    IngestRefused,
    IngestService,
    Refusal,
)
from junjo.server.http_utils import BodyTimeout, body_chunks
from junjo.server.openapi import document

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
# google.rpc.Code values for the Status body.
_INVALID_ARGUMENT, _DEADLINE_EXCEEDED, _PERMISSION_DENIED, _RESOURCE_EXHAUSTED = 3, 4, 7, 8
_UNAVAILABLE, _UNAUTHENTICATED = 14, 16
# Retry-After for an unexpected error, as for a failed WAL write.
_UNEXPECTED_RETRY_AFTER_S = 5


class _Reply(Exception):
    """Ends a request early with a status and a google.rpc.Status body."""

    def __init__(
        self, status: int, code: int, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


@document(
    "OTLP/HTTP trace export (application/x-protobuf or application/json, optional gzip)",
    auth="api_key",
    tag="ingest",
    responses={
        200: None,
        400: None,
        403: None,
        408: None,
        413: None,
        415: None,
        429: None,
        503: None,
    },
)
async def export_traces(request: Request) -> Response:
    wire = _MEDIA_TYPES.get(_media_type(request), "json")  # errors before 415 answer JSON
    try:
        return await _export(request)
    except _Reply as reply:
        return _error_response(reply, wire)
    except ClientDisconnect:
        return _gone()
    except Exception:
        return _error_response(_unexpected(request), wire)


def _unexpected(request: Request) -> _Reply:
    """A bug or an unforeseen failure: 503, which OTLP clients retry (they drop a 500)."""
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return _Reply(
        503, _UNAVAILABLE, "temporary server error; retry later", _UNEXPECTED_RETRY_AFTER_S
    )


def _gone() -> Response:
    """The client hung up mid-body: nobody reads this, but the request log shows it."""
    return Response(status_code=400)


def _error_response(reply: _Reply, wire: WireFormat) -> Response:
    headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else {}
    if reply.status == 408:
        # The rest of the body would come from the same slow client: close instead.
        headers["Connection"] = "close"
    return Response(
        encode_status(reply.code, str(reply), wire),
        status_code=reply.status,
        media_type=_CONTENT_TYPE[wire],
        headers=headers,
    )


async def _export(request: Request) -> Response:
    service: IngestService = request.app.state.ingest
    key = await _authenticate(request, service)
    wire = _MEDIA_TYPES.get(_media_type(request))
    if wire is None:
        raise _Reply(
            415,
            _INVALID_ARGUMENT,
            "Content-Type must be application/x-protobuf or application/json",
        )
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in SUPPORTED_ENCODINGS:
        raise _Reply(415, _INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}")
    limit = service.limits.max_body_bytes
    declared = _content_length(request)
    if declared is not None and declared > limit:
        service.record_invalid()
        raise _Reply(413, _INVALID_ARGUMENT, f"request body is larger than {limit} bytes")
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
    except IngestRefused as exc:
        status = 429 if exc.reason is Refusal.BACKLOG else 503
        code = _RESOURCE_EXHAUSTED if exc.reason is Refusal.BACKLOG else _UNAVAILABLE
        raise _Reply(status, code, str(exc), exc.retry_after_s) from exc
    except PayloadTooLarge as exc:
        service.record_invalid()
        raise _Reply(413, _INVALID_ARGUMENT, str(exc)) from exc
    except OtlpDecodeError as exc:
        service.record_invalid()
        raise _Reply(400, _INVALID_ARGUMENT, str(exc)) from exc
    return Response(
        encode_response(result.rejected_spans, result.error_message, wire),
        media_type=_CONTENT_TYPE[wire],
    )


async def _authenticate(request: Request, service: IngestService):
    raw = request.headers.get("x-junjo-api-key")
    if raw is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        raw = token.strip() if scheme.lower() == "bearer" else None
    try:
        # The verifier reads SQLite (and sometimes writes last_used_at): off the event loop.
        return await run_in_threadpool(service.authenticate, request.app.state.key_verifier, raw)
    except AuthFailure as exc:
        if exc.reason == "read_only":
            raise _Reply(403, _PERMISSION_DENIED, str(exc)) from exc
        raise _Reply(401, _UNAUTHENTICATED, str(exc)) from exc
    except IngestRefused as exc:
        raise _Reply(503, _UNAVAILABLE, str(exc), exc.retry_after_s) from exc


async def _read_body(
    request: Request, limit: int, service: IngestService, budget: BodyBudget
) -> bytes:
    """The body, claimed from the in-flight budget chunk by chunk as it arrives."""
    body = bytearray()
    try:
        async for chunk in body_chunks(request):
            if len(body) + len(chunk) > limit:
                service.record_invalid()
                raise _Reply(413, _INVALID_ARGUMENT, f"request body is larger than {limit} bytes")
            budget.grow(len(chunk))
            body += chunk
    except BodyTimeout as exc:
        service.record_timeout()
        raise _Reply(408, _DEADLINE_EXCEEDED, str(exc)) from exc
    return bytes(body)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _content_length(request: Request) -> int | None:
    try:
        value = int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


@document(
    "OTLP/HTTP metrics and logs: accepted and discarded (older SDKs send them)",
    auth="api_key",
    tag="ingest",
)
async def export_ignored(request: Request) -> Response:
    """``/v1/metrics`` and ``/v1/logs``: authenticated no-ops, like their gRPC twins."""
    wire = _MEDIA_TYPES.get(_media_type(request), "json")
    service: IngestService = request.app.state.ingest
    try:
        await _authenticate(request, service)
        with service.receiving() as budget:
            await _read_body(request, service.limits.max_body_bytes, service, budget)
    except IngestRefused as exc:
        return _error_response(_Reply(503, _UNAVAILABLE, str(exc), exc.retry_after_s), wire)
    except _Reply as reply:
        return _error_response(reply, wire)
    except ClientDisconnect:
        return _gone()
    except Exception:
        return _error_response(_unexpected(request), wire)
    return Response(encode_response(0, "", wire), media_type=_CONTENT_TYPE[wire])


@document(
    "Ingestion counters: accepted, indexed, backlog, quarantined, indexer lag",
    auth="session_or_read_key",
    tag="ingest",
    responses={200: {"type": "object"}},
)
async def ingest_status(request: Request) -> JSONResponse:
    await require_principal(request)
    service: IngestService = request.app.state.ingest
    return JSONResponse(await run_in_threadpool(service.status))


routes = [
    Route("/v1/traces", export_traces, methods=["POST"]),
    Route("/v1/metrics", export_ignored, methods=["POST"]),
    Route("/v1/logs", export_ignored, methods=["POST"]),
    Route("/api/v1/ingest/status", ingest_status, methods=["GET"]),
]
