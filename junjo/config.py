"""Settings: CLI flag > ``JUNJO_*`` environment > ``junjo.toml`` > defaults.

Every key is documented in ``junjo.toml.example``; keep the two in step (a test checks it).
This module is imported by ``junjo --help``, so it must stay free of heavy imports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from junjo.server.hosts import check_pattern

log = logging.getLogger("junjo.config")

ENV_PREFIX = "JUNJO_"
SECRET_FILE = "secret_key"
# Files 0600 and dirs 0700: the data dir holds password hashes, the session secret and spans.
PRIVATE_UMASK = 0o077


class ConfigError(Exception):
    """A setting has a value junjo cannot use; the message names the key and the source."""


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("junjo", appauthor=False))


@dataclass(frozen=True)
class MaskingRule:
    """One ``[[masking.rules]]`` entry as written; junjo.features.ingest.masking compiles it
    (and refuses a bad regex or an unknown named pattern when ``junjo serve`` starts)."""

    attribute_keys: tuple[str, ...] = ()  # globs: the whole value is masked
    value_patterns: tuple[str, ...] = ()  # named patterns (email, api_key, jwt) or regexes
    replacement: str = "[masked:{kind}]"
    span_names: bool = True  # value_patterns also in span and event names
    status_messages: bool = True  # ... and in status messages


@dataclass(frozen=True)
class MaskingSettings:
    """The ``[masking]`` table: rules applied to spans before they are stored."""

    rules: tuple[MaskingRule, ...] = ()
    regex_timeout_ms: int = 100  # a regex of yours taking longer masks the whole value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 26154
    grpc_port: int = 26155
    log_level: str = "info"
    log_format: str = "text"  # text | json
    # Signs session cookies. Generated into <data_dir>/secret_key (0600) when unset.
    session_secret: str = ""
    session_max_age_seconds: int = 14 * 24 * 3600
    # None: Secure cookies only when the request arrived over https.
    cookie_secure: bool | None = None
    # Public URL of this server, used for /api/config and printed links.
    public_url: str = ""
    # Host names (besides localhost, the bind address, public_url's host and the address a
    # client connects to) that requests may carry in Host; "*.example.com", or "*" for any.
    allowed_hosts: tuple[str, ...] = ()
    # Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed. Empty: none; the connecting address is the client.
    trusted_proxies: tuple[str, ...] = ()
    # Sign-in throttling (docs/auth.md): failures in the window allowed for one account from
    # one client, and from one client; beyond the first from anywhere, attempts for that
    # account wait first (doubling from 1 s up to the max delay).
    signin_max_failures_per_account: int = 5
    signin_max_failures_per_client: int = 20
    signin_failure_window_seconds: int = 900
    signin_max_delay_seconds: int = 10
    # argon2id hashes/checks at once (64 MiB each while they run); a few more may queue.
    password_check_concurrency: int = 2
    # Ingestion limits and backpressure.
    grpc_max_receive_mb: int = 64
    http_max_body_mb: int = 64
    ingest_max_backlog_mb: int = 512
    ingest_min_free_disk_mb: int = 256
    # Slow and idle clients. A connection must send its request headers (HTTP) or finish its
    # HTTP/2 handshake (gRPC) within header_timeout_seconds of connecting, and an idle HTTP
    # connection is closed after it too. An HTTP request body must arrive at
    # http_body_min_rate_kib KiB/s, after a grace of http_body_timeout_seconds (else 408); a
    # gRPC request message within grpc_receive_timeout_seconds (else DEADLINE_EXCEEDED).
    header_timeout_seconds: int = 10
    http_body_timeout_seconds: int = 10
    http_body_min_rate_kib: int = 64
    grpc_receive_timeout_seconds: int = 30
    # HTTP connections held at once (fewer when the open-file limit is low).
    http_max_connections: int = 1000
    # Span conversion: "auto" (the native C extension when built, else Python), "native"
    # (refuse to start without it) or "python" (for comparison and debugging).
    converter: str = "auto"
    # Longer attribute values (and span names, status messages) are stored cut to this size.
    max_attribute_value_kb: int = 1024
    # The prompt playground's LLM providers (junjo.features.playground.providers). Keys fall
    # back to the providers' own variables (OPENAI_API_KEY, ...). repr=False: never printed.
    openai_api_key: str = field(default="", repr=False)
    anthropic_api_key: str = field(default="", repr=False)
    gemini_api_key: str = field(default="", repr=False)
    # Any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp): its base URL.
    openai_compatible_base_url: str = ""
    openai_compatible_api_key: str = field(default="", repr=False)
    # A playground call that takes longer is given up (504).
    llm_timeout_seconds: int = 120
    # Retention ([retention] in junjo.toml): traces whose last span ended more than
    # max_age_days ago are deleted whole (0: kept for ever); with max_disk_gb set, the oldest
    # traces go too while the span store uses more. A trace that had a span indexed in the
    # last quiet_seconds is left for the next run; the job runs every check_seconds.
    retention_max_age_days: int = 30
    retention_max_disk_gb: float | None = None
    retention_quiet_seconds: int = 60
    retention_check_seconds: int = 600
    # HTTPS and gRPC over TLS on the same ports (junjo.server.tls): a PEM certificate chain
    # and its unencrypted PEM private key; both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Redaction rules applied at ingestion, before the WAL append ([[masking.rules]]).
    masking: MaskingSettings = field(default_factory=MaskingSettings)

    @property
    def control_db_path(self) -> Path:
        return self.data_dir / "junjo.db"

    @property
    def wal_path(self) -> Path:
        return self.data_dir / "wal.db"

    @property
    def spans_db_path(self) -> Path:
        return self.data_dir / "spans.duckdb"

    @property
    def runtime_file_path(self) -> Path:
        return self.data_dir / "server.json"

    def ensure_data_dir(self) -> None:
        """Create the data dir (0700) and keep everything this process writes there private.

        Every command that writes the data dir calls this first. The umask is process-wide
        (as PostgreSQL does it) because SQLite and DuckDB create their -wal, -shm, .wal and
        spill files themselves, DuckDB's .wal anew after each checkpoint, so no mode given
        at one ``open`` could reach them all. Files an older junjo left readable by others
        are tightened too. The data dir itself is left as its owner made it (see
        ``data_dir_exposure``)."""
        os.umask(PRIVATE_UMASK)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _restrict_to_owner(self.data_dir)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _restrict_to_owner(data_dir: Path) -> None:
    """chmod what is under the data dir to 0600 (files) or 0700 (dirs), where it is looser.
    Symlinks are not followed; a file this user may not chmod is left alone."""
    for dirpath, dirnames, filenames in os.walk(data_dir):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode) or not stat.S_IMODE(mode) & 0o077:
                    continue
                os.chmod(path, 0o700 if stat.S_ISDIR(mode) else 0o600)


def data_dir_exposure(settings: Settings) -> str | None:
    """A warning when other users may enter or list the data dir (like ``junjo doctor``
    would give): the files in it are private, but their names and sizes are not."""
    mode = stat.S_IMODE(settings.data_dir.stat().st_mode)
    if not mode & 0o077:
        return None
    path = settings.data_dir
    return f"data dir {path} is accessible to other users (mode {mode:04o}): run chmod 700 {path}"


def load_settings(
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the four sources. ``flags`` holds only the options the user actually passed."""
    env = dict(os.environ) if env is None else env
    toml_path = (
        (config_file.expanduser() if config_file else None)
        or _path_or_none(env.get("JUNJO_CONFIG"))
        or _default_toml()
    )
    values: dict[str, Any] = {}
    if toml_path is not None:
        values.update(_from_toml(toml_path))
    values.update(_from_env(env))
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    kwargs = {name: _coerce(name, value) for name, value in values.items()}
    return _validated(Settings(**kwargs))


