"""Public facts about this server: liveness and the settings an SDK needs."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo import __version__
from junjo.kernel.state import state_of
from junjo.server.endpoint import endpoint
from junjo.server.openapi import build_openapi

APP_NAME = "Junjo"


@endpoint("Liveness", auth="public", tag="meta")
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__, "app_name": APP_NAME})


@endpoint("Endpoints an SDK should use", auth="public", tag="meta")
async def api_config(request: Request) -> JSONResponse:
    """From ``public_url`` when set, else from the request's Host, which the Host check
    (junjo.server.hosts) has already limited to names this server answers to."""
    state = state_of(request)
    settings = state.settings
    base = settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
    host = urlsplit(base).hostname or settings.host
    grpc_host = f"[{host}]" if ":" in host else host
    # With tls_cert the gRPC port speaks TLS too: https:// is how OTel exporters say so.
    grpc_scheme = "https" if settings.tls_cert else "grpc"
    grpc_port = state.grpc_port or settings.grpc_port
    return JSONResponse(
        {
            "environment": "self-hosted",
            "otlp_endpoint": f"{grpc_scheme}://{grpc_host}:{grpc_port}",
            "otlp_http_endpoint": f"{base}/v1/traces",
            "frontend_url": base,
            "backend_url": base,
        }
    )


@endpoint("This OpenAPI document", auth="public", tag="meta")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(build_openapi(request.app.routes, __version__))


routes = [
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/api/config", api_config, methods=["GET"]),
]
