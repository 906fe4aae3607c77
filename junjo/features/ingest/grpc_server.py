"""OTLP/gRPC door: TraceService/Export, no-op Metrics and Logs exports, gRPC health
(Check and Watch).

Handlers are generic and take raw bytes (no request deserializer), so an export goes to
the WAL as the client sent it, with one parse for validation and no re-serialization.

Status codes, chosen for how OTLP clients react (they retry UNAVAILABLE and
RESOURCE_EXHAUSTED, and drop the batch on anything else):

    missing / unknown key     UNAUTHENTICATED
    read-scope key            PERMISSION_DENIED
    malformed request         INVALID_ARGUMENT
    WAL backlog over bound    RESOURCE_EXHAUSTED
    low disk, overload, shutting down, WAL or key-store failure, unexpected error
                              UNAVAILABLE  (never INTERNAL: the client would drop the data)

No ``google.rpc.RetryInfo`` trailer is sent: the OTLP exporter would then wait that fixed
delay between its (at most 6) attempts instead of backing off 1, 2, 4, 8, 16 s, so a client
would give up after a few seconds of backpressure instead of about 30.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from junjo.features.ingest.otlp import OtlpDecodeError, PayloadTooLarge, encode_response
from junjo.features.ingest.service import (
    AuthFailure,
    IngestRefused,
    IngestService,
    KeyVerifierLike,
    Refusal,
)

log = logging.getLogger("junjo.ingest.grpc")

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
HEALTH_SERVICE = "grpc.health.v1.Health"
API_KEY_METADATA = "x-junjo-api-key"

# grpc.health.v1.HealthCheckResponse{status}: field 1, varint. SERVING = 1, NOT_SERVING = 2,
# SERVICE_UNKNOWN = 3 (Watch only; Check answers NOT_FOUND instead).
_HEALTH_SERVING = b"\x08\x01"
_HEALTH_NOT_SERVING = b"\x08\x02"
_HEALTH_SERVICE_UNKNOWN = b"\x08\x03"
_HEALTH_KNOWN = frozenset({"", TRACE_SERVICE, METRICS_SERVICE, LOGS_SERVICE})
# A Watch holds one of the handler threads for as long as the client listens.
_MAX_HEALTH_WATCHES = 4
_WATCH_POLL_S = 0.5

Behavior = Callable[[bytes, grpc.ServicerContext], bytes]


class GrpcIngestServer:
    def __init__(
        self,
        service: IngestService,
        verifier: KeyVerifierLike,
        *,
        host: str,
        port: int,
        max_receive_bytes: int,
        workers: int = 16,
    ) -> None:
        self._service = service
        self._verifier = verifier
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="junjo-grpc"),
            handlers=[self._handlers()],
            options=[
                ("grpc.max_receive_message_length", max_receive_bytes),
                # Without this a second server could bind the same port and split traffic.
                ("grpc.so_reuseport", 0),
            ],
            # A backstop on queued calls (each may hold flow-control buffers); beyond it gRPC
            # answers RESOURCE_EXHAUSTED, which OTLP clients retry.
            maximum_concurrent_rpcs=workers * 8,
        )
        self._watches = threading.BoundedSemaphore(_MAX_HEALTH_WATCHES)
        self.port = 0

    def start(self) -> int:
        """Bind and serve; returns the port actually bound (useful with port 0)."""
        try:
            port = self._server.add_insecure_port(self._address)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for OTLP/gRPC on {self._address}: {exc}") from exc
        if not port:
            raise OSError(f"cannot listen for OTLP/gRPC on {self._address}")
        self._server.start()
        self.port = port
        return port

    def stop(self, grace: float) -> None:
        """Refuse new calls at once; give in-flight exports ``grace`` seconds to finish."""
        self._server.stop(grace).wait(grace + 1)

    # -- handlers ----------------------------------------------------------------------------

    def _handlers(self) -> grpc.GenericRpcHandler:
        methods: dict[str, Behavior] = {
            f"/{TRACE_SERVICE}/Export": self._export_traces,
            f"/{METRICS_SERVICE}/Export": self._export_ignored,
            f"/{LOGS_SERVICE}/Export": self._export_ignored,
            f"/{HEALTH_SERVICE}/Check": self._health_check,
        }
        handlers = {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in methods.items()}
        handlers[f"/{HEALTH_SERVICE}/Watch"] = grpc.unary_stream_rpc_method_handler(
            self._health_watch
        )
        return _RawHandler(handlers)

    def _export_traces(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        code, message = grpc.StatusCode.OK, ""
        try:
            key = self._service.authenticate(self._verifier, _api_key(context))
            # gRPC has already read the body: a paced export holds it in memory, so it is
            # paced inside its admission, whose byte budget bounds what waits here.
            with self._service.admit(len(request)):
                time.sleep(self._service.pacing_delay())
                result = self._service.accept(request, "protobuf", api_key_id=key.id)
        except AuthFailure as exc:
            code, message = _AUTH_CODES[exc.reason], str(exc)
        except IngestRefused as exc:
            code, message = _refusal_code(exc.reason), str(exc)
        except (OtlpDecodeError, PayloadTooLarge) as exc:
            self._service.record_invalid()
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        except Exception:
            log.exception("unexpected error in TraceService/Export")
            code, message = grpc.StatusCode.UNAVAILABLE, "temporary server error; retry later"
        if code is not grpc.StatusCode.OK:
            context.abort(code, message)
        return encode_response(result.rejected_spans, result.error_message, "protobuf")

    def _export_ignored(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Older SDKs attach a metric reader; answer success so they stay quiet."""
        try:
            self._service.authenticate(self._verifier, _api_key(context))
        except AuthFailure as exc:
            context.abort(_AUTH_CODES[exc.reason], str(exc))
        except IngestRefused as exc:
            context.abort(_refusal_code(exc.reason), str(exc))
        return b""  # an empty Export*ServiceResponse

    def _health_check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        name = _health_service_name(request)
        if name is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed HealthCheckRequest")
        if name not in _HEALTH_KNOWN:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {name!r}")
        return _HEALTH_NOT_SERVING if self._service.shutting_down else _HEALTH_SERVING

    def _health_watch(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        """The status now, then each change. Ends once the server is shutting down, so an
        open watch never holds up a graceful stop."""
        name = _health_service_name(request)
        if name is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed HealthCheckRequest")
        if not self._watches.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many health watches open")
        try:
            sent = None
            while context.is_active():
                status = self._watched_status(name)
                if status != sent:
                    yield status
                    sent = status
                if status == _HEALTH_NOT_SERVING:
                    return
                time.sleep(_WATCH_POLL_S)
        finally:
            self._watches.release()

    def _watched_status(self, name: str) -> bytes:
        if self._service.shutting_down:
            return _HEALTH_NOT_SERVING
        return _HEALTH_SERVING if name in _HEALTH_KNOWN else _HEALTH_SERVICE_UNKNOWN


class _RawHandler(grpc.GenericRpcHandler):
    def __init__(self, methods: dict[str, grpc.RpcMethodHandler]) -> None:
        self._methods = methods

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler | None:
        return self._methods.get(handler_call_details.method)


_AUTH_CODES = {
    "missing": grpc.StatusCode.UNAUTHENTICATED,
    "unknown": grpc.StatusCode.UNAUTHENTICATED,
    "read_only": grpc.StatusCode.PERMISSION_DENIED,
}


def _refusal_code(reason: Refusal) -> grpc.StatusCode:
    if reason is Refusal.BACKLOG:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.UNAVAILABLE


def _api_key(context: grpc.ServicerContext) -> str | None:
    """``x-junjo-api-key`` as the Junjo SDK sends it, else ``authorization: Bearer``."""
    bearer = None
    for item in context.invocation_metadata() or ():
        key, value = item.key, item.value
        if key == API_KEY_METADATA and isinstance(value, str):
            return value.strip()
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
    return bearer


def _health_service_name(request: bytes) -> str | None:
    """Field 1 (string) of a HealthCheckRequest; "" when absent, None when malformed."""
    if not request:
        return ""
    if request[0] != 0x0A:
        return None
    length, shift, index = 0, 0, 1
    while index < len(request):
        byte = request[index]
        length |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    body = request[index : index + length]
    if len(body) != length or index + length != len(request):
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None
