"""``junjo migrate``: apply (or with --status, list) pending schema migrations."""

from __future__ import annotations

import typer

from junjo.config import Settings
from junjo.db.control import CONTROL_MIGRATIONS, connect
from junjo.db.migrations import migrate, status


def run_migrate(settings: Settings, *, status_only: bool) -> None:
    settings.ensure_data_dir()
    db = connect(settings.control_db_path)
    try:
        state = status(db, CONTROL_MIGRATIONS, "control")
        typer.echo(f"control database: version {state.current} of {state.latest}")
        for pending in state.pending:
            typer.echo(f"  pending {pending.version}: {pending.description}")
        if not status_only:
            applied = migrate(db, CONTROL_MIGRATIONS, "control")
            typer.echo(f"  applied {len(applied)} migration(s)" if applied else "  up to date")
    finally:
        db.conn.close()
