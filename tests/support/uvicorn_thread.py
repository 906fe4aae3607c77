"""An ASGI app served by uvicorn on a free port, in a thread of the test process."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from tests.support.wait import wait_until


class UvicornThread:
    """Started at once, on ``port`` (0: a free one); ``config`` goes to ``uvicorn.Config``
    (lifespan, http protocol...)."""

    def __init__(self, app: Any, port: int = 0, **config: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **config)
        )
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.server.started, timeout=10, message="uvicorn did not start")
        self.port: int = self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
