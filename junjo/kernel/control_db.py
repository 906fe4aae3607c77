"""The control plane: users, API keys and the schema version, in one SQLite file.

SQLite is safe to open from several processes, so ``junjo user add`` and a running
``junjo serve`` share this file directly. WAL mode lets readers and one writer proceed
together; the busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import sqlite_utils

from junjo.kernel.migrations import Migration, Migrations, migrate

BUSY_TIMEOUT_MS = 10_000


_V1_USERS_AND_KEYS = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    session_revision INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
    created_at TEXT NOT NULL,
    created_by TEXT,
    last_used_at TEXT
);
"""

CONTROL_MIGRATIONS = Migrations(
    "the control database",
    (Migration(1, "users and api keys", _V1_USERS_AND_KEYS),),
)


def connect(path: Path) -> sqlite_utils.Database:
    """Open the control database with the pragmas every connection needs (no migration)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _enable_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def _enable_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL. On a brand-new file, two processes doing this at once can get
    SQLITE_BUSY without the busy handler being consulted, so retry briefly."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def open_control_db(path: Path) -> sqlite_utils.Database:
    """Connect and bring the schema up to date (refusing a newer one)."""
    db = connect(path)
    migrate(db.conn, CONTROL_MIGRATIONS)
    return db


class ControlDB:
    """Hands each thread its own connection: a sqlite3 connection must not carry two
    threads' transactions at once, and the web server runs handlers on a thread pool."""

    def __init__(self, path: Path) -> None:
        self.path = path
        open_control_db(path).conn.close()
        self._local = threading.local()

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db
