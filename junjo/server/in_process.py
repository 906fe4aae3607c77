"""A synchronous HTTP client that calls an app in this process (no socket), as Datasette's
internal client does: the CLI's local mode asks the same routes a server would answer.

The app's lifespan runs on a private event loop for as long as the client is open; each
request runs on it to completion (httpx's ASGITransport is async only).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from starlette.applications import Starlette


class _InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Starlette) -> None:
        self._loop = asyncio.new_event_loop()
        self._asgi = httpx.ASGITransport(app=app)
        self._lifespan: AbstractAsyncContextManager[Any] = app.router.lifespan_context(app)
        self._loop.run_until_complete(self._lifespan.__aenter__())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._loop.run_until_complete(self._handle(request))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response = await self._asgi.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        finally:
            self._loop.close()


def in_process_client(app: Starlette, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` on ``app`` (base URL http://localhost); close it to stop the app."""
    return httpx.Client(transport=_InProcessTransport(app), base_url="http://localhost", **kwargs)
