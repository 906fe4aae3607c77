"""``junjo serve``: the web app, OTLP ingestion and the indexer in one process."""

from __future__ import annotations

import asyncio
import asyncio.constants as asyncio_constants
import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from junjo import __version__, features
from junjo.config import ConfigError, Settings, data_dir_exposure
from junjo.kernel.errors import Conflict
from junjo.kernel.ports import listen
from junjo.kernel.runtime_file import (
    DataDirInUse,
    RuntimeInfo,
    ServerLock,
    remove_runtime_file,
    write_runtime_file,
)
from junjo.kernel.state import AppState, Launch, state_of_app
from junjo.kernel.tls import TlsFileError, TlsFiles, tls_files
from junjo.server.app import create_app, host_policy
from junjo.server.connections import (
    ConnectionLimits,
    connection_limits,
    guarded_protocol,
    raise_open_file_limit,
)
from junjo.server.hosts import WILDCARD_BINDS
from junjo.server.logging import JsonFormatter, configure_logging

log = logging.getLogger("junjo.server")


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    tls = _checked_tls(settings)
    for feature in features.load():
        if feature.check:
            feature.check(settings)  # a ConfigError: one line, before anything is bound
    settings.ensure_data_dir()
    warnings = [w for w in (data_dir_exposure(settings), *(tls.warnings if tls else ())) if w]
    for warning in warnings:
        log.warning("%s", warning)
    try:
        lock = ServerLock(settings.data_dir)
    except DataDirInUse as exc:
        raise Conflict(f"{exc}; stop it first or pass another --data-dir") from None
    try:
        _serve_locked(settings, tls, warnings)
    finally:
        lock.release()


def _checked_tls(settings: Settings) -> TlsFiles | None:
    """The TLS files, checked before anything is bound or announced."""
    try:
        return tls_files(settings)
    except TlsFileError as exc:
        raise ConfigError(str(exc)) from None


def _serve_locked(settings: Settings, tls: TlsFiles | None, warnings: list[str]) -> None:
    _backup_before_upgrade(settings)
    limits = _connection_limits(settings)
    # Bound before the lifespan, which announces the server (banner, setup token): a port
    # another process holds is then one error line and nothing else.
    sockets = listen(
        settings.host, settings.port, limits.http_backlog, door="HTTP", option="--port"
    )
    try:
        _serve_on(sockets, settings, limits, tls, warnings)
    finally:
        for sock in sockets:
            sock.close()


def _serve_on(
    sockets: list[socket.socket],
    settings: Settings,
    limits: ConnectionLimits,
    tls: TlsFiles | None,
    warnings: list[str],
) -> None:
    if tls:
        # A TLS connection's header timer (guarded_protocol) starts once its handshake is
        # done, and asyncio gives a handshake 60 s: a client that connects and never says
        # hello would hold its connection that long. uvicorn passes no handshake timeout to
        # create_server, so asyncio reads this default when each connection arrives.
        asyncio_constants.SSL_HANDSHAKE_TIMEOUT = float(settings.header_timeout_seconds)
    scheme = "https" if tls else "http"
    http_url = f"{scheme}://{_url_host(settings.host)}:{settings.port}"
    launch = Launch(
        http_url=http_url,
        command=cli_command(),
        local_token=secrets.token_urlsafe(32),
        grpc_max_connections=limits.grpc,
    )
    app = create_app(settings, launch)
    server = GracefulServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",  # entered below, so a failure to start is one clear error
            timeout_graceful_shutdown=10,
            http=guarded_protocol(limits.http, settings.header_timeout_seconds),
            backlog=limits.http_backlog,
            # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS),
            # so any local process could pick the address sign-in throttling counts.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies),
            # The files were checked (and found unencrypted) by _checked_tls.
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
    )
    asyncio.run(_run(app, server, sockets, settings, tls, warnings))


async def _run(
    app: Starlette,
    server: uvicorn.Server,
    sockets: list[socket.socket],
    settings: Settings,
    tls: TlsFiles | None,
    warnings: list[str],
) -> None:
    async with app.router.lifespan_context(app):
        state = state_of_app(app)
        launch = state.launch
        token = launch.local_token or ""
        cert = str(tls.cert.absolute()) if tls else ""
        runtime = RuntimeInfo(os.getpid(), launch.http_url, state.grpc_port, token, cert)
        try:
            write_runtime_file(settings.runtime_file_path, runtime)
            _print_banner(settings, state, tls, warnings)
            # uvicorn says where it listens only for the sockets it binds itself.
            door = "HTTPS" if tls else "HTTP"
            log.info("%s listening on %s:%d", door, settings.host, settings.port)
            await server.serve(sockets=sockets)
        finally:
            remove_runtime_file(settings.runtime_file_path)
    log.info("stopped")


def _backup_before_upgrade(settings: Settings) -> None:
    """A data dir of an older release is copied before the lifespans migrate it."""
    from junjo.kernel.backup import backup_before_upgrade
    from junjo.migrate_cli import data_dir_stores

    copy = backup_before_upgrade(settings.data_dir, data_dir_stores(settings))
    if copy is not None:
        log.warning("the data dir is from an older junjo: copied it to %s before migrating", copy)


