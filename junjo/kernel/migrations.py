"""Numbered schema migrations: one runner for every store of a data dir, SQLite (the control
database, the write-ahead log) and DuckDB (the span store) alike.

A store's module declares its ``Migrations``: numbered steps, each a SQL script or a function
taking the open connection. Every store records the steps it has run in the same table,

    schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT)

with ``applied_at`` in ISO-8601 UTC. Span stores of earlier releases kept ``applied_at_ns``
instead; ``migrate`` converts that table first. A store whose version is above the newest
step this code knows was written by a newer junjo, and is refused (``SchemaTooNew``) rather
than silently misread.

The engines differ in three places, kept in ``_Dialect``: how a migration's transaction
begins, how a multi-statement script runs, and how to ask whether a table exists.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from junjo import DISTRIBUTION
from junjo.kernel.transaction import transaction

# A sqlite3.Connection or a duckdb.DuckDBPyConnection (DuckDB is not imported here:
# `junjo --help` and the SQLite-only commands must not load it).
Connection = Any


class SchemaTooNew(Exception):
    """The database was written by a newer version of junjo."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: str | Callable[[Connection], None]  # a SQL script, or a function of the connection


@dataclass(frozen=True)
class Migrations:
    """The numbered migrations of one store, oldest first."""

    store: str  # what messages call it: "the span store"
    steps: tuple[Migration, ...]

    @property
    def latest(self) -> int:
        return self.steps[-1].version if self.steps else 0


@dataclass(frozen=True)
class Store:
    """A database of the data dir with its migrations, as ``junjo migrate`` handles it."""

    label: str
    path: Path
    migrations: Migrations
    connect: Callable[[bool], Connection]  # (read only) -> an autocommit connection
    one_writer: bool = False  # DuckDB: while the server runs, no other process may open it
    # Run before migrating (never with --status); returns a line to show, if any.
    prepare: Callable[[Connection], str | None] | None = None


@dataclass(frozen=True)
class MigrationStatus:
    current: int
    latest: int
    pending: list[Migration]


@dataclass(frozen=True)
class _Dialect:
    # SQLite: IMMEDIATE takes the write lock first, so of two migrators (a CLI command and
    # a starting server) the second waits and then finds the step applied. DuckDB allows
    # one read-write process per file, so there is no second migrator.
    begin: str
    run_script: Callable[[Connection, str], None]
    table_exists_sql: str  # one parameter, the table name; returns a count


def _sqlite_script(conn: sqlite3.Connection, script: str) -> None:
    """Statement by statement: ``executescript`` would COMMIT the migration's transaction."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


def _duckdb_script(conn: Connection, script: str) -> None:
    conn.execute(script)


_SQLITE = _Dialect(
    "BEGIN IMMEDIATE",
    _sqlite_script,
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
)
_DUCKDB = _Dialect(
    "BEGIN TRANSACTION",
    _duckdb_script,
    "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    " AND table_catalog = current_database() AND table_schema = 'main'",
)


def _dialect(conn: Connection) -> _Dialect:
    return _SQLITE if isinstance(conn, sqlite3.Connection) else _DUCKDB


def table_exists(conn: Connection, name: str) -> bool:
    (count,) = conn.execute(_dialect(conn).table_exists_sql, [name]).fetchone()
    return bool(count)


def current_version(conn: Connection) -> int:
    """The schema version of the open database; 0 for a new one. Writes nothing."""
    if not table_exists(conn, "schema_version"):
        return 0
    (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(version)


def status(conn: Connection, migrations: Migrations) -> MigrationStatus:
    """Where the database stands; raises ``SchemaTooNew`` if a newer junjo wrote it."""
    current = current_version(conn)
    if current > migrations.latest:
        raise SchemaTooNew(
            f"{migrations.store} is at schema version {current}, but this junjo only knows "
            f"versions up to {migrations.latest}: it was written by a newer junjo. Upgrade "
            f"junjo (pipx upgrade {DISTRIBUTION}) or point --data-dir at another directory."
        )
    pending = [m for m in migrations.steps if m.version > current]
    return MigrationStatus(current, migrations.latest, pending)


def migrate(conn: Connection, migrations: Migrations) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.
    ``conn`` must be in autocommit mode (sqlite3: ``isolation_level=None``)."""
    dialect = _dialect(conn)
    _convert_version_table(conn, dialect)
    applied = []
    for migration in status(conn, migrations).pending:
        with transaction(conn, dialect.begin):
            if current_version(conn) >= migration.version:  # another migrator was first
                continue
            _create_version_table(conn)
            if callable(migration.apply):
                migration.apply(conn)
            else:
                dialect.run_script(conn, migration.apply)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                [migration.version, migration.description, utc_now()],
            )
        applied.append(migration.version)
    return applied


def _create_version_table(conn: Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )


def _convert_version_table(conn: Connection, dialect: _Dialect) -> None:
    """Span stores before the shared runner recorded ``applied_at_ns`` (an integer) and had
    no key; rewrite such a table in today's layout, rows kept."""
    if not table_exists(conn, "schema_version"):
        return
    columns = {row[1] for row in conn.execute("PRAGMA table_info('schema_version')").fetchall()}
    if "applied_at_ns" not in columns:
        return
    with transaction(conn, dialect.begin):
        rows = conn.execute(
            "SELECT version, description, applied_at_ns FROM schema_version ORDER BY version"
        ).fetchall()
        conn.execute("DROP TABLE schema_version")
        _create_version_table(conn)
        for version, description, applied_at_ns in rows:
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                [version, description, utc_now(applied_at_ns / 1e9)],
            )


def utc_now(seconds: float | None = None) -> str:
    """Timestamps in the control plane and ``schema_version``: ISO-8601 UTC with a Z,
    seconds precision; now, or ``seconds`` since the epoch."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
