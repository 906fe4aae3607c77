"""uvicorn's h11 protocol as ``junjo serve`` runs it (a header timeout, and a connection cap
that closes the longest-waiting connection first) and the minimum pace of request bodies.
In-process, over real sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.config import Settings
from junjo.kernel.errors import JunjoError
from junjo.kernel.state import AppState, Launch
from junjo.server.connections import connection_limits, guarded_protocol
from junjo.server.errors import domain_error
from junjo.server.http_utils import json_object
from tests.support.server import REPO
from tests.support.uvicorn_thread import UvicornThread
from tests.support.wait import wait_until


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(await json_object(request))


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class Served:
    def __init__(self, max_connections: int, header_timeout_s: float, body_timeout_s: int) -> None:
        app = Starlette(
            routes=[Route("/echo", echo, methods=["POST"]), Route("/health", health)],
            exception_handlers={JunjoError: domain_error},
        )
        settings = Settings(http_body_timeout_seconds=body_timeout_s, http_body_min_rate_kib=1)
        app.state.junjo = AppState(settings, Launch())  # only the body pace is read
        self.protocol = guarded_protocol(max_connections, header_timeout_s)
        self._uvicorn = UvicornThread(app, lifespan="off", http=self.protocol)
        self.port = self._uvicorn.port

    def connect(self, stack: ExitStack) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return stack.enter_context(closing(sock))

    @property
    def connections(self) -> int:
        return len(self._uvicorn.server.server_state.connections)

    def stop(self) -> None:
        self._uvicorn.stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(
        max_connections: int = 100, header_timeout_s: float = 30, body_timeout_s: int = 30
    ) -> Served:
        started.append(Served(max_connections, header_timeout_s, body_timeout_s))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def read_all(sock: socket.socket) -> bytes:
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    return bytes(received)


def get_health(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: junjo\r\nConnection: close\r\n\r\n")
    return read_all(sock)


def test_a_silent_connection_is_closed_after_the_header_timeout(serve):
    served = serve(header_timeout_s=0.5)
    with ExitStack() as stack:
        silent = served.connect(stack)
        started = time.monotonic()
        assert read_all(silent) == b""
        assert 0.4 < time.monotonic() - started < 5
        assert get_health(served.connect(stack)).startswith(b"HTTP/1.1 200 ")


def test_at_the_cap_the_longest_waiting_connection_makes_room(serve):
    served = serve(max_connections=2)
    with ExitStack() as stack:
        oldest, newer = served.connect(stack), served.connect(stack)
        wait_until(lambda: served.connections == 2)
        assert get_health(served.connect(stack)).startswith(b"HTTP/1.1 200 ")
        assert read_all(oldest) == b""  # closed by the server to make room
        newer.settimeout(0.2)
        with pytest.raises(TimeoutError):
            newer.recv(1)  # still open


def test_at_the_cap_with_nobody_waiting_a_new_connection_is_503(serve):
    served = serve(max_connections=2)
    with ExitStack() as stack:
        for _ in range(2):  # requests whose bodies are on their way: not waiting for headers
            busy = served.connect(stack)
            busy.sendall(b"POST /echo HTTP/1.1\r\nHost: junjo\r\nContent-Length: 100\r\n\r\n{")
        wait_until(lambda: served.connections == 2 and not served.protocol.waiting)
        # Answered as soon as it connects (a client already sending may see a reset instead).
        refused = read_all(served.connect(stack))
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1" in refused and refused.endswith(b"too many connections\n")


def test_a_json_body_must_keep_arriving(serve):
    served = serve(body_timeout_s=1)  # 1 s, plus 1 s per KiB received
    with ExitStack() as stack:
        slow = served.connect(stack)
        started = time.monotonic()
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: junjo\r\nContent-Length: 4000\r\n\r\n")
        slow.sendall(b'{"a": "' + b"x" * 1017)  # 1 KiB: 2 s in all
        response = read_all(slow)  # then the server closes the connection
        assert response.startswith(b"HTTP/1.1 408 ")
        assert b"connection: close" in response.lower()
        assert b"request body too slow: 1024 bytes in " in response
        assert 1.9 < time.monotonic() - started < 10
        on_time = served.connect(stack)
        on_time.sendall(
            b"POST /echo HTTP/1.1\r\nHost: junjo\r\nConnection: close\r\n"
            b'Content-Length: 8\r\n\r\n{"a": 1}'
        )
        assert read_all(on_time).endswith(b'\r\n\r\n{"a":1}')


def test_connection_caps_fit_inside_the_open_file_limit():
    low = connection_limits(256, http_max_connections=1000)
    assert low.http + 3 * low.http_backlog + low.grpc + 64 <= 256
    assert low.http >= 32
    high = connection_limits(1 << 20, http_max_connections=1000)
    assert (high.http, high.http_backlog) == (1000, 128)


def test_the_soft_open_file_limit_is_raised_to_the_hard_limit():
    script = (
        "import resource\n"
        "from junjo.server.connections import raise_open_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))\n"
        "print(raise_open_file_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    now, soft, hard = map(int, result.stdout.split())
    assert now == soft == hard