def cli_command() -> str:
    """What to type, on this machine, for the CLI of the server this process runs: the
    ``junjo`` of the banner's and notices' commands.

    How the process was started says which installed ``junjo`` is this server's: the
    script in ``sys.argv[0]`` (``junjo`` or ``junjo-server``), or ``python -m junjo``.
    A bare name would be wrong wherever PATH finds another file by it or none at all: after
    ``make serve`` (``.venv/bin`` is not on PATH), or where the SDK's ``junjo`` comes first.
    So the script's name only when PATH finds that very file; else its absolute path (it
    works from any directory); ``<this python> -m junjo`` when started that way, or when
    ``sys.argv[0]`` is no file (started from ``python -c``); from the zipapp,
    ``<this python> <the .pyz>``.
    """
    from junjo.install import zipapp_path

    archive = zipapp_path()
    if archive is not None:  # the zipapp: the Python running it, then its path
        return shlex.join([sys.executable, archive])
    script = Path(sys.argv[0])
    if script.name in ("junjo", "junjo-server") and script.is_file():
        found = shutil.which(script.name)
        if found is not None and os.path.samefile(found, script):
            return script.name
        return shlex.quote(str(script.absolute()))
    return shlex.join([sys.executable, "-m", "junjo"])


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
    """uvicorn's server, but SIGTERM/SIGINT end it with exit code 0, and SIGHUP is a
    logged no-op.

    uvicorn re-raises the captured signal after its graceful shutdown, which makes a
    clean stop look like a crash to systemd and to tests; we only ask it to exit.

    SIGHUP would end the process by default. Nothing is safe to reload in place (the
    settings shape every part; logs go to stderr, so there is no file to reopen): a log
    rotator's or a closed terminal's SIGHUP leaves the server running, and says that a
    restart applies new settings.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            sd_notify("READY=1")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        sd_notify("STOPPING=1")
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def request_exit(signum: int, frame: object) -> None:
            if self.should_exit:
                self.force_exit = True  # a second Ctrl-C: stop waiting for connections
            self.should_exit = True

        previous = {sig: signal.signal(sig, request_exit) for sig in _STOP_SIGNALS}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _hangup)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _hangup(signum: int, frame: object) -> None:
    log.info("SIGHUP: nothing to reload; restart junjo serve to apply changed settings")


def sd_notify(state: str) -> None:
    """Tell systemd (Type=notify) how the service stands; nothing when not run by it."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


def _url_host(host: str) -> str:
    if host in WILDCARD_BINDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _print_banner(
    settings: Settings, state: AppState, tls: TlsFiles | None, warnings: list[str]
) -> None:
    http_url = state.launch.http_url
    grpc = f"{_url_host(settings.host)}:{state.grpc_port}"
    lines = [
        f"Junjo {__version__}",
        f"  Web UI           {http_url}/",
        f"  HTTP API         {http_url}",
        f"  OTLP/gRPC        {f'https://{grpc} (TLS)' if tls else grpc}",
        f"  OTLP/HTTP        {http_url}/v1/traces",
        f"  Data dir         {settings.data_dir}",
        f"  CLI              {state.launch.command} --help",
        f"  Allowed hosts    {host_policy(settings).describe()}",
    ]
    if tls:
        lines.append(f"  TLS certificate  {tls.cert}")
    if settings.masking.rules:
        count = len(settings.masking.rules)
        lines.append(f"  Masking          {count} rule(s), applied before spans are stored")
    if settings.host in WILDCARD_BINDS and not (settings.allowed_hosts or settings.public_url):
        lines += [
            "  Listening on every interface: reach it as localhost or by IP address;",
            "  other names get 400 until listed in allowed_hosts (or set public_url).",
        ]
    if warnings:
        lines += ["", *(f"Warning: {warning}" for warning in warnings)]
    if state.notices:
        lines += ["", *state.notices]
    text = _json_banner(lines, settings, state) if settings.log_format == "json" else lines
    with contextlib.suppress(OSError):
        print("\n".join(text), file=sys.stderr, flush=True)


def _json_banner(lines: list[str], settings: Settings, state: AppState) -> list[str]:
    """The banner as one log line, so that a log collector reading JSON gets JSON only
    (printed whatever the log level, as the text banner is)."""
    http_url = state.launch.http_url
    fields = {
        "version": __version__,
        "web_ui": f"{http_url}/",
        "otlp_grpc": f"{_url_host(settings.host)}:{state.grpc_port}",
        "otlp_http": f"{http_url}/v1/traces",
        "data_dir": str(settings.data_dir),
        "cli": state.launch.command,
        "banner": lines,
    }
    record = log.makeRecord(log.name, logging.INFO, "", 0, "Junjo %s ready", (__version__,), None)
    record.__dict__.update(fields)
    return [JsonFormatter().format(record)]
