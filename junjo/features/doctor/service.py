"""The checks of ``junjo doctor``, each a plain function of the settings returning a
``Check``: what was found and, when it needs attention, what to do about it.

Read-only: nothing here creates the data dir or a database, so the doctor can be run
before the first ``junjo serve`` and beside a running one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import ssl
import stat
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from junjo.config import Settings
from junjo.kernel.migrations import SchemaTooNew, Store, status
from junjo.kernel.runtime_file import RuntimeInfo, read_runtime_file

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str  # what was found
    fix: str = ""  # what to do, when the status is not ok

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def diagnose(settings: Settings, stores: Sequence[Store]) -> list[Check]:
    """Every check, in the order they are printed. ``stores``: the data dir's databases
    with their migrations (``junjo migrate``'s list)."""
    running = read_runtime_file(settings.runtime_file_path)
    checks: list[Callable[[], list[Check]]] = [
        lambda: check_ports(settings, running),
        lambda: [check_data_dir(settings)],
        lambda: [check_disk(settings)],
        lambda: [check_schema(store, running) for store in stores],
        lambda: check_wal(settings),
        lambda: [check_converter(settings)],
        lambda: [check_providers(settings)],
        lambda: [check_tls(settings)],
    ]
    return [check for make in checks for check in make()]


# -- ports --------------------------------------------------------------------------------


def check_ports(settings: Settings, running: RuntimeInfo | None) -> list[Check]:
    doors = [
        ("HTTP port", settings.port, "--port (or port in junjo.toml)"),
        ("OTLP/gRPC port", settings.grpc_port, "--grpc-port (or grpc_port in junjo.toml)"),
    ]
    return [
        _check_port(settings.host, port, label, option, running) for label, port, option in doors
    ]


def _check_port(
    host: str, port: int, label: str, option: str, running: RuntimeInfo | None
) -> Check:
    from junjo.kernel.ports import listen

    where = f"{host}:{port}"
    if running is not None and port in _ports_of(running):
        return Check(label, "ok", f"{where}: held by this data dir's server (pid {running.pid})")
    try:
        for sock in listen(host, port, 1, door=label, option=option):
            sock.close()
    except OSError as exc:
        return Check(
            label,
            "fail",
            f"{where}: {exc}",
            f"stop the process holding it (ss -ltnp 'sport = :{port}'), or choose another"
            f" with {option}",
        )
    return Check(label, "ok", f"{where}: free")


def _ports_of(running: RuntimeInfo) -> set[int]:
    from urllib.parse import urlsplit

    return {urlsplit(running.http_url).port or 0, running.grpc_port}


# -- data dir -----------------------------------------------------------------------------


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    name = "data dir"
    if not path.exists():
        return Check(name, "ok", f"{path}: not created yet (junjo serve creates it, 0700)")
    if not path.is_dir():
        return Check(name, "fail", f"{path} is not a directory", "point --data-dir elsewhere")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return Check(
            name,
            "fail",
            f"{path}: this user ({_user()}) cannot write it",
            f"run junjo as its owner, or chown -R {_user()} {path}",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check(
            name,
            "fail",
            f"{path}: mode {mode:04o}, other users may enter or list it",
            f"chmod 700 {path}",
        )
    loose = _loose_files(path)
    if loose:
        shown = ", ".join(str(p.relative_to(path)) for p in loose[:3])
        more = f" and {len(loose) - 3} more" if len(loose) > 3 else ""
        return Check(
            name,
            "fail",
            f"{path}: readable by other users: {shown}{more}",
            f"chmod -R go= {path} (junjo serve also tightens them at start)",
        )
    return Check(name, "ok", f"{path}: mode 0700, files private")


def _loose_files(data_dir: Path) -> list[Path]:
    loose = []
    for dirpath, dirnames, filenames in os.walk(data_dir):
        for entry in dirnames + filenames:
            path = Path(dirpath, entry)
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                loose.append(path)
    return sorted(loose)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


# -- disk ---------------------------------------------------------------------------------


def check_disk(settings: Settings) -> Check:
    where = _existing_parent(settings.data_dir)
    free_mb = shutil.disk_usage(where).free // 2**20
    bound = settings.ingest_min_free_disk_mb
    detail = f"{free_mb:,} MiB free on {where}'s filesystem"
    fix = f"free space there, or move the data dir (ingest stops below {bound} MiB)"
    if free_mb < bound:
        return Check("disk", "fail", f"{detail}: exports are refused (below {bound} MiB)", fix)
    if free_mb < 4 * bound:
        return Check("disk", "warn", f"{detail}: close to the {bound} MiB floor", fix)
    return Check("disk", "ok", detail)


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


# -- schema versions ----------------------------------------------------------------------


def check_schema(store: Store, running: RuntimeInfo | None) -> Check:
    name = f"schema: {store.path.name}"
    latest = store.migrations.latest
    if not store.path.exists():
        return Check(name, "ok", f"{store.label}: not created yet (version {latest} at start)")
    if store.one_writer and running is not None:
        return Check(name, "ok", f"{store.label}: in use by the running server, which migrated it")
    try:
        conn = store.connect(True)
    except Exception as exc:  # a locked or damaged file: say so, check the rest
        return Check(name, "warn", f"{store.label}: cannot open it: {exc}", "retry in a moment")
    try:
        state = status(conn, store.migrations)
    except SchemaTooNew as exc:
        return Check(name, "fail", str(exc), "upgrade junjo, or restore a backup")
    finally:
        conn.close()
    if state.pending:
        return Check(
            name,
            "warn",
            f"{store.label}: version {state.current} of {state.latest}, "
            f"{len(state.pending)} migration(s) pending",
            "junjo migrate (junjo serve also applies them at start)",
        )
    return Check(name, "ok", f"{store.label}: version {state.current}, up to date")


# -- write-ahead log ----------------------------------------------------------------------


def check_wal(settings: Settings) -> list[Check]:
    path = settings.wal_path
    if not path.exists():
        return [Check("WAL backlog", "ok", "no write-ahead log yet: nothing waits")]
    try:
        batches, pending_bytes, quarantined = _wal_counts(path)
    except sqlite3.Error as exc:
        return [Check("WAL backlog", "warn", f"cannot read {path}: {exc}", "retry in a moment")]
    bound = settings.ingest_max_backlog_mb * 2**20
    detail = f"{batches} batches, {pending_bytes / 2**20:.1f} MiB waiting to be indexed"
    fix = (
        "start junjo serve (it indexes what waits); if it runs, see GET /api/v1/ingest/status"
        " and its log"
    )
    checks = [
        Check("WAL backlog", "fail", f"{detail}: at the bound, exports are refused", fix)
        if pending_bytes >= bound
        else Check("WAL backlog", "warn", f"{detail}: over half the bound", fix)
        if pending_bytes >= bound // 2
        else Check("WAL backlog", "ok", detail)
    ]
    if quarantined:
        checks.append(
            Check(
                "quarantine",
                "warn",
                f"{quarantined} entries set aside by the indexer",
                "junjo quarantine list; junjo quarantine replay --all after fixing the cause",
            )
        )
    return checks


def _wal_counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        (batches,) = conn.execute("SELECT count(*) FROM batches").fetchone()
        row = conn.execute("SELECT pending_bytes FROM totals WHERE id = 1").fetchone()
        (quarantined,) = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    finally:
        conn.close()
    return int(batches), int(row[0]) if row else 0, int(quarantined)


# -- span conversion ----------------------------------------------------------------------


def check_converter(settings: Settings) -> Check:
    """Which converter the indexer runs with these settings, and why python if so."""
    from junjo.features.spans import NativeUnavailable, describe_converter, uses_native

    name = "span converter"
    rebuild = (
        "reinstall junjo-server where a C compiler is found (the native converter takes about"
        " a fifth of the CPU per span)"
    )
    try:
        native = uses_native(settings.converter)
    except NativeUnavailable as exc:
        return Check(name, "fail", f"{exc}: junjo serve refuses to start", rebuild)
    detail = describe_converter(settings.converter)
    if native or settings.converter == "python":
        return Check(name, "ok", detail)
    return Check(name, "warn", detail, rebuild)


# -- LLM providers ------------------------------------------------------------------------


def check_providers(settings: Settings) -> Check:
    try:
        from junjo.features.playground import usable_providers
    except ImportError:  # a server built without the playground
        return Check("LLM providers", "ok", "no prompt playground in this server")
    found = usable_providers(settings)
    if not found:
        return Check(
            "LLM providers",
            "warn",
            "none configured: the prompt playground cannot run calls",
            "set openai_api_key / anthropic_api_key / gemini_api_key or"
            " openai_compatible_base_url in junjo.toml (or OPENAI_API_KEY, ...), and restart",
        )
    return Check("LLM providers", "ok", ", ".join(found))


# -- TLS ----------------------------------------------------------------------------------


def check_tls(settings: Settings) -> Check:
    # getattr: the TLS settings may not exist in this build.
    cert: Any = getattr(settings, "tls_cert", None)
    key: Any = getattr(settings, "tls_key", None)
    if not cert and not key:
        return Check("TLS", "ok", "not configured: plain HTTP (put a TLS proxy in front)")
    if not cert or not key:
        return Check(
            "TLS", "fail", "only one of tls_cert and tls_key is set", "set both, or neither"
        )
    for label, path in (("tls_cert", Path(cert)), ("tls_key", Path(key))):
        if not path.is_file() or not os.access(path, os.R_OK):
            return Check("TLS", "fail", f"{label} {path}: not a readable file", "fix the path")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        return Check(
            "TLS",
            "fail",
            f"{cert} / {key}: cannot be used: {exc}",
            "give a PEM certificate (chain) and its matching private key",
        )
    key_mode = stat.S_IMODE(Path(key).stat().st_mode)
    if key_mode & 0o077:
        return Check(
            "TLS",
            "warn",
            f"{key}: mode {key_mode:04o}, other users may read the key",
            f"chmod 600 {key}",
        )
    return Check("TLS", "ok", f"{cert} with its key")
