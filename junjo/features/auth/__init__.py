"""Signing in: first-user setup, sessions (signed cookies), sign-in throttling, and the
local operator's token; they tell the app's door who is calling."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from junjo.kernel.state import AppState


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.auth.http import routes

    return routes


def _lifespan(state: AppState) -> AbstractContextManager[None]:
    from junjo.features.auth.identity import lifespan

    return lifespan(state)


FEATURE = Feature("auth", routes=_routes, lifespan=_lifespan)
