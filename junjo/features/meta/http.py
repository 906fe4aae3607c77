"""Public facts about this server: liveness and the settings an SDK needs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo import __version__

APP_NAME = "Junjo"


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__, "app_name": APP_NAME})


async def api_config(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    base = settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
    grpc_host = request.url.hostname or settings.host
    return JSONResponse(
        {
            "environment": "self-hosted",
            "otlp_endpoint": f"grpc://{grpc_host}:{settings.grpc_port}",
            "otlp_http_endpoint": f"{base}/v1/traces",
            "frontend_url": base,
            "backend_url": base,
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/api/config", api_config, methods=["GET"]),
]
