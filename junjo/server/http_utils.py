"""Small helpers every HTTP adapter uses: request bodies (paced, bounded), JSON in and out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from junjo.kernel.errors import InvalidInput, Malformed, TimedOut, TooLarge
from junjo.kernel.state import state_of

Result = TypeVar("Result")

MAX_JSON_BODY = 1 << 20
KIB = 1 << 10


class BodyTimeout(TimedOut):
    """The request body did not arrive at the minimum pace."""


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives, which must be at a minimum pace, else BodyTimeout.

    The body may take ``http_body_timeout_seconds`` plus one second for every
    ``http_body_min_rate_kib`` KiB received, counted from when it is first asked for. A
    client that stalls or trickles would otherwise hold its connection (and whatever the
    body has claimed) for ever.
    """
    settings = state_of(request).settings
    grace = settings.http_body_timeout_seconds
    rate = settings.http_body_min_rate_kib * KIB
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = 0
    stream = aiter(request.stream())
    while True:
        try:
            async with asyncio.timeout_at(started + grace + received / rate):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyTimeout(
                f"request body too slow: {received} bytes in {loop.time() - started:.0f} s"
                f" (send at least {settings.http_body_min_rate_kib} KiB/s)"
            ) from None
        received += len(chunk)
        yield chunk


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; Malformed, TimedOut, TooLarge or InvalidInput."""
    body = bytearray()
    async for chunk in body_chunks(request):
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise TooLarge("Request body too large")
    try:
        value = json.loads(body or b"null")
        # JSON may spell a lone UTF-16 surrogate ("\ud800"), which no UTF-8 store takes.
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:  # before ValueError, its base class
        raise Malformed("Malformed JSON body: a string holds a lone surrogate") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"Malformed JSON body: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput("Request body must be a JSON object")
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def control_call(request: Request, service: Callable[..., Result], *args: Any) -> Result:
    """Run ``service(db, *args)`` on a worker thread with that thread's own connection.

    The only way handlers touch the control database: a SQLite connection must never
    carry two requests' transactions, and its calls must not block the event loop.
    """
    control = state_of(request).control
    return await run_in_threadpool(lambda: service(control.db, *args))
