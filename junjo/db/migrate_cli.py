"""``junjo migrate``: apply (or with --status, list) pending schema migrations of both
databases: the SQLite control plane and the DuckDB span store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import typer

from junjo.config import Settings
from junjo.features.spans import schema as span_schema
from junjo.kernel.control_db import CONTROL_MIGRATIONS, connect
from junjo.kernel.migrations import migrate, status
from junjo.kernel.runtime_file import read_runtime_file


def run_migrate(settings: Settings, *, status_only: bool) -> None:
    if not status_only:  # --status creates neither the data dir nor a missing database
        settings.ensure_data_dir()
    _control(settings, status_only)
    _spans(settings, status_only)


def _not_created(label: str, migrations: Sequence[Any]) -> None:
    typer.echo(f"{label}: not created yet (version 0 of {migrations[-1].version})")
    for pending in migrations:
        typer.echo(f"  pending {pending.version}: {pending.description}")


def _control(settings: Settings, status_only: bool) -> None:
    if status_only and not settings.control_db_path.exists():
        _not_created("control database (junjo.db)", CONTROL_MIGRATIONS)
        return
    db = connect(settings.control_db_path)
    try:
        state = status(db, CONTROL_MIGRATIONS, "control")
        typer.echo(f"control database (junjo.db): version {state.current} of {state.latest}")
        for pending in state.pending:
            typer.echo(f"  pending {pending.version}: {pending.description}")
        if not status_only:
            applied = migrate(db, CONTROL_MIGRATIONS, "control")
            typer.echo(f"  applied {len(applied)} migration(s)" if applied else "  up to date")
    finally:
        db.conn.close()


def _spans(settings: Settings, status_only: bool) -> None:
    latest_version = span_schema.latest_version()
    running = read_runtime_file(settings.runtime_file_path)
    if running is not None:
        # DuckDB allows one writer; the server migrated the span store when it started.
        typer.echo(f"span store (spans.duckdb): in use by the running server (pid {running.pid})")
        return
    if status_only and not settings.spans_db_path.exists():
        _not_created("span store (spans.duckdb)", span_schema.MIGRATIONS)
        return
    conn = duckdb.connect(str(settings.spans_db_path), read_only=status_only)
    try:
        current = span_schema.check_version(conn)
        typer.echo(f"span store (spans.duckdb): version {current} of {latest_version}")
        for pending in span_schema.pending(conn):
            typer.echo(f"  pending {pending.version}: {pending.description}")
        if not status_only:
            applied = span_schema.migrate(conn)
            typer.echo(f"  applied {len(applied)} migration(s)" if applied else "  up to date")
    finally:
        conn.close()
