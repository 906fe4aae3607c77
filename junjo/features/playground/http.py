"""HTTP adapter of the playground: Junjo AI Studio's ``/llm/...`` routes (same paths and
shapes; provider errors are a 502 and timeouts a 504 here, never a 500), a streamed
variant for our UI (Server-Sent Events), and which providers are configured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, STRING, Content, Schema, endpoint, principal_of
from junjo.server.http_utils import json_object

from .requests import MAX_STOP, REASONING_EFFORTS, ROLES, parse_request
from .service import Playground

NULLABLE_INT: Schema = {"type": ["integer", "null"]}
MESSAGE: Schema = {
    "type": "object",
    "properties": {"role": {"enum": list(ROLES)}, "content": {"type": ["string", "null"]}},
    "required": ["role"],
}
GENERATE_BODY: Schema = {
    "type": "object",
    "properties": {
        "model": STRING | {"description": 'provider/name, e.g. "openai/gpt-4o-mini"'},
        "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {"type": "array", "items": STRING, "maxItems": MAX_STOP},
        "reasoning_effort": {"enum": list(REASONING_EFFORTS)},
        "json_mode": {"type": "boolean"},
        "json_schema": {"type": "object"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "source": {
            "type": "object",
            "description": "the span this run replays; recorded on the run's span",
            "properties": {"trace_id": STRING, "span_id": STRING, "comparison": STRING},
        },
    },
    "required": ["model", "messages"],
}
USAGE: Schema = {
    "type": ["object", "null"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}
RUN: Schema = {
    "type": "object",
    "description": "this run, recorded as a trace of service junjo-playground",
    "properties": {
        "trace_id": STRING,
        "span_id": STRING,
        "service": STRING,
        "recorded": {"type": "boolean"},
        "latency_ms": {"type": "number"},
        "cost": {"type": ["object", "null"], "description": "USD from the bundled price map"},
    },
}
COMPLETION: Schema = {
    "type": "object",
    "properties": {
        "id": STRING,
        "object": STRING,
        "created": {"type": "integer"},
        "model": STRING,
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": USAGE,
        "reasoning_content": {"type": ["string", "null"]},
        "run": RUN,
    },
}
MODELS: Schema = {
    "type": "object",
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": STRING,
                    "provider": STRING,
                    "display_name": STRING,
                    "supports_reasoning": {"type": "boolean"},
                    "supports_vision": {"type": "boolean"},
                    "max_tokens": NULLABLE_INT,
                },
            },
        }
    },
}
PROVIDER_PATH = {"provider": {"type": "string"}}
GENERATE_ERRORS = {400: ERROR_SCHEMA, 422: ERROR_SCHEMA, 502: ERROR_SCHEMA, 504: ERROR_SCHEMA}
MODEL_ERRORS = {400: ERROR_SCHEMA, 502: ERROR_SCHEMA, 504: ERROR_SCHEMA}


def _playground(request: Request) -> Playground:
    return state_of(request).get(Playground)


@endpoint(
    "Call a model (LiteLLM) with a prompt; the run is recorded as a junjo-playground trace",
    auth="session",
    tag="llm playground",
    body=GENERATE_BODY,
    responses={200: COMPLETION, **GENERATE_ERRORS},
)
async def generate(request: Request) -> JSONResponse:
    actor = principal_of(request)
    parsed = parse_request(await json_object(request))
    return JSONResponse(await _playground(request).generate(actor, parsed))


@endpoint(
    "The same call, streamed as Server-Sent Events: delta {content|reasoning}, then done"
    " (the whole response, as POST /llm/generate answers) or error {status, detail}",
    auth="session",
    tag="llm playground",
    body=GENERATE_BODY,
    responses={200: Content({"text/event-stream": {"type": "string"}}), **GENERATE_ERRORS},
)
async def generate_stream(request: Request) -> Response:
    actor = principal_of(request)
    parsed = parse_request(await json_object(request))
    events = await _playground(request).stream(actor, parsed)
    return StreamingResponse(
        _sse(events),
        media_type="text/event-stream",
        # No proxy buffering (nginx), no caching: each piece is shown as it comes.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(events: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@endpoint(
    "Models a provider offers (kept 15 minutes)",
    auth="session",
    tag="llm playground",
    path=PROVIDER_PATH,
    responses={200: MODELS, **MODEL_ERRORS},
)
async def models(request: Request) -> JSONResponse:
    found = await _playground(request).models(request.path_params["provider"])
    return JSONResponse({"models": found})


@endpoint(
    "Models a provider offers, asked again now",
    auth="session",
    tag="llm playground",
    path=PROVIDER_PATH,
    responses={200: MODELS, **MODEL_ERRORS},
)
async def refresh_models(request: Request) -> JSONResponse:
    found = await _playground(request).models(request.path_params["provider"], refresh=True)
    return JSONResponse({"models": found})


@endpoint(
    "LLM providers: which are configured, from where, and how to configure the others"
    " (never a key). Starts loading LiteLLM in the background, for the first run",
    auth="session",
    tag="llm playground",
    responses={200: {"type": "object", "properties": {"providers": {"type": "array"}}}},
)
async def providers(request: Request) -> JSONResponse:
    playground = _playground(request)
    playground.warm_up()  # the playground page opens with this call
    return JSONResponse({"providers": playground.public_providers()})


routes = [
    Route("/llm/generate", generate, methods=["POST"]),
    Route("/api/v1/llm/generate/stream", generate_stream, methods=["POST"]),
    Route("/llm/providers/{provider}/models", models, methods=["GET"]),
    Route("/llm/providers/{provider}/models/refresh", refresh_models, methods=["POST"]),
    Route("/api/v1/llm/providers", providers, methods=["GET"]),
]
