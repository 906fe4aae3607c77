"""Bounds on connections, so silent or slow clients cannot take the server's file descriptors.

Out of descriptors, nothing works: ``accept()`` fails for every client (``/health`` and gRPC
too), the databases cannot open files, and asyncio's accept loop logs the failure up to
``backlog`` times per wake-up and re-arms itself once per failure (CPython 3.11; python/cpython
issue 151615): 1,100 silent sockets under a 1,024-descriptor limit wrote 375,865 log lines in
12 s. So, at the source, the process is kept from running out:

- ``raise_open_file_limit`` lifts the soft limit to the hard one at start;
- ``connection_limits`` splits that limit between the HTTP door, the gRPC door and a reserve
  for everything else, so neither door can run the process out of descriptors;
- ``guarded_protocol`` is uvicorn's h11 protocol plus what it lacks: a connection cap and a
  time limit on request headers. uvicorn arms no timer until a first response, and any byte
  cancels its keep-alive timer, so a client that connects and says nothing (or sends its
  headers a byte at a time) holds its connection for ever; its ``limit_concurrency`` only
  answers *requests* beyond the limit with 503, and silent connections make none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    import resource
except ImportError:  # Windows: no RLIMIT_NOFILE to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger("junjo.server")

# Descriptors kept for what is not a client connection: SQLite (junjo.db, wal.db and their
# -wal/-shm files, per connection), DuckDB, the log, epoll.
RESERVED_FDS = 64
# Tried when the hard limit is unlimited (macOS), then macOS's OPEN_MAX if that is refused.
_UNLIMITED_TARGETS = (1 << 16, 10240)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; the soft limit now in force."""
    if resource is None:
        return _UNLIMITED_TARGETS[0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    targets = _UNLIMITED_TARGETS if hard == resource.RLIM_INFINITY else (hard,)
    for target in targets:
        if soft == resource.RLIM_INFINITY or soft >= target:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.debug("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            continue
        soft = target
        break
    return _UNLIMITED_TARGETS[0] if soft == resource.RLIM_INFINITY else soft


@dataclass(frozen=True)
class ConnectionLimits:
    http: int  # HTTP connections held at once
    http_backlog: int  # listen backlog, which is also how many asyncio accepts in one go
    grpc: int  # gRPC connections held at once


def connection_limits(fd_limit: int, http_max_connections: int) -> ConnectionLimits:
    """Half of what the reserve leaves goes to HTTP, a quarter to gRPC, a quarter spare.

    asyncio accepts up to ``backlog`` connections before the protocol can close the excess,
    so HTTP's share also covers two such bursts.
    """
    spare = max(64, fd_limit - RESERVED_FDS)
    backlog = max(8, min(128, spare // 16))
    http = max(8, min(http_max_connections, spare // 2 - 2 * backlog))
    return ConnectionLimits(http=http, http_backlog=backlog, grpc=max(8, spare // 4))


def guarded_protocol(max_connections: int, header_timeout_s: float) -> type[H11Protocol]:
    """The protocol class for one server: its limits and its own list of waiting connections."""
    attributes = {
        "max_connections": max_connections,
        "header_timeout_s": header_timeout_s,
        "waiting": OrderedDict(),
    }
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attributes)


_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: 21\r\n\r\ntoo many connections\n"
)


class GuardedH11Protocol(H11Protocol):
    """h11 with a header timeout and a connection cap (use ``guarded_protocol``).

    A connection is *waiting* from when it opens, or its last response ends, until the
    headers of its next request are in; it is closed after ``header_timeout_s`` of that. At
    the cap, a new connection closes the connection that has waited longest; only when none
    is waiting (every connection is in a request) is the new one answered 503 and closed at
    once (a client that has already sent its request may see a reset instead: either way it
    retries), so refused connections never pile up.
    """

    max_connections: ClassVar[int]
    header_timeout_s: ClassVar[float]
    waiting: ClassVar[OrderedDict[GuardedH11Protocol, None]]

    _refused = False
    _header_timer: asyncio.TimerHandle | None = None
    _waiting_after: object = None  # the request cycle before the one awaited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections and not self._close_longest_waiting():
            self._refused = True
            log.warning("HTTP connection limit (%d) reached: refusing", self.max_connections)
            transport.write(_REFUSAL)
            transport.close()
            return
        super().connection_made(transport)
        self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self._header_timer is not None and self.cycle is not self._waiting_after:
            self._stop_waiting()  # a new request's headers are in

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._wait_for_headers()
        super().on_response_complete()  # may start a pipelined request at once

    def _wait_for_headers(self) -> None:
        self._stop_waiting()
        self._waiting_after = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._close)
        self.waiting[self] = None

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self.waiting.pop(self, None)

    def _close(self) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()

    def _close_longest_waiting(self) -> bool:
        if not self.waiting:
            return False
        oldest, _ = self.waiting.popitem(last=False)
        oldest._close()
        return True
