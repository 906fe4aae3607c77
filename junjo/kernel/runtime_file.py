"""Who owns the data dir: a lock held by the running server, and its runtime file.

``server.lock`` is ``flock``-ed by ``junjo serve`` for as long as it runs; the kernel
drops the lock when the process dies, however it dies, so a crash or a reused pid can
never make a dead server look alive. ``server.json`` (0600), like Jupyter's runtime files,
tells CLI commands on this machine how to reach the live server, with a local token that
stands for the operator; it is only believed while the lock is held.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

LOCK_FILE = "server.lock"


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    http_url: str
    grpc_port: int
    token: str
    # The server's certificate file when it serves HTTPS (tls_cert), else "".
    tls_cert: str = ""

    def client_verify(self) -> ssl.SSLContext | bool:
        """httpx's ``verify`` for reaching this server: its own certificate, pinned."""
        if not self.tls_cert:
            return True
        from junjo.kernel.tls import pinned_client_context

        return pinned_client_context(self.tls_cert)


class DataDirInUse(Exception):
    """Another junjo server holds this data dir."""


class ServerLock:
    """Held for the server's lifetime; released explicitly or by the process's death."""

    def __init__(self, data_dir: Path) -> None:
        self._fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise DataDirInUse(f"another junjo server is using {data_dir}") from None

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def server_is_running(data_dir: Path) -> bool:
    try:
        ServerLock(data_dir).release()
    except DataDirInUse:
        return True
    except FileNotFoundError:  # no data dir yet
        return False
    return False


def write_runtime_file(path: Path, info: RuntimeInfo) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(info), handle)
    os.replace(tmp, path)


def read_runtime_file(path: Path) -> RuntimeInfo | None:
    """The live server's info, or None when no server holds the data dir."""
    if not server_is_running(path.parent):
        return None
    try:
        return RuntimeInfo(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None  # the server is starting and has not written it yet


def remove_runtime_file(path: Path) -> None:
    path.unlink(missing_ok=True)
