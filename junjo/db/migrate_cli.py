"""``junjo migrate``: apply (or with --status, list) the pending schema migrations of every
store in the data dir: the control database, the write-ahead log and the span store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from junjo.config import Settings
from junjo.features.spans import SPAN_MIGRATIONS, move_legacy_entries
from junjo.kernel import control_db, wal
from junjo.kernel.migrations import Migrations, migrate, status
from junjo.kernel.runtime_file import read_runtime_file


@dataclass(frozen=True)
class _Store:
    label: str
    path: Path
    migrations: Migrations
    connect: Callable[[bool], Any]  # (read only) -> an autocommit connection
    one_writer: bool = False  # DuckDB: while the server runs, no other process may open it


def _stores(settings: Settings) -> list[_Store]:
    return [
        _Store("control database", settings.control_db_path, control_db.CONTROL_MIGRATIONS,
               lambda _: control_db.connect(settings.control_db_path).conn),
        _Store("write-ahead log", settings.wal_path, wal.WAL_MIGRATIONS,
               lambda _: wal.connect(settings.wal_path)),
        _Store("span store", settings.spans_db_path, SPAN_MIGRATIONS,
               lambda read_only: _connect_span_store(settings, read_only), one_writer=True),
    ]  # fmt: skip


def _connect_span_store(settings: Settings, read_only: bool) -> Any:
    import duckdb

    conn = duckdb.connect(str(settings.spans_db_path), read_only=read_only)
    # What an older junjo quarantined there goes to the WAL before migration 5 drops it.
    if not read_only and (moved := move_legacy_entries(conn, settings.wal_path)):
        typer.echo(f"moved {moved} quarantine entries from the span store to wal.db")
    return conn


def run_migrate(settings: Settings, *, status_only: bool) -> None:
    if not status_only:  # --status creates neither the data dir nor a missing database
        settings.ensure_data_dir()
    running = read_runtime_file(settings.runtime_file_path)
    for store in _stores(settings):
        label = f"{store.label} ({store.path.name})"
        if store.one_writer and running is not None:
            # The server migrated it when it started, and holds it.
            typer.echo(f"{label}: in use by the running server (pid {running.pid})")
        elif status_only and not store.path.exists():
            _not_created(label, store.migrations)
        else:
            _migrate_one(label, store, status_only)


def _not_created(label: str, migrations: Migrations) -> None:
    typer.echo(f"{label}: not created yet (version 0 of {migrations.latest})")
    for pending in migrations.steps:
        typer.echo(f"  pending {pending.version}: {pending.description}")


def _migrate_one(label: str, store: _Store, status_only: bool) -> None:
    conn = store.connect(status_only)
    try:
        state = status(conn, store.migrations)
        typer.echo(f"{label}: version {state.current} of {state.latest}")
        for pending in state.pending:
            typer.echo(f"  pending {pending.version}: {pending.description}")
        if not status_only:
            applied = migrate(conn, store.migrations)
            typer.echo(f"  applied {len(applied)} migration(s)" if applied else "  up to date")
    finally:
        conn.close()
