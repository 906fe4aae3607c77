"""Public facts about this server: liveness and the settings an SDK needs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo import __version__
from junjo.server.openapi import document

APP_NAME = "Junjo"


@document("Liveness", auth="public", tag="meta")
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__, "app_name": APP_NAME})


@document("Endpoints an SDK should use", auth="public", tag="meta")
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
