"""Small helpers every HTTP adapter uses: JSON bodies in, JSON out."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

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
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"Malformed JSON body: {exc}") from exc
    if not isinstance(value, dict):
        raise HTTPException(422, "Request body must be a JSON object")
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
