"""The prompt playground: replay an LLM call from a trace with another prompt, model or
parameters, through LiteLLM (imported on first use only), and compare; each run is traced
into this server under the service ``junjo-playground``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
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
    from junjo.features.playground.service import Playground

    state.provide(Playground(state.settings, _ingest_accept(state)))
    yield


def _ingest_accept(state: AppState) -> Callable[[bytes], None] | None:
    """Runs are written the way an OTLP export is (admission, backpressure, durable WAL
    append); in a server without ingestion they are simply not recorded."""
    try:
        from junjo.features.ingest import IngestService

        ingest = state.get(IngestService)
    except (ImportError, LookupError):
        return None

    def accept(payload: bytes) -> None:
        with ingest.admit(len(payload)):
            ingest.accept(payload, "protobuf")

    return accept


FEATURE = Feature("playground", routes=_routes, lifespan=_lifespan)
