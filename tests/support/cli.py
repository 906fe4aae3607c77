"""`junjo` commands run in-process through Typer's CliRunner: the same command objects the
`junjo` script runs, without starting an interpreter for each (~0.4 s apiece).

What only a real process shows (the import cost of --help, the plain ``serve`` fast path
in ``junjo.cli.main``, signals, exit codes as a shell sees them) is tested with
``tests.support.server.junjo_command`` instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from junjo.cli import app
from tests.support.server import developer_settings


@dataclass(frozen=True)
class CliResult:
    """What a shell sees of a command (the fields of ``subprocess.CompletedProcess``)."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(
    data_dir: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    umask: int | None = None,
) -> CliResult:
    """``junjo ARGS --data-dir DATA_DIR`` with ``stdin`` as its input; the developer's JUNJO_*
    settings are hidden from it, ``env`` added. ``umask`` (e.g. 0o022, a common default)
    applies while it runs. An unexpected exception is raised here, where a real process
    would print a traceback."""
    return invoke(*args, "--data-dir", str(data_dir), stdin=stdin, env=env, umask=umask)


def invoke(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    umask: int | None = None,
) -> CliResult:
    """``junjo ARGS``, as ``run_cli`` runs it, for commands that take no --data-dir."""
    hidden: dict[str, str | None] = dict.fromkeys(developer_settings())
    # A wide terminal, so table cells are not wrapped.
    environment = hidden | {"COLUMNS": "200"} | (env or {})
    with _umask(umask):
        result = CliRunner().invoke(app, list(args), input=stdin, env=environment)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


@contextlib.contextmanager
def _umask(mask: int | None) -> Iterator[None]:
    if mask is None:
        yield
        return
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)
