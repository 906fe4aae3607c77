"""The bundled web UI: the files in its ``static/`` folder and the app shell for every
browser path no other feature routes (history routing: deep links work on reload)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.web.http import routes

    return routes


# Last in FEATURES: its catch-all route must come after every other feature's routes.
FEATURE = Feature("web", routes=_routes)
