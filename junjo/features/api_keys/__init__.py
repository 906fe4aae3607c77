"""API keys: ingest keys for SDKs, read keys for scripts and CI; ``junjo keys``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute

    from junjo.features.api_keys.service import KeyVerifier as KeyVerifier
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.api_keys.http import routes

    return routes


def _commands(cli: typer.Typer) -> None:
    from junjo.features.api_keys.cli import app

    cli.add_typer(app, name="keys", help="Manage API keys.")


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    from junjo.features.api_keys.http import key_principal
    from junjo.features.api_keys.service import KeyVerifier

    verifier = KeyVerifier(state.settings.control_db_path)
    state.provide(verifier)
    state.identify_by(key_principal)
    try:
        yield
    finally:
        verifier.close()


FEATURE = Feature("api_keys", routes=_routes, commands=_commands, lifespan=_lifespan)
