"""What every CLI command shares: the --data-dir/--config options, settings, the control
database, output, and errors as exit codes (the table in ``junjo.kernel.errors``):
0 ok, 1 not found or refused, 2 bad arguments, 3 cannot reach the server or auth failed."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

if TYPE_CHECKING:
    import sqlite_utils

    from junjo.config import Settings

from junjo.kernel.errors import EXIT_ERROR, EXIT_USAGE

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [env JUNJO_DATA_DIR].", show_default=False),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="junjo.toml to read [env JUNJO_CONFIG].", show_default=False),
]


def load(config: Path | None, **flags: object) -> Settings:
    from junjo.config import ConfigError, load_settings

    try:
        return load_settings(flags=flags, config_file=config)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def exit_code(exc: BaseException) -> int | None:
    """The exit code for an error the user should see as one line, else None."""
    from junjo.config import ConfigError
    from junjo.kernel.errors import JunjoError, outcome
    from junjo.kernel.migrations import SchemaTooNew

    if isinstance(exc, JunjoError):
        return outcome(exc).exit
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if isinstance(exc, SchemaTooNew | OSError):
        return EXIT_ERROR
    return None


class friendly_errors:
    """Turn domain errors into one line on stderr and an exit code (no traceback)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> Literal[False]:
        code = None if exc is None else exit_code(exc)
        if code is not None:
            fail(str(exc), code)
        return False


def control_db(data_dir: Path | None, config: Path | None) -> sqlite_utils.Database:
    from junjo.kernel.control_db import open_control_db

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        settings.ensure_data_dir()
        return open_control_db(settings.control_db_path)
    raise AssertionError("friendly_errors exits on every error")  # for the type checker


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def read_password(from_stdin: bool) -> str:
    """The password from stdin's first line, or an interactive hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to prompt for a password: use --password-stdin", EXIT_USAGE)
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


Cell = Any  # a str, or a rich Text
# A column that may wrap is kept at least this wide (or as wide as its widest value).
_NARROWEST_WRAP = 10


@dataclass(frozen=True)
class FittedTable:
    """A table that fits the terminal without cutting what a user must type: ``ids`` columns
    are never cut nor dropped, ``wraps`` columns (names) wrap, the others stay on one line
    and, when the terminal is too narrow for them all, are dropped in ``drop`` order."""

    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    ids: tuple[str, ...] = ()
    wraps: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def __rich_console__(self, console: Any, options: Any) -> Any:
        shown = list(self.headers)
        for dropped in (None, *self.drop):
            if dropped is not None:
                shown.remove(dropped)
            if self._narrowest(shown) <= options.max_width:
                break
        yield self._table(shown)

    def _narrowest(self, shown: list[str]) -> int:
        """The width the table needs with these columns: each one-line column as wide as
        its widest cell, each wrapping one ``_NARROWEST_WRAP``; 3 a column for padding and
        rule, and the last rule."""
        total = 1
        for header in shown:
            widest = max(_width(cell) for cell in (header, *self._column(header)))
            total += 3 + (min(widest, _NARROWEST_WRAP) if header in self.wraps else widest)
        return total

    def _column(self, header: str) -> list[Cell]:
        at = self.headers.index(header)
        return [row[at] for row in self.rows]

    def _table(self, shown: list[str]) -> Any:
        from rich.table import Table

        table = Table()
        for header in shown:
            if header in self.wraps:
                table.add_column(header, overflow="fold", min_width=_NARROWEST_WRAP)
            else:
                table.add_column(header, no_wrap=True)
        at = [self.headers.index(header) for header in shown]
        for row in self.rows:
            table.add_row(*(row[i] for i in at))
        return table


def _width(cell: Cell) -> int:
    from rich.cells import cell_len

    return cell.cell_len if hasattr(cell, "cell_len") else cell_len(str(cell))
