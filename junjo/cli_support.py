"""What the feature CLIs share: settings from flags, the control database, output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from junjo.cli import ConfigFile, DataDir, fail, friendly_errors, load

__all__ = [
    "ConfigFile",
    "DataDir",
    "control_db",
    "emit_json",
    "fail",
    "friendly_errors",
    "read_password",
]


def control_db(data_dir: Path | None, config: Path | None):
    from junjo.db.control import open_control_db

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        return open_control_db(settings.control_db_path)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def read_password(from_stdin: bool) -> str:
    """The password from stdin's first line, or an interactive hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to prompt for a password: use --password-stdin", code=2)
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
