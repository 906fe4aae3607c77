"""Small helpers every HTTP adapter uses: JSON bodies in, JSON out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

Result = TypeVar("Result")

MAX_JSON_BODY = 1 << 20


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400/413/422 with a clear detail otherwise."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise HTTPException(413, "Request body too large")
    try:
        value = json.loads(body or b"null")
        # JSON may spell a lone UTF-16 surrogate ("\ud800"), which no UTF-8 store takes.
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:  # before ValueError, its base class
        raise HTTPException(400, "Malformed JSON body: a string holds a lone surrogate") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"Malformed JSON body: {exc}") from exc
    if not isinstance(value, dict):
        raise HTTPException(422, "Request body must be a JSON object")
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def control_call(request: Request, service: Callable[..., Result], *args: Any) -> Result:
    """Run ``service(db, *args)`` on a worker thread with that thread's own connection.

    The only way handlers touch the control database: a SQLite connection must never
    carry two requests' transactions, and its calls must not block the event loop.
    """
    control = request.app.state.control
    return await run_in_threadpool(lambda: service(control.db, *args))
