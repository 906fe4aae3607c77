"""The prompt playground: replay an LLM call from a trace with another prompt, model or
parameters, through LiteLLM (imported on first use only), and compare; each run is traced
into this server under the service ``junjo-playground``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from junjo.features.playground.providers import usable_providers as usable_providers
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.playground.http import routes

    return routes


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    from junjo.features.ingest import IngestService
    from junjo.features.playground.service import Playground

    ingest = state.get(IngestService)

    def accept(payload: bytes) -> None:
        # The WAL append an OTLP export gets (admission, backpressure, durable before return).
        with ingest.admit(len(payload)):
            ingest.accept(payload, "protobuf")

    state.provide(Playground(state.settings, accept))
    yield


FEATURE = Feature("playground", routes=_routes, lifespan=_lifespan)
