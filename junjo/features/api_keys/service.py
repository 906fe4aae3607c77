"""API keys: created once (the full key is shown only then), stored as a SHA-256 hash.

A key is 64 random alphanumeric characters, so a fast hash is enough: there is nothing
to brute-force, and ingestion can check a key on every request. Keys carry a scope:
``ingest`` for SDK exporters, ``read`` for the CLI and scripts against a remote server.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from junjo.kernel.control_db import connect
from junjo.kernel.errors import Conflict, InvalidInput, NotFound
from junjo.kernel.ids import new_api_key, new_id
from junjo.kernel.migrations import utc_now
from junjo.kernel.principal import Principal

SCOPES = ("ingest", "read")
PREFIX_LENGTH = 8
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    scope: str
    created_at: str
    last_used_at: str | None

    @property
    def masked(self) -> str:
        """What a listing shows as ``key``: the prefix and "..." (Junjo AI Studio's key page
        requires the field; the full key is never stored, so it cannot be listed)."""
        return f"{self.prefix}..."

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "key": self.masked,
            "prefix": self.prefix,
            "scope": self.scope,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True)
class CreatedApiKey:
    """The one moment the full key exists outside the caller's hands."""

    api_key: ApiKey
    key: str

    def public(self) -> dict[str, Any]:
        return {**self.api_key.public(), "key": self.key}


_COLUMNS = "id, name, prefix, scope, created_at, last_used_at"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name: API key name cannot be empty")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"name: at most {MAX_NAME_LENGTH} characters")
    return name


def _check_scope(scope: object) -> str:
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    return str(scope)


def create_key(
    db: sqlite_utils.Database, actor: Principal, name: object, scope: object = "ingest"
) -> CreatedApiKey:
    actor.require_admin()
    name, scope = _check_name(name), _check_scope(scope)
    for _ in range(3):  # a collision of 381-bit keys will not happen; a retry costs nothing
        raw = new_api_key()
        key = ApiKey(new_id(), name, raw[:PREFIX_LENGTH], scope, utc_now(), None)
        try:
            db.execute(
                "INSERT INTO api_keys (id, name, key_hash, prefix, scope, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.id, name, hash_key(raw), key.prefix, scope, key.created_at, actor.id),
            )
        except sqlite3.IntegrityError:
            continue
        return CreatedApiKey(key, raw)
    raise Conflict("Failed to generate a unique API key")


def list_keys(db: sqlite_utils.Database, actor: Principal) -> list[ApiKey]:
    """Newest first (rowid breaks ties between keys created in the same second)."""
    actor.require_admin()
    rows = db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, rowid DESC")
    return [ApiKey(*row) for row in rows.fetchall()]


def delete_key(db: sqlite_utils.Database, actor: Principal, key_id: str) -> None:
    actor.require_admin()
    if db.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount == 0:
        raise NotFound("API key not found")


@dataclass(frozen=True)
class VerifiedKey:
    id: str
    name: str
    scope: str


class KeyVerifier:
    """Checks raw keys against the control database, fast enough for every request.

    Lookups are cached, and the cache is dropped whenever SQLite's ``data_version``
    changes, which happens on any commit by another connection or process. So a key
    deleted by ``junjo keys delete`` in another process is refused on the very next
    request, with no TTL window. ``last_used_at`` is written at most once a minute per
    key so that busy exporters do not turn every request into a write.
    """

    LAST_USED_INTERVAL_S = 60.0

    def __init__(self, control_db_path: Path) -> None:
        self._path = control_db_path
        self._db = connect(control_db_path)
        # Never wait on a writer: WAL reads do not block, and the last-used write is
        # skipped rather than stalling an export behind someone's long transaction.
        self._db.execute("PRAGMA busy_timeout = 0")
        self._lock = threading.Lock()
        self._cache: dict[str, VerifiedKey | None] = {}
        self._data_version = -1
        self._last_used_written: dict[str, float] = {}

    def verify(self, raw_key: str | None) -> VerifiedKey | None:
        if not raw_key or len(raw_key) > 256:
            return None
        digest = hash_key(raw_key)
        with self._lock:
            self._drop_cache_if_changed()
            if digest not in self._cache:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                row = self._db.execute(
                    "SELECT id, name, scope FROM api_keys WHERE key_hash = ?", (digest,)
                ).fetchone()
                self._cache[digest] = VerifiedKey(*row) if row else None
            key = self._cache[digest]
            due = key is not None and self._touch_due(key.id)
        if key is not None and due:
            self._touch(key.id)
        return key

    def _drop_cache_if_changed(self) -> None:
        (version,) = self._db.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._cache.clear()
            self._data_version = version

    def _touch_due(self, key_id: str) -> bool:
        now = time.monotonic()
        if now - self._last_used_written.get(key_id, -1e9) < self.LAST_USED_INTERVAL_S:
            return False
        self._last_used_written[key_id] = now
        return True

    def _touch(self, key_id: str) -> None:
        """Record use on a connection of the moment, outside the lookup lock."""
        # A busy database must not fail or slow an export: the timestamp is advisory.
        with contextlib.suppress(sqlite3.OperationalError):
            db = connect(self._path)
            try:
                db.execute("PRAGMA busy_timeout = 0")
                db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (utc_now(), key_id))
            finally:
                db.conn.close()

    def close(self) -> None:
        with self._lock:
            self._db.conn.close()
