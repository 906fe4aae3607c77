"""``junjo migrate``: apply (or with --status, list) the pending schema migrations of every
store in the data dir: the control database, the write-ahead log and the span store."""

from __future__ import annotations

import typer

from junjo.config import Settings
from junjo.kernel import control_db, wal
from junjo.kernel.migrations import Migrations, Store, migrate, status
from junjo.kernel.runtime_file import read_runtime_file


def data_stores(settings: Settings) -> list[Store]:
    """The kernel's databases, then each feature's (its ``stores`` hook)."""
    from junjo import features

    kernel = [
        Store("control database", settings.control_db_path, control_db.CONTROL_MIGRATIONS,
              lambda _: control_db.connect(settings.control_db_path).conn),
        Store("write-ahead log", settings.wal_path, wal.WAL_MIGRATIONS,
              lambda _: wal.connect(settings.wal_path)),
    ]  # fmt: skip
    return kernel + [
        store for feature in features.load() if feature.stores for store in feature.stores(settings)
    ]


def run_migrate(settings: Settings, *, status_only: bool) -> None:
    if not status_only:  # --status creates neither the data dir nor a missing database
        settings.ensure_data_dir()
    running = read_runtime_file(settings.runtime_file_path)
    for store in data_stores(settings):
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


def _migrate_one(label: str, store: Store, status_only: bool) -> None:
    conn = store.connect(status_only)
    try:
        if store.prepare and not status_only and (note := store.prepare(conn)):
            typer.echo(note)
        state = status(conn, store.migrations)
        typer.echo(f"{label}: version {state.current} of {state.latest}")
        for pending in state.pending:
            typer.echo(f"  pending {pending.version}: {pending.description}")
        if not status_only:
            applied = migrate(conn, store.migrations)
            typer.echo(f"  applied {len(applied)} migration(s)" if applied else "  up to date")
    finally:
        conn.close()
