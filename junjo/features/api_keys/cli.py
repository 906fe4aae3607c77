"""``junjo keys ...``: manage API keys from a terminal or CI, on the local data dir."""

from __future__ import annotations

from typing import Annotated

import typer

from junjo.cli_support import (
    ConfigFile,
    DataDir,
    FittedTable,
    control_db,
    emit_json,
    friendly_errors,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("create")
def create(
    name: str,
    scope: Annotated[
        str, typer.Option(help="ingest (for SDK exporters) or read (for the CLI and scripts).")
    ] = "ingest",
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create a key and print it. This is the only time the full key is shown."""
    from junjo.features.api_keys import service
    from junjo.kernel.principal import Principal

    db = control_db(data_dir, config)
    with friendly_errors():
        created = service.create_key(db, Principal.operator(), name, scope)
    if json_output:
        emit_json(created.public())
        return
    typer.echo(
        f"Created {created.api_key.scope} key {created.api_key.name!r} ({created.api_key.id})"
    )
    typer.echo(created.key)
    typer.echo("Store it now: it cannot be shown again.", err=True)


@app.command("list")
def list_(json_output: AsJson = False, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List keys (prefix only; the full key is never shown again)."""
    from junjo.features.api_keys import service
    from junjo.kernel.principal import Principal

    keys = service.list_keys(control_db(data_dir, config), Principal.operator())
    if json_output:
        emit_json([key.public() for key in keys])
        return
    from rich.console import Console

    rows = [
        (key.id, key.name, key.prefix + "…", key.scope, key.created_at, key.last_used_at or "-")
        for key in keys
    ]
    # The id is shown whole at any width: `junjo keys delete` takes it.
    Console().print(
        FittedTable(
            ("id", "name", "prefix", "scope", "created", "last used"),
            rows,
            ids=("id",),
            wraps=("name",),
            drop=("created", "prefix", "last used"),
        )
    )


@app.command("delete")
def delete(key_id: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Delete a key; ingestion refuses it from the next request on."""
    from junjo.features.api_keys import service
    from junjo.kernel.principal import Principal

    db = control_db(data_dir, config)
    with friendly_errors():
        service.delete_key(db, Principal.operator(), key_id)
    typer.echo(f"Deleted key {key_id}")
