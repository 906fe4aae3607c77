"""The models a provider offers, asked of its API and kept 15 minutes (Junjo AI Studio's
``GET /llm/providers/{provider}/models``): OpenAI ids starting gpt-, o1, o3, o4; Anthropic's
models; Gemini's that can generateContent; every model of an OpenAI-compatible server.
``supports_reasoning`` and ``max_tokens`` come from the bundled price map."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from junjo.features.llm_cost import price_of
from junjo.kernel.errors import Unreachable, UpstreamTimeout

from .providers import Provider

if TYPE_CHECKING:
    import httpx

CACHE_SECONDS = 15 * 60
LIST_TIMEOUT_S = 15.0
_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4")


class ModelLists:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def models(self, provider: Provider, *, refresh: bool = False) -> list[dict[str, Any]]:
        lock = self._locks.setdefault(provider.name, asyncio.Lock())
        async with lock:  # one fetch per provider at a time; the others take its answer
            cached = self._cache.get(provider.name)
            if cached and not refresh and self._clock() - cached[0] < CACHE_SECONDS:
                return cached[1]
            found = await fetch_models(provider)
            self._cache[provider.name] = (self._clock(), found)
            return found


async def fetch_models(provider: Provider) -> list[dict[str, Any]]:
    import httpx  # here: with rich and pygments it costs an idle server 5 MiB

    try:
        async with httpx.AsyncClient(timeout=LIST_TIMEOUT_S) as client:
            ids = await _LISTERS[provider.name](client, provider)
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"{provider.label} did not list its models in time") from exc
    except httpx.HTTPStatusError as exc:
        text = exc.response.text[:300].replace(provider.api_key or "\0", "[key]")
        raise Unreachable(
            f"Failed to fetch models from {provider.label} ({exc.response.status_code}): {text}"
        ) from None
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise Unreachable(f"Failed to fetch models from {provider.label}: {exc}") from None
    return [_model(provider.name, model_id, name) for model_id, name in sorted(ids)]


def _model(provider: str, model_id: str, display_name: str) -> dict[str, Any]:
    price = price_of(f"{provider}/{model_id}")
    return {
        "id": f"{provider}/{model_id}",
        "provider": provider,
        "display_name": display_name or model_id,
        "supports_reasoning": bool(price and price.supports_reasoning),
        "supports_vision": False,
        "max_tokens": price.max_output_tokens if price else None,
    }


async def _openai(client: httpx.AsyncClient, provider: Provider) -> list[tuple[str, str]]:
    data = await _get(client, "https://api.openai.com/v1/models", bearer=provider.api_key)
    return [(m["id"], m["id"]) for m in data["data"] if m["id"].startswith(_OPENAI_PREFIXES)]


async def _anthropic(client: httpx.AsyncClient, provider: Provider) -> list[tuple[str, str]]:
    headers = {"x-api-key": provider.api_key, "anthropic-version": "2023-06-01"}
    data = await _get(client, "https://api.anthropic.com/v1/models?limit=1000", headers=headers)
    return [(m["id"], m.get("display_name") or m["id"]) for m in data["data"]
            if m.get("type", "model") == "model"]  # fmt: skip


async def _gemini(client: httpx.AsyncClient, provider: Provider) -> list[tuple[str, str]]:
    url = "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
    data = await _get(client, url, headers={"x-goog-api-key": provider.api_key})
    found = []
    for model in data.get("models", []):
        name = str(model.get("name", "")).removeprefix("models/")
        if name.startswith("gemini-") and "generateContent" in model.get(
            "supportedGenerationMethods", []
        ):
            found.append((name, model.get("displayName") or name))
    return found


async def _compatible(client: httpx.AsyncClient, provider: Provider) -> list[tuple[str, str]]:
    data = await _get(client, f"{provider.base_url}/models", bearer=provider.api_key)
    return [(m["id"], m["id"]) for m in data["data"]]


async def _get(
    client: httpx.AsyncClient,
    url: str,
    *,
    bearer: str = "",
    headers: dict[str, str] | None = None,
) -> Any:
    headers = dict(headers or {})
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    response = await client.get(url, headers=headers)
    response.raise_for_status()
    return response.json()


_LISTERS = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "openai_compatible": _compatible,
}
