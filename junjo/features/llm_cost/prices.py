"""Prices per token from LiteLLM's bundled ``model_prices_and_context_window_backup.json``.

The file (3.4 MB of JSON, about 4,900 models) is found through the import system without
running LiteLLM's ``__init__``, read once on first use, and kept as a small table of the
few numbers needed here (about 10 MB while it is parsed, a fraction of that after).
Nothing is fetched from the network: the bundled copy is what ``pip install`` brought.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAP_FILE = "model_prices_and_context_window_backup.json"
# Our provider names → LiteLLM's key prefixes in the map.
_MAP_PREFIXES = {"openai": "", "anthropic": "", "gemini": "gemini/", "openai_compatible": ""}


@dataclass(frozen=True)
class Price:
    """One model's row of the map: USD per token (None when the map gives none)."""

    key: str  # the model's name in the map
    input_per_token: float | None
    output_per_token: float | None
    reasoning_per_token: float | None
    supports_reasoning: bool
    max_output_tokens: int | None


_lock = threading.Lock()


@functools.cache
def _table() -> dict[str, Price]:
    path = _map_path()
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return {
        name.lower(): _price(name, entry)
        for name, entry in raw.items()
        if isinstance(entry, dict) and name != "sample_spec"
    }


def _map_path() -> Path | None:
    """The bundled map's path; ``find_spec`` locates the package without importing it."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MAP_FILE
    return path if path.is_file() else None


def _price(name: str, entry: dict[str, Any]) -> Price:
    max_output = entry.get("max_output_tokens")
    return Price(
        key=name,
        input_per_token=_number(entry.get("input_cost_per_token")),
        output_per_token=_number(entry.get("output_cost_per_token")),
        reasoning_per_token=_number(entry.get("output_cost_per_reasoning_token")),
        supports_reasoning=entry.get("supports_reasoning") is True,
        max_output_tokens=max_output if isinstance(max_output, int) else None,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def price_of(model: str | None) -> Price | None:
    """The map's row for ``model``: ``gpt-4o``, ``openai/gpt-4o``, ``gemini/gemini-2.5-flash``
    or ``gemini-2.5-flash``; None when the map does not know it."""
    if not model:
        return None
    with _lock:  # the first call parses the file; the others wait for it
        table = _table()
    name = model.strip().lower()
    candidates = [name]
    if "/" in name:
        provider, _, bare = name.partition("/")
        candidates += [_MAP_PREFIXES.get(provider, "") + bare, bare]
    else:
        candidates.append(f"gemini/{name}")
    for candidate in candidates:
        found = table.get(candidate)
        if found and found.input_per_token is not None:
            return found
    return next((table[c] for c in candidates if c in table), None)


def call_cost(
    model: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    reasoning_tokens: int | None = None,
) -> dict[str, Any] | None:
    """``{"usd", "input_usd", "output_usd", "priced_as"}`` of one call, or None when the
    model or its prices are unknown or no tokens were counted. Reasoning tokens are part of
    the completion tokens (OpenAI's and LiteLLM's usage); a model with a reasoning price
    has them charged at it."""
    price = price_of(model)
    if price is None or price.input_per_token is None or price.output_per_token is None:
        return None
    if prompt_tokens is None and completion_tokens is None:
        return None
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    reasoning = min(reasoning_tokens or 0, completion) if price.reasoning_per_token else 0
    input_usd = prompt * price.input_per_token
    output_usd = (completion - reasoning) * price.output_per_token
    if reasoning and price.reasoning_per_token is not None:
        output_usd += reasoning * price.reasoning_per_token
    return {
        "usd": input_usd + output_usd,
        "input_usd": input_usd,
        "output_usd": output_usd,
        "priced_as": price.key,
    }


def span_cost(span: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cost of an LLM span from the columns every stored span has (the Studio span JSON
    of ``/api/v1/traces/{id}`` carries them): ``llm_model_name``, ``llm_prompt_tokens``,
    ``llm_completion_tokens``."""
    if not span.get("is_llm", True):
        return None
    return call_cost(
        span.get("llm_model_name"),
        span.get("llm_prompt_tokens"),
        span.get("llm_completion_tokens"),
    )


def trace_cost(spans: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"usd", "priced_spans", "unpriced_spans"}`` over a trace's LLM spans (``usd`` is
    None when none could be priced)."""
    total, priced, unpriced = 0.0, 0, 0
    for span in spans:
        if not span.get("is_llm"):
            continue
        cost = span_cost(span)
        if cost is None:
            unpriced += 1
        else:
            total += cost["usd"]
            priced += 1
    return {"usd": total if priced else None, "priced_spans": priced, "unpriced_spans": unpriced}
