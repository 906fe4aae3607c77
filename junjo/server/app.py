"""The Starlette application: the features' routes and lifespans, middleware, errors.

``create_app`` only assembles; everything that opens a file or a port happens in the
lifespan, which ``junjo serve`` enters once its HTTP port is bound and before uvicorn
starts (so a startup failure is one clear error, not a traceback), and Starlette's
``TestClient`` enters in tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from junjo import features
from junjo.config import Settings
from junjo.kernel.errors import JunjoError
from junjo.kernel.feature import Feature
from junjo.kernel.state import AppState, Launch
from junjo.server.errors import domain_error, http_error, unexpected_error
from junjo.server.hosts import HostPolicy
from junjo.server.middleware import (
    AllowedHostsMiddleware,
    CrossOriginGuardMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
)


def host_policy(settings: Settings) -> HostPolicy:
    return HostPolicy.build(settings.allowed_hosts, settings.host, settings.public_url)


def create_app(
    settings: Settings,
    launch: Launch | None = None,
    *,
    feature_names: Sequence[str] = features.FEATURES,
) -> Starlette:
    loaded = features.load(feature_names)
    hosts = host_policy(settings)
    app = Starlette(
        routes=[route for feature in loaded if feature.routes for route in feature.routes()],
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(AllowedHostsMiddleware, policy=hosts),
            Middleware(CrossOriginGuardMiddleware, policy=hosts, public_url=settings.public_url),
        ],
        exception_handlers={
            JunjoError: domain_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        lifespan=_lifespan(settings, launch or Launch(), loaded),
    )
    return app


def _lifespan(
    settings: Settings, launch: Launch, loaded: list[Feature]
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with contextlib.ExitStack() as stack:
            if not launch.read_only:
                settings.ensure_data_dir()
            state = AppState(settings, launch)
            for feature in loaded:
                if feature.lifespan:
                    stack.enter_context(feature.lifespan(state))
            app.state.junjo = state
            yield

    return lifespan
