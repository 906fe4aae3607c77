"""Numbered schema migrations for the SQLite control plane.

Each migration is a function taking the open database; ``schema_version`` records which
have run. A file whose version is above the newest migration this code knows was written
by a newer junjo, and is refused rather than silently misread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `junjo traces` needs SchemaTooNew, not sqlite-utils
    import sqlite_utils


class SchemaTooNew(Exception):
    """The database was written by a newer version of junjo."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


@dataclass(frozen=True)
class MigrationStatus:
    current: int
    latest: int
    pending: list[Migration]


def _ensure_version_table(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )


def current_version(db: sqlite_utils.Database) -> int:
    _ensure_version_table(db)
    (version,) = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return version


def status(
    db: sqlite_utils.Database, migrations: Sequence[Migration], name: str
) -> MigrationStatus:
    latest = migrations[-1].version if migrations else 0
    current = current_version(db)
    refuse_newer(current, latest, f"the {name} database")
    return MigrationStatus(current, latest, [m for m in migrations if m.version > current])


def refuse_newer(current: int, latest: int, what: str) -> None:
    """Raise SchemaTooNew when a database (SQLite or DuckDB) is ahead of this code."""
    if current > latest:
        raise SchemaTooNew(
            f"{what} is at schema version {current}, but this junjo only knows "
            f"versions up to {latest}: it was written by a newer junjo. Upgrade junjo "
            "(pipx upgrade junjo) or point --data-dir at another directory."
        )


def migrate(db: sqlite_utils.Database, migrations: Sequence[Migration], name: str) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    ``BEGIN IMMEDIATE`` serializes concurrent migrators (a CLI command and a starting
    server); each re-reads the version inside the lock so none applies a step twice.
    """
    applied = []
    for migration in status(db, migrations, name).pending:
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            migration.apply(db)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, utc_now()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def utc_now() -> str:
    """Timestamps in the control plane: ISO-8601 UTC with a Z, seconds precision."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
