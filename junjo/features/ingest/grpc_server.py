"""OTLP/gRPC door: TraceService/Export, no-op Metrics and Logs exports, gRPC health
(Check and Watch).

Handlers are generic and take raw bytes (no request deserializer), so an export goes to
the WAL as the client sent it, with one parse for validation and no re-serialization.

Status codes, chosen for how OTLP clients react (they retry UNAVAILABLE and
RESOURCE_EXHAUSTED, and drop the batch on anything else):

    missing / unknown key     UNAUTHENTICATED
    read-scope key            PERMISSION_DENIED
    malformed request         INVALID_ARGUMENT
    request message not received within grpc_receive_timeout_seconds
                              DEADLINE_EXCEEDED  (retried, as the OTLP spec asks)
    WAL backlog over bound    RESOURCE_EXHAUSTED
    low disk, overload, shutting down, WAL or key-store failure, unexpected error
                              UNAVAILABLE  (never INTERNAL: the client would drop the data)

No ``google.rpc.RetryInfo`` trailer is sent: the OTLP exporter would then wait that fixed
delay between its (at most 6) attempts instead of backing off 1, 2, 4, 8, 16 s, so a client
would give up after a few seconds of backpressure instead of about 30.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from junjo.features.ingest.otlp import OtlpDecodeError, PayloadTooLarge, encode_response
from junjo.features.ingest.service import IngestService, KeyVerifierLike
from junjo.kernel.credentials import presented_key
from junjo.kernel.errors import JunjoError, outcome
from junjo.kernel.ports import listen

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[bytes, bytes]
    MethodHandler = grpc.RpcMethodHandler[bytes, bytes]

log = logging.getLogger("junjo.ingest.grpc")

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
HEALTH_SERVICE = "grpc.health.v1.Health"

# grpc.health.v1.HealthCheckResponse{status}: field 1, varint. SERVING = 1, NOT_SERVING = 2,
# SERVICE_UNKNOWN = 3 (Watch only; Check answers NOT_FOUND instead).
_HEALTH_SERVING = b"\x08\x01"
_HEALTH_NOT_SERVING = b"\x08\x02"
_HEALTH_SERVICE_UNKNOWN = b"\x08\x03"
_HEALTH_KNOWN = frozenset({"", TRACE_SERVICE, METRICS_SERVICE, LOGS_SERVICE})
_MAX_HEALTH_WATCHES = 4
_WATCH_POLL_S = 0.5
# Connections with no call for this long are closed (GOAWAY; clients reconnect when they
# next export), so idle and half-open connections do not hold file descriptors for ever.
_MAX_CONNECTION_IDLE_MS = 5 * 60 * 1000
# Streams one connection may have open at once, so one client cannot take every call slot.
_MAX_STREAMS_PER_CONNECTION = 32
# At shutdown, how long cancelled calls' tasks get to end (they take milliseconds).
_TASKS_END_S = 2.0

Result = TypeVar("Result")
Outcome = tuple[grpc.StatusCode, str, bytes]


class GrpcIngestServer:
    """grpc.aio on an event loop thread of its own; blocking work runs on a thread pool.

    The synchronous grpc server receives a request message on a handler thread, with no
    time limit: 16 clients that open a call and never send its message held every thread,
    and every other export timed out. Here a message is received on the event loop and
    must arrive within ``receive_timeout_s``; only a complete request takes a thread.
    """

    def __init__(
        self,
        service: IngestService,
        verifier: KeyVerifierLike,
        *,
        host: str,
        port: int,
        max_receive_bytes: int,
        workers: int = 16,
        receive_timeout_s: float = 30,
        handshake_timeout_s: float = 10,
        max_connections: int | None = None,
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        self._service = service
        self._tls = tls  # (private key PEM, certificate chain PEM): serve gRPC over TLS
        self._verifier = verifier
        self._host, self._requested_port = host, port
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._workers = workers
        self._receive_timeout_s = receive_timeout_s
        self._options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_receive_bytes),
            # Without this a second server could bind the same port and split traffic.
            ("grpc.so_reuseport", 0),
            # A connection that never finishes its HTTP/2 handshake (default: 120 s).
            ("grpc.server_handshake_timeout_ms", int(handshake_timeout_s * 1000)),
            ("grpc.max_connection_idle_ms", _MAX_CONNECTION_IDLE_MS),
            ("grpc.max_concurrent_streams", _MAX_STREAMS_PER_CONNECTION),
        ]
        if max_connections is not None:
            # Beyond it new connections are closed at once: the open-file limit is shared
            # with the HTTP door and the databases.
            self._options.append(("grpc.max_allowed_incoming_connections", max_connections))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="junjo-grpc")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="junjo-grpc-loop", daemon=True
        )
        self._server: grpc.aio.Server | None = None
        self._watches = threading.BoundedSemaphore(_MAX_HEALTH_WATCHES)
        self.port = 0

    def start(self) -> int:
        """Bind and serve; returns the port actually bound (useful with port 0)."""
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self.port

    async def _start(self) -> int:
        self._server = grpc.aio.server(
            handlers=[self._handlers()],
            options=self._options,
            # A backstop on calls in progress (each may hold flow-control buffers); beyond
            # it gRPC answers RESOURCE_EXHAUSTED, which OTLP clients retry.
            maximum_concurrent_rpcs=self._workers * 8,
        )
        if self._requested_port:
            # gRPC's own bind failure is a C-core log line plus a vague error: ask first.
            for probe in listen(
                self._host, self._requested_port, 1, door="OTLP/gRPC", option="--grpc-port"
            ):
                probe.close()
        try:
            if self._tls is None:
                port = self._server.add_insecure_port(self._address)
            else:
                credentials = grpc.ssl_server_credentials([self._tls])
                port = self._server.add_secure_port(self._address, credentials)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for OTLP/gRPC on {self._address}: {exc}") from exc
        if not port:
            raise OSError(f"cannot listen for OTLP/gRPC on {self._address}")
        await self._server.start()
        return port

    def stop(self, grace: float) -> None:
        """Refuse new calls at once; give in-flight exports ``grace`` seconds to finish, then
        cancel the rest. The loop stops only once every call's task has ended."""
        if self._thread.is_alive():
            stopping = asyncio.run_coroutine_threadsafe(self._stop(grace), self._loop)
            with contextlib.suppress(TimeoutError):
                stopping.result(grace + _TASKS_END_S + 1)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        # Queued exports still run: each is acked or refused, and leaves its admission.
        self._pool.shutdown(wait=False)

    async def _stop(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        # grpc.aio's stop returns once gRPC core is done with every call, but the handler
        # tasks of the calls it cancelled when the grace ran out have yet to run to their end
        # on this loop. A task still pending when the loop goes away is logged as "Task was
        # destroyed but it is pending!", with a GeneratorExit traceback from grpc.
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        try:
            # gather retrieves each task's outcome, so none is logged as never retrieved.
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), _TASKS_END_S)
        except TimeoutError:
            log.warning("gRPC calls still running %g s after they were cancelled", _TASKS_END_S)
        await self._loop.shutdown_asyncgens()

    # -- handlers ----------------------------------------------------------------------------
    # Every method reads its one request message itself (``_request``), with a time limit,
    # so each is registered as taking a request stream.

    def _handlers(self) -> grpc.GenericRpcHandler:
        unary = {
            f"/{TRACE_SERVICE}/Export": self._export_traces,
            f"/{METRICS_SERVICE}/Export": self._export_ignored,
            f"/{LOGS_SERVICE}/Export": self._export_ignored,
            f"/{HEALTH_SERVICE}/Check": self._health_check,
        }
        handlers: dict[str, MethodHandler] = {
            name: grpc.stream_unary_rpc_method_handler(fn) for name, fn in unary.items()
        }
        handlers[f"/{HEALTH_SERVICE}/Watch"] = grpc.stream_stream_rpc_method_handler(
            self._health_watch
        )
        return _RawHandler(handlers)

    async def _request(self, context: Context) -> bytes:
        """The call's request message, which must have arrived within the receive timeout."""
        try:
            message: object = await asyncio.wait_for(context.read(), self._receive_timeout_s)
        except TimeoutError:
            self._service.record_timeout()
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"request message not received within {self._receive_timeout_s:g} s",
            )
        if message is grpc.aio.EOF:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no request message sent")
        assert isinstance(message, bytes)  # raw handlers: no deserializer
        return message

    async def _in_pool(self, fn: Callable[..., Result], *args: Any) -> Result:
        """Run blocking ``fn`` on the handler pool. A call cancelled meanwhile (client gone,
        server stopping) does not cancel ``fn``, which always runs to its end."""
        job = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        return await asyncio.shield(job)

    async def _export_traces(self, requests: Any, context: Context) -> bytes:
        key = await self._caller(context)
        request = await self._request(context)
        # Admission before queueing for a thread: every received body waiting here is inside
        # the in-flight budget. When it is full, refuse at once (UNAVAILABLE is retried).
        hold = contextlib.ExitStack()
        try:
            hold.enter_context(self._service.admit(len(request), wait_s=0))
        except JunjoError as exc:
            await context.abort(_status_code(exc), str(exc))
        code, message, reply = await self._in_pool(self._export_admitted, request, key, hold)
        if code is not grpc.StatusCode.OK:
            await context.abort(code, message)
        return reply

    def _export_admitted(self, request: bytes, key: Any, hold: contextlib.ExitStack) -> Outcome:
        """Pace and store an admitted export, then leave the admission."""
        with hold:
            try:
                # gRPC has already read the body: a paced export holds it in memory, so it
                # is paced inside its admission, whose byte budget bounds what waits here.
                time.sleep(self._service.pacing_delay())
                result = self._service.accept(request, "protobuf", api_key_id=key.id)
            except JunjoError as exc:
                if isinstance(exc, OtlpDecodeError | PayloadTooLarge):
                    self._service.record_invalid()
                return _status_code(exc), str(exc), b""
            except Exception:
                log.exception("unexpected error in TraceService/Export")
                return grpc.StatusCode.UNAVAILABLE, "temporary server error; retry later", b""
        reply = encode_response(result.rejected_spans, result.error_message, "protobuf")
        return grpc.StatusCode.OK, "", reply

    async def _export_ignored(self, requests: Any, context: Context) -> bytes:
        """Older SDKs attach a metric reader; answer success so they stay quiet."""
        await self._caller(context)
        await self._request(context)
        return b""  # an empty Export*ServiceResponse

    async def _caller(self, context: Context) -> Any:
        """The call's ingest key, checked before its message is read: a caller without one
        gets the server to hold none of its bytes."""
        code, message, key = await self._in_pool(self._check_key, _api_key(context))
        if code is not grpc.StatusCode.OK:
            await context.abort(code, message)
        return key

    def _check_key(self, raw_key: str | None) -> tuple[grpc.StatusCode, str, Any]:
        try:
            return grpc.StatusCode.OK, "", self._service.authenticate(self._verifier, raw_key)
        except JunjoError as exc:
            return _status_code(exc), str(exc), None

    async def _health_check(self, requests: Any, context: Context) -> bytes:
        name = _health_service_name(await self._request(context))
        if name is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed HealthCheckRequest")
        if name not in _HEALTH_KNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {name!r}")
        return _HEALTH_NOT_SERVING if self._service.shutting_down else _HEALTH_SERVING

    async def _health_watch(self, requests: Any, context: Context) -> AsyncIterator[bytes]:
        """The status now, then each change. Ends once the server is shutting down, so an
        open watch never holds up a graceful stop."""
        name = _health_service_name(await self._request(context))
        if name is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed HealthCheckRequest")
        if not self._watches.acquire(blocking=False):
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many health watches open")
        try:
            sent = None
            while True:
                status = self._watched_status(name)
                if status != sent:
                    yield status
                    sent = status
                if status == _HEALTH_NOT_SERVING:
                    return
                await asyncio.sleep(_WATCH_POLL_S)
        finally:
            self._watches.release()

    def _watched_status(self, name: str) -> bytes:
        if self._service.shutting_down:
            return _HEALTH_NOT_SERVING
        return _HEALTH_SERVING if name in _HEALTH_KNOWN else _HEALTH_SERVICE_UNKNOWN


class _RawHandler(grpc.GenericRpcHandler):
    def __init__(self, methods: dict[str, MethodHandler]) -> None:
        self._methods = methods

    def service(self, handler_call_details: Any) -> MethodHandler | None:
        return self._methods.get(handler_call_details.method)


def _status_code(error: JunjoError) -> grpc.StatusCode:
    return grpc.StatusCode[outcome(error).grpc]


def _api_key(context: Context) -> str | None:
    metadata = dict(context.invocation_metadata() or ())  # (key, value) pairs
    return presented_key(
        lambda name: value if isinstance(value := metadata.get(name), str) else None
    )


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
