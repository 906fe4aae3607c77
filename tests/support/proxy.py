"""A plain reverse proxy in a thread: forwards every request as it came, but with ``Host``
rewritten to the upstream's (what nginx's default ``proxy_set_header Host $proxy_host``
does), and every response as it came (redirects and cookies untouched)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.uvicorn_thread import UvicornThread

_HOP_BY_HOP = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}


class PlainProxy:
    def __init__(self, upstream: str, port: int = 0) -> None:
        self.upstream = upstream
        self._served = UvicornThread(self._app, lifespan="off", interface="asgi3", port=port)
        self.url = self._served.url

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        query = scope["query_string"].decode()
        url = self.upstream + scope["raw_path"].decode() + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=30) as client:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
        out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": raw})

    def stop(self) -> None:
        self._served.stop()
