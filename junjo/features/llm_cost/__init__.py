"""LLM token prices: the cost of a call from its model and token counts, from LiteLLM's
bundled price map read as a file (LiteLLM itself is not imported: it costs seconds and
hundreds of MB). Used by the playground, and by the trace view for LLM spans and traces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from junjo.features.llm_cost.prices import Price as Price
    from junjo.features.llm_cost.prices import call_cost as call_cost
    from junjo.features.llm_cost.prices import price_of as price_of
    from junjo.features.llm_cost.prices import span_cost as span_cost
    from junjo.features.llm_cost.prices import trace_cost as trace_cost

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.llm_cost.http import routes

    return routes


FEATURE = Feature("llm_cost", routes=_routes)
