"""``junjo user ...``: manage users from a terminal or CI, on the local data dir."""

from __future__ import annotations

from typing import Annotated

import typer

from junjo.cli_support import (
    ConfigFile,
    DataDir,
    control_db,
    emit_json,
    friendly_errors,
    read_password,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("add")
def add(
    email: str,
    password_stdin: PasswordStdin = False,
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create a user (the first user too: no setup token needed here)."""
    from junjo.features.users import service
    from junjo.kernel.principal import Principal

    db = control_db(data_dir, config)
    password = read_password(password_stdin)
    with friendly_errors():
        user = service.create_user(db, Principal.operator(), email, password)
    if json_output:
        emit_json(user.public())
    else:
        typer.echo(f"Created user {user.email} ({user.id})")


@app.command("list")
def list_(json_output: AsJson = False, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List users."""
    from junjo.features.users import service
    from junjo.kernel.principal import Principal

    users = service.list_users(control_db(data_dir, config), Principal.operator())
    if json_output:
        emit_json([user.public() for user in users])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "email", "active", "created")
    for user in users:
        table.add_row(user.id, user.email, "yes" if user.is_active else "no", user.created_at)
    Console().print(table)


@app.command("delete")
def delete(
    user: Annotated[str, typer.Argument(help="Email or id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Delete a user (not the last one). Their sessions end at once."""
    from junjo.features.users import service
    from junjo.kernel.principal import Principal

    db = control_db(data_dir, config)
    with friendly_errors():
        found = service.find_user(db, Principal.operator(), user)
        if not yes:
            typer.confirm(f"Delete user {found.email}?", abort=True)
        service.delete_user(db, Principal.operator(), found.id)
    typer.echo(f"Deleted user {found.email}")


@app.command("passwd")
def passwd(
    user: Annotated[str, typer.Argument(help="Email or id.")],
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Set a user's password. Their existing sessions end at once."""
    from junjo.features.users import service
    from junjo.kernel.principal import Principal

    db = control_db(data_dir, config)
    with friendly_errors():
        found = service.find_user(db, Principal.operator(), user)
        password = read_password(password_stdin)
        service.change_password(db, Principal.operator(), found.id, password)
    typer.echo(f"Password changed for {found.email}")
