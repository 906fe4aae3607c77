"""Public facts about this server: liveness, the endpoints an SDK should use, the OpenAPI
document. (``/`` is the web UI: junjo.features.web.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.meta.http import routes

    return routes


FEATURE = Feature("meta", routes=_routes)
