"""Keeping a data dir: retention (a job in the server, ``junjo prune``), backups
(``junjo backup``, ``junjo restore``). Uses the span store; the file copies are the
kernel's (``junjo.kernel.backup``), shared with the backup taken before an upgrade."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute

    from junjo.features.maintenance.retention import RetentionJob as RetentionJob
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.maintenance.http import routes

    return routes


def _commands(cli: typer.Typer) -> None:
    from junjo.features.maintenance.cli import register

    register(cli)


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    if state.launch.read_only:
        yield
        return
    from junjo.features.maintenance.retention import Policy, RetentionJob
    from junjo.features.spans import SpanStore

    settings = state.settings
    job = RetentionJob(
        state.get(SpanStore), Policy.from_settings(settings), settings.retention_check_seconds
    )
    state.provide(job)
    job.start()
    try:
        yield
    finally:
        job.stop()


FEATURE = Feature("maintenance", routes=_routes, commands=_commands, lifespan=_lifespan)
