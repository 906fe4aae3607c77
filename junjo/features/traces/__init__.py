"""Reading traces: search, a trace with its summary, service summaries, workflow runs;
Junjo AI Studio's observability routes, ours under ``/api/v1/``, and ``junjo traces`` /
``junjo services``, which ask a server, or this data dir's files through the same app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.traces.http import routes

    return routes


def _commands(cli: typer.Typer) -> None:
    from junjo.features.traces.cli import app, services

    cli.add_typer(app, name="traces", help="Inspect traces: list, show, tail.")
    cli.command("services")(services)


FEATURE = Feature("traces", routes=_routes, commands=_commands)
