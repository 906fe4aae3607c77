"""Listening sockets, bound before anything is announced: a port another process holds is
one clear error (``OSError``, one line and exit code 1 from the CLI), not a banner and a
setup token followed by a bind failure."""

from __future__ import annotations

import errno
import socket
from typing import Any


def listen(host: str, port: int, backlog: int, *, door: str, option: str) -> list[socket.socket]:
    """Sockets listening on every address ``host`` names, as asyncio's ``create_server``
    would make them (SO_REUSEADDR; IPv6 sockets IPv6-only); ``door`` and ``option`` name
    what failed and the flag that moves it ("HTTP", "--port")."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise OSError(f"cannot listen for {door} on {_where(host, port)}: {exc}") from exc
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            _bind(sock, address, backlog, door, option)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind(
    sock: socket.socket, address: tuple[Any, ...], backlog: int, door: str, option: str
) -> None:
    try:
        sock.bind(address)
        # Listening at once: two SO_REUSEADDR sockets may share a port that neither listens on.
        sock.listen(backlog)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        if exc.errno == errno.EADDRINUSE:
            reason += f" (is another server running? choose another port with {option})"
        where = _where(address[0], address[1])
        raise OSError(f"cannot listen for {door} on {where}: {reason}") from None


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