_CHOICES = {
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "log_format": ("text", "json"),
    "converter": ("auto", "native", "python"),
}
# Integer settings with bounds of their own; every other integer must be at least 1.
_RANGES = {
    "port": (1, 65535),
    "grpc_port": (1, 65535),
    "password_check_concurrency": (1, 64),
    "retention_max_age_days": (0, None),
    "retention_quiet_seconds": (0, None),
}


def _proxy_networks(entries: tuple[str, ...]) -> tuple[str, ...]:
    """``trusted_proxies`` normalized for uvicorn's ``forwarded_allow_ips``; ValueError for
    a bad entry. uvicorn would take a malformed entry as a literal that matches nothing, and
    ``*`` as "every client may name its own address", so both are refused here."""
    proxies = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
        if network.prefixlen == 0:  # every address: as bad as "*"
            raise ValueError(f"{entry!r} would believe any client")
        single = network.num_addresses == 1
        proxies.append(str(network.network_address) if single else str(network))
    return tuple(proxies)


def _validated(settings: Settings) -> Settings:
    _check_public_url(settings.public_url)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError(
            "settings 'tls_cert' and 'tls_key': give both (the certificate and its private"
            " key), or neither"
        )
    _check_http_url("openai_compatible_base_url", settings.openai_compatible_base_url)
    settings = dataclasses.replace(settings, allowed_hosts=_host_patterns(settings.allowed_hosts))
    try:
        settings = dataclasses.replace(
            settings, trusted_proxies=_proxy_networks(settings.trusted_proxies)
        )
    except ValueError as exc:
        raise ConfigError(
            f"setting 'trusted_proxies': {exc} (use e.g. \"127.0.0.1, 10.0.0.0/8\")"
        ) from None
    for name, choices in _CHOICES.items():
        if getattr(settings, name).lower() not in choices:
            raise ConfigError(f"setting {name!r}: use one of {', '.join(choices)}")
    for name, spec in _FIELDS.items():
        if spec.type != "int":
            continue
        low, high = _RANGES.get(name, (1, None))
        value = getattr(settings, name)
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"setting {name!r}: must be {bounds}")
    return settings


