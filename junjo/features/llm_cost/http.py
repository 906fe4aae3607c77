"""``POST /api/v1/llm/costs``: the prices of calls, for a page that shows LLM spans (the
playground's original call, the trace view) without the price map in the browser."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.kernel.errors import InvalidInput
from junjo.server.endpoint import ERROR_SCHEMA, STRING, endpoint
from junjo.server.http_utils import json_object

from .prices import call_cost

MAX_CALLS = 10_000
TOKENS = {"type": ["integer", "null"], "minimum": 0}
COST = {
    "type": ["object", "null"],
    "properties": {
        "usd": {"type": "number"},
        "input_usd": {"type": "number"},
        "output_usd": {"type": "number"},
        "priced_as": STRING,
    },
}


@endpoint(
    "Cost in USD of LLM calls (model and token counts), from LiteLLM's bundled price map;"
    " null for a model the map does not know",
    auth="session_or_read_key",
    tag="llm playground",
    body={
        "type": "object",
        "properties": {
            "calls": {
                "type": "array",
                "maxItems": MAX_CALLS,
                "items": {
                    "type": "object",
                    "properties": {
                        "model": STRING,
                        "prompt_tokens": TOKENS,
                        "completion_tokens": TOKENS,
                        "reasoning_tokens": TOKENS,
                    },
                },
            }
        },
        "required": ["calls"],
    },
    responses={
        200: {
            "type": "object",
            "properties": {
                "costs": {"type": "array", "items": COST},
                "total_usd": {"type": ["number", "null"]},
            },
        },
        422: ERROR_SCHEMA,
    },
)
async def costs(request: Request) -> JSONResponse:
    calls = (await json_object(request)).get("calls")
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise InvalidInput(f"calls: a list of at most {MAX_CALLS} {{model, prompt_tokens, ...}}")
    found = [_cost(index, call) for index, call in enumerate(calls)]
    priced = [cost["usd"] for cost in found if cost]
    return JSONResponse({"costs": found, "total_usd": sum(priced) if priced else None})


def _cost(index: int, call: Any) -> dict[str, Any] | None:
    if not isinstance(call, dict):
        raise InvalidInput(f"calls[{index}]: an object")
    counts = []
    for key in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        value = call.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidInput(f"calls[{index}].{key}: a whole number, 0 or more")
        counts.append(value)
    model = call.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidInput(f"calls[{index}].model: a string")
    return call_cost(model, counts[0], counts[1], counts[2])


routes = [Route("/api/v1/llm/costs", costs, methods=["POST"])]
