"""The playground as the server holds it: the providers read at start, the model lists'
cache, and a run from request to recorded span. The HTTP adapter only parses and answers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from junjo.config import Settings
from junjo.kernel.errors import BadRequest, UpstreamTimeout
from junjo.kernel.principal import Principal

from . import engine, recording
from .models import ModelLists
from .providers import Provider, configured, load_providers
from .requests import GenerateRequest


class Stopped(BadRequest):
    """The client stopped reading a streamed run."""


class Playground:
    def __init__(
        self,
        settings: Settings,
        accept: recording.Accept | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.providers: dict[str, Provider] = load_providers(settings, env)
        self.timeout_s = float(settings.llm_timeout_seconds)
        self.model_lists = ModelLists()
        self._accept = accept
        self._warm_lock = threading.Lock()
        self._warming = False

    def public_providers(self) -> list[dict[str, object]]:
        return [provider.public() for provider in self.providers.values()]

    def warm_up(self) -> None:
        """Import LiteLLM in the background (once): the playground page asks for the
        providers when it opens, so its first run does not wait seconds for the import.
        An idle server, and every other page, never load it."""
        with self._warm_lock:
            if self._warming or not any(p.configured for p in self.providers.values()):
                return
            self._warming = True
        threading.Thread(target=self._import, name="litellm-import", daemon=True).start()

    @staticmethod
    def _import() -> None:
        with contextlib.suppress(Exception):  # a broken install is reported by the first run
            engine.load_litellm()

    async def models(self, provider: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self.model_lists.models(configured(self.providers, provider), refresh=refresh)

    async def generate(self, actor: Principal, request: GenerateRequest) -> dict[str, Any]:
        """The Studio-shaped response plus ``run``; raises the provider's error (502/504)
        after the failed run is recorded too."""
        provider = configured(self.providers, request.provider)
        outcome = await engine.generate(request, provider, self.timeout_s)
        run = await self._record(outcome, actor)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return {**outcome.response, "run": run}

    async def stream(
        self, actor: Principal, request: GenerateRequest
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Opens the call (a provider error before any output raises, for a plain 502/504),
        then yields ``(event, data)``: ``delta`` pieces, and ``done`` (the whole response
        with ``run``) or ``error``."""
        provider = configured(self.providers, request.provider)
        outcome, chunks = await engine.open_stream(request, provider, self.timeout_s)
        if chunks is None:
            await self._record(outcome, actor)
            assert outcome.error is not None
            raise outcome.error
        return self._events(actor, outcome, chunks, provider)

    async def _events(
        self,
        actor: Principal,
        outcome: engine.Outcome,
        chunks: AsyncIterator[Any],
        provider: Provider,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        finished = False
        try:
            async for piece in engine.stream_deltas(outcome, chunks, provider, self.timeout_s):
                yield "delta", piece
            finished = True
        finally:
            if not finished:  # the browser went away (Stop, a closed tab): still recorded
                outcome.ended_ns = time.time_ns()
                outcome.error = Stopped("stopped before the end of the answer")
                with contextlib.suppress(Exception):  # being torn down: no await here
                    recording.record(outcome, self._accept, actor.label)
        run = await self._record(outcome, actor)
        if outcome.error is not None:
            status = 504 if isinstance(outcome.error, UpstreamTimeout) else 502
            yield "error", {"status": status, "detail": str(outcome.error), "run": run}
        else:
            yield "done", {**(outcome.response or {}), "run": run}

    async def _record(self, outcome: engine.Outcome, actor: Principal) -> dict[str, Any]:
        run = await run_in_threadpool(recording.record, outcome, self._accept, actor.label)
        return {
            **run,
            "latency_ms": round(outcome.latency_ms, 1),
            "cost": engine.run_cost(outcome.request, outcome.response),
        }