def _check_public_url(url: str) -> None:
    _check_http_url("public_url", url)


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ConfigError(f"setting {name!r}: {url!r} is not an http(s):// URL")


def _host_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    checked = []
    for pattern in patterns:
        normalized = check_pattern(pattern)
        if normalized is None:
            raise ConfigError(
                f"setting 'allowed_hosts': {pattern!r} is not a host name"
                " (write junjo.example.com, *.example.com or *, without scheme or port)"
            )
        checked.append(normalized)
    return tuple(checked)


def _path_or_none(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _default_toml() -> Path | None:
    candidate = Path.cwd() / "junjo.toml"
    return candidate if candidate.is_file() else None


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    data = _flattened(data)
    for key in sorted(set(data) & set(_RETIRED)):
        del data[key]
        log.warning("%s: setting %r is ignored: %s", path, key, _RETIRED[key])
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    return data


def _flattened(data: dict[str, Any]) -> dict[str, Any]:
    """``[retention] max_age_days = 7`` is the setting ``retention_max_age_days`` (and
    ``JUNJO_RETENTION_MAX_AGE_DAYS``): tables group related keys; the names stay flat."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in _TABLES:
            flat.update({f"{key}_{name}": item for name, item in value.items()})
        else:
            flat[key] = value
    return flat


_TABLES = ("retention",)
# Keys of older versions, still accepted in a junjo.toml (with a warning) and ignored.
_RETIRED = {
    "index_workers": "spans are converted in the server process now (see 'converter')",
}


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    return {
        name: env[ENV_PREFIX + name.upper()] for name in _FIELDS if ENV_PREFIX + name.upper() in env
    }


def _coerce(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r}")
    kind = _FIELDS[name].type
    if kind == "MaskingSettings":
        return _masking(value)
    try:
        if "Path" in kind:
            if "None" in kind and str(value).strip() == "":
                return None  # JUNJO_TLS_CERT="": unset
            return Path(str(value)).expanduser()
        if "tuple" in kind:
            return _to_tuple(value)
        if "bool" in kind:
            return _to_optional_bool(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if "float" in kind:
            if isinstance(value, bool):
                raise ValueError
            if value is None or str(value).strip() == "":
                return None
            number = float(value)
            if not number > 0:
                raise ValueError
            return number
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"setting {name!r}: cannot use {value!r} ({kind})") from exc


_RULE_FIELDS = {f.name: f.type for f in dataclasses.fields(MaskingRule)}


def _masking(value: Any) -> MaskingSettings:
    """The ``[masking]`` table (or, from JUNJO_MASKING, the same as JSON), checked for shape;
    the patterns themselves are compiled by the ingest feature at start."""
    if isinstance(value, MaskingSettings):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise ConfigError(f"setting 'masking': not a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError("setting 'masking': must be a table ([masking])")
    unknown = sorted(set(value) - {"rules", "regex_timeout_ms"})
    if unknown:
        raise ConfigError(f"setting 'masking': unknown key(s) {', '.join(unknown)}")
    rules = value.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError("setting 'masking.rules': must be a list ([[masking.rules]])")
    timeout = value.get("regex_timeout_ms", 100)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 60_000:
        raise ConfigError("setting 'masking.regex_timeout_ms': must be between 1 and 60000")
    return MaskingSettings(tuple(_masking_rule(i, r) for i, r in enumerate(rules)), timeout)


def _masking_rule(index: int, rule: Any) -> MaskingRule:
    where = f"setting 'masking.rules[{index}]'"
    if not isinstance(rule, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(rule) - set(_RULE_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, item in rule.items():
        kind = _RULE_FIELDS[name]
        if "tuple" in kind:
            if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                raise ConfigError(f"{where}.{name}: must be a list of strings")
            values[name] = tuple(item)
        elif not isinstance(item, bool if kind == "bool" else str):
            raise ConfigError(f"{where}.{name}: must be a {kind}")
        else:
            values[name] = item
    checked = MaskingRule(**values)
    if not checked.attribute_keys and not checked.value_patterns:
        raise ConfigError(f"{where}: give attribute_keys or value_patterns (or both)")
    return checked


def _to_tuple(value: Any) -> tuple[str, ...]:
    """A TOML list, or a comma-separated string (flags and environment variables)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _to_optional_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"", "auto"}:
        return None
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


MIN_SECRET_LENGTH = 32


def session_secret(settings: Settings) -> str:
    """The configured secret, else the one kept in the data dir (created 0600 on first use).

    The file is written to a temporary name, fsynced, then linked into place, so a crash
    never leaves an empty secret behind, and two first starts agree on one secret.
    """
    if settings.session_secret:
        return _checked_secret(settings.session_secret, "setting 'session_secret'")
    settings.ensure_data_dir()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    return _checked_secret(path.read_text().strip(), str(path))


def _create_secret(path: Path) -> None:
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # fails if another process created it first: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _checked_secret(secret: str, source: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{source}: the session secret must be at least {MIN_SECRET_LENGTH} characters"
            " (delete the secret_key file to have a new one generated)"
        )
    return secret
