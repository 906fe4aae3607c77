"""Ingestion: the OTLP doors (gRPC and HTTP), admission and backpressure, the durable WAL
append, the indexer thread that feeds the span store, and the quarantine (``junjo
quarantine``). See README.md beside this file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute

    from junjo.config import Settings
    from junjo.features.ingest.service import IngestService as IngestService
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.ingest.http import routes

    return routes


def _commands(cli: typer.Typer) -> None:
    from junjo.features.ingest.cli import app

    cli.add_typer(app, name="quarantine", help="What the indexer set aside: list, replay.")


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    from junjo.features.api_keys import KeyVerifier
    from junjo.features.ingest.runtime import IngestRuntime
    from junjo.features.spans import SpanStore

    runtime = IngestRuntime(
        state.settings,
        state.get(SpanStore),
        state.get(KeyVerifier),
        grpc_max_connections=state.launch.grpc_max_connections,
    )
    state.provide(runtime)
    state.provide(runtime.service)
    runtime.start()
    state.grpc_port = runtime.grpc_port
    try:
        yield
    finally:
        runtime.stop()


def _check(settings: Settings) -> None:
    from junjo.features.ingest.runtime import checked_converter, checked_masker

    checked_masker(settings)
    checked_converter(settings)


FEATURE = Feature("ingest", routes=_routes, commands=_commands, lifespan=_lifespan, check=_check)
