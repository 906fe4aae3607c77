"""``junjo serve``: the web app, OTLP ingestion and the indexer in one process."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator

import duckdb
import uvicorn

from junjo import __version__
from junjo.config import Settings, data_dir_exposure, session_secret
from junjo.features.api_keys.service import KeyVerifier
from junjo.features.ingest.runtime import IngestRuntime
from junjo.features.spans.store import SpanStore
from junjo.features.users.service import has_users
from junjo.kernel.control_db import ControlDB
from junjo.kernel.errors import Conflict
from junjo.kernel.runtime_file import (
    DataDirInUse,
    RuntimeInfo,
    ServerLock,
    remove_runtime_file,
    write_runtime_file,
)
from junjo.server.app import create_app, host_policy
from junjo.server.connections import (
    ConnectionLimits,
    connection_limits,
    guarded_protocol,
    raise_open_file_limit,
)
from junjo.server.hosts import WILDCARD_BINDS
from junjo.server.logging import configure_logging

log = logging.getLogger("junjo.server")


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    settings.ensure_data_dir()
    exposure = data_dir_exposure(settings)
    if exposure:
        log.warning("%s", exposure)
    try:
        lock = ServerLock(settings.data_dir)
    except DataDirInUse as exc:
        raise Conflict(f"{exc}; stop it first or pass another --data-dir") from None
    try:
        _serve_locked(settings, exposure)
    finally:
        lock.release()


def _serve_locked(settings: Settings, exposure: str | None) -> None:
    control = ControlDB(settings.control_db_path)
    setup_token = None if has_users(control.db) else secrets.token_urlsafe(24)
    local_token = secrets.token_urlsafe(32)
    key_verifier = KeyVerifier(settings.control_db_path)
    limits = _connection_limits(settings)
    try:
        ingest = IngestRuntime(settings, key_verifier, grpc_max_connections=limits.grpc)
    except duckdb.IOException as exc:  # e.g. a `junjo traces` command is reading the file
        raise Conflict(f"cannot open the span store: {exc}; retry in a moment") from None
    app = create_app(
        settings,
        control=control,
        key_verifier=key_verifier,
        session_secret=session_secret(settings),
        setup_token=setup_token,
        local_token=local_token,
        state={"ingest": ingest.service, "span_reader": _span_reader(ingest.store)},
    )
    server = GracefulServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            http=guarded_protocol(limits.http, settings.header_timeout_seconds),
            backlog=limits.http_backlog,
            # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS),
            # so any local process could pick the address sign-in throttling counts.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies),
        )
    )
    http_url = f"http://{_url_host(settings.host)}:{settings.port}"
    runtime = RuntimeInfo(os.getpid(), http_url, settings.grpc_port, local_token)
    try:
        ingest.start()
        write_runtime_file(settings.runtime_file_path, runtime)
        _print_banner(settings, http_url, setup_token, exposure)
        server.run()
    finally:
        remove_runtime_file(settings.runtime_file_path)
        ingest.stop()
        key_verifier.close()
        log.info("stopped")


def _connection_limits(settings: Settings) -> ConnectionLimits:
    fd_limit = raise_open_file_limit()
    limits = connection_limits(fd_limit, settings.http_max_connections)
    if limits.http < settings.http_max_connections:
        log.warning(
            "the open-file limit (%d) leaves room for %d HTTP connections, not"
            " http_max_connections = %d; raise it (ulimit -n, or LimitNOFILE= in systemd)",
            fd_limit,
            limits.http,
            settings.http_max_connections,
        )
    return limits


class GracefulServer(uvicorn.Server):
    """uvicorn's server, but SIGTERM/SIGINT end it with exit code 0.

    uvicorn re-raises the captured signal after its graceful shutdown, which makes a
    clean stop look like a crash to systemd and to tests; we only ask it to exit.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def request_exit(signum: int, frame: object) -> None:
            if self.should_exit:
                self.force_exit = True  # a second Ctrl-C: stop waiting for connections
            self.should_exit = True

        previous = {sig: signal.signal(sig, request_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _span_reader(store: SpanStore) -> Callable[[], contextlib.AbstractContextManager]:
    """Query handlers each get a DuckDB cursor of their own, closed when they are done."""

    @contextlib.contextmanager
    def reader() -> Iterator[duckdb.DuckDBPyConnection]:
        conn = store.cursor()
        try:
            yield conn
        finally:
            conn.close()

    return reader


def _url_host(host: str) -> str:
    if host in WILDCARD_BINDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _print_banner(
    settings: Settings, http_url: str, setup_token: str | None, exposure: str | None
) -> None:
    lines = [
        f"Junjo {__version__}",
        f"  HTTP API         {http_url}",
        f"  OTLP/gRPC        {_url_host(settings.host)}:{settings.grpc_port}",
        f"  OTLP/HTTP        {http_url}/v1/traces",
        f"  Data dir         {settings.data_dir}",
        f"  Allowed hosts    {host_policy(settings).describe()}",
    ]
    if settings.host in WILDCARD_BINDS and not (settings.allowed_hosts or settings.public_url):
        lines += [
            "  Listening on every interface: reach it as localhost or by IP address;",
            "  other names get 400 until listed in allowed_hosts (or set public_url).",
        ]
    if exposure:
        lines += ["", f"Warning: {exposure}"]
    if setup_token:
        body = {"email": "you@example.com", "password": "...", "setup_token": setup_token}
        lines += [
            "",
            "No users yet. Create the first one on this machine:",
            "  junjo user add you@example.com",
            "or over HTTP: POST /users/create-first-user with the setup token:",
            f"  curl -X POST {http_url}/users/create-first-user \\",
            "    -H 'Content-Type: application/json' \\",
            f"    -d '{json.dumps(body)}'",
            f"Setup token: {setup_token}",
        ]
    with contextlib.suppress(OSError):
        print("\n".join(lines), file=sys.stderr, flush=True)
