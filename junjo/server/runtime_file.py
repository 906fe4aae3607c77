"""The running server's runtime file (``server.json``, 0600) in the data dir.

Like Jupyter's runtime files: it tells CLI commands on the same machine that a server
owns the data dir (DuckDB allows one writer) and how to reach it, with a local token
that stands for the operator. Only someone who can read the data dir can use it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    http_url: str
    grpc_port: int
    token: str


def write_runtime_file(path: Path, info: RuntimeInfo) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(info), handle)
    os.replace(tmp, path)


def read_runtime_file(path: Path) -> RuntimeInfo | None:
    """The live server's info, or None when there is no file or its process is gone."""
    try:
        info = RuntimeInfo(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return info


def remove_runtime_file(path: Path, pid: int) -> None:
    current = read_runtime_file(path)
    if current is None or current.pid == pid:
        path.unlink(missing_ok=True)
