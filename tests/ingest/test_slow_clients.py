"""Slow, stalled and silent clients against a real ``junjo serve``: they must not block other
exports, they are cut off after their timeouts, and they cannot run the server out of file
descriptors or fill its log."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import grpc
import httpx
import pytest

from tests.support.export import TRACE_EXPORT, grpc_call
from tests.support.keys import make_keys
from tests.support.otlp_builders import new_ids, request_bytes
from tests.support.server import ServerProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

TIMEOUT_S = 4  # the body / message / header timeout the servers here run with
OPEN_FILES = 256


def in_flight(server: ServerProcess, read_key: str) -> dict:
    return server.ingest_status(read_key)["in_flight"]


def http_export(server: ServerProcess, ingest_key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/traces",
        content=request_bytes(new_ids(2)),
        headers={"Content-Type": "application/x-protobuf", "x-junjo-api-key": ingest_key},
        timeout=10,
    )


def grpc_export(server: ServerProcess, ingest_key: str) -> grpc.StatusCode:
    payload = request_bytes(new_ids(2))
    return grpc_call(server.grpc_target, TRACE_EXPORT, payload, ingest_key, timeout=10)[0]


def stalled_body(port: int, ingest_key: str) -> socket.socket:
    """An export that declares a 64 MiB body, sends one byte of it, and stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: junjo\r\nContent-Type: application/x-protobuf\r\n"
        + f"x-junjo-api-key: {ingest_key}\r\nContent-Length: {64 << 20}\r\n\r\n".encode()
        + b"\x0a"
    )
    return sock


def read_until_closed(sock: socket.socket, timeout: float = 30) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    return bytes(received)


def silent_sockets(port: int, count: int, stack: ExitStack) -> None:
    """``count`` connections that never send a byte, all connecting at once.

    One at a time they would take minutes: the server's small listen backlog overflows
    and each dropped SYN costs the client a 1 s retransmission.
    """
    pending = []
    for _ in range(count):
        sock = stack.enter_context(closing(socket.socket()))
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        pending.append(sock)
    poll = select.poll()
    for sock in pending:
        poll.register(sock, select.POLLOUT)
    connected, deadline = 0, time.monotonic() + 60
    while connected < count:
        assert time.monotonic() < deadline, f"{count - connected} connections still pending"
        for fd, _ in poll.poll(1000):
            poll.unregister(fd)
            connected += 1
    assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for s in pending)


def open_fds(server: ServerProcess) -> int:
    return len(list(Path(f"/proc/{server.proc.pid}/fd").iterdir()))


class StalledCalls:
    """gRPC calls that open a stream to TraceService/Export and never send the message."""

    def __init__(self, target: str, ingest_key: str, count: int) -> None:
        self._release = threading.Event()
        self._channels = [grpc.insecure_channel(target) for _ in range(count)]
        metadata = (("x-junjo-api-key", ingest_key),)
        self.calls = [
            channel.stream_unary(TRACE_EXPORT).future(self._never(), metadata=metadata)
            for channel in self._channels
        ]

    def _never(self) -> Iterator[bytes]:
        self._release.wait(60)
        yield from ()

    def close(self) -> None:
        self._release.set()
        for channel in self._channels:
            channel.close()


def test_stalled_bodies_and_calls_neither_block_exports_nor_stay_open(tmp_path: Path):
    data_dir = tmp_path / "data"
    keys = make_keys(data_dir)
    ingest_key, read_key = keys.ingest, keys.read
    env = {
        "JUNJO_HTTP_BODY_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "JUNJO_GRPC_RECEIVE_TIMEOUT_SECONDS": str(TIMEOUT_S),
    }
    with ServerProcess(data_dir, env=env) as server, ExitStack() as stack:
        # 40 bodies declaring 64 MiB each: ten times the in-flight budget, and more than the
        # 32 request slots. Then 20 silent gRPC calls: more than its 16 handler threads.
        opened = time.monotonic()
        bodies = [
            stack.enter_context(closing(stalled_body(server.port, ingest_key))) for _ in range(40)
        ]
        wait_until(lambda: in_flight(server, read_key)["bytes"] >= 40, message="bodies read")
        stalled_calls = StalledCalls(server.grpc_target, ingest_key, 20)
        stack.callback(stalled_calls.close)

        started = time.monotonic()
        assert http_export(server, ingest_key).status_code == 200
        assert grpc_export(server, ingest_key) == grpc.StatusCode.OK
        assert time.monotonic() - started < TIMEOUT_S  # promptly, not after the stalls end

        for body in bodies:
            response = read_until_closed(body)  # the server closes the connection after it
            assert response.startswith(b"HTTP/1.1 408 "), response[:100]
            assert b"request body too slow" in response
        assert time.monotonic() - opened >= TIMEOUT_S
        for call in stalled_calls.calls:
            with pytest.raises(grpc.RpcError) as error:
                call.result(timeout=30)
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # Each timed-out body freed its bytes at once.
        assert in_flight(server, read_key) == {"requests": 0, "bytes": 0}
        assert http_export(server, ingest_key).status_code == 200


def test_silent_http_connections_beyond_the_open_file_limit(tmp_path: Path):
    data_dir = tmp_path / "data"
    ingest_key = make_keys(data_dir).ingest
    with ServerProcess(data_dir, open_files=OPEN_FILES) as server, ExitStack() as stack:
        silent_sockets(server.port, OPEN_FILES + 100, stack)
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        assert grpc_export(server, ingest_key) == grpc.StatusCode.OK
        assert open_fds(server) < OPEN_FILES - 32  # headroom kept for gRPC and the databases
        stack.close()  # the silent clients go away
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        assert http_export(server, ingest_key).status_code == 200
        assert grpc_export(server, ingest_key) == grpc.StatusCode.OK
    assert len(server.log) < 20_000, server.log[-2000:]  # no log storm


def test_silent_grpc_connections_beyond_the_open_file_limit(tmp_path: Path):
    data_dir = tmp_path / "data"
    ingest_key = make_keys(data_dir).ingest
    env = {"JUNJO_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_S)}
    with ServerProcess(data_dir, open_files=OPEN_FILES, env=env) as server, ExitStack() as stack:
        silent_sockets(server.grpc_port, OPEN_FILES + 100, stack)
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        assert open_fds(server) < OPEN_FILES - 32
        # gRPC holds at most its share of connections, and closes the silent ones once
        # their handshake time is up, while they are still open on the client side.
        wait_until(
            lambda: grpc_export(server, ingest_key) == grpc.StatusCode.OK,
            timeout=TIMEOUT_S + 30,
            message="a gRPC export to succeed",
        )
        assert http_export(server, ingest_key).status_code == 200
    assert len(server.log) < 20_000, server.log[-2000:]


def test_headers_sent_slowly_time_out(tmp_path: Path):
    env = {"JUNJO_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_S)}
    with ServerProcess(tmp_path / "data", env=env) as server, ExitStack() as stack:
        trickle = stack.enter_context(
            closing(socket.create_connection(("127.0.0.1", server.port), 10))
        )
        started = time.monotonic()
        trickle.sendall(b"GET /health HTTP/1.1\r\n")
        trickle.settimeout(0.5)
        closed = False
        while not closed and time.monotonic() - started < TIMEOUT_S + 20:
            try:
                trickle.sendall(b"X-Slow: 1\r\n")  # a header line every half second
                closed = trickle.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:  # reset: closed with our bytes unread
                closed = True
        assert closed, "a connection trickling its headers was never closed"
        assert time.monotonic() - started >= TIMEOUT_S - 0.5
