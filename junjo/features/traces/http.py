"""HTTP adapter for trace queries: Junjo AI Studio's observability routes, and ours under
``/api/v1/``. Session cookie or a read-scope key (``Authorization: Bearer``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features.auth.guards import require_principal
from junjo.features.traces import queries
from junjo.features.traces.params import filters_from_params, parse_bool, parse_int
from junjo.server.openapi import ERROR_SCHEMA, document

STRING = {"type": "string"}
SPAN = {"type": "object", "description": "A span in Junjo AI Studio's JSON shape"}
SPANS = {"type": "array", "items": SPAN}
LIMIT = {"limit": {"type": "integer", "minimum": 1, "maximum": queries.MAX_LIMIT}}
SEARCH_PARAMS = {
    "service": STRING,
    "since": {"type": "string", "description": "1h, 30m, 2d, or an ISO-8601 time"},
    "until": {"type": "string"},
    "errors": {"type": "boolean"},
    "llm": {"type": "boolean"},
    "name": {"type": "string", "description": "some span of the trace has this name"},
    "attr": {"type": "string", "description": "key=value that some span of the trace has"},
    "trace_id_prefix": STRING,
    "indexed_after": {"type": "integer", "description": "ns; for following new traces"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "cursor": STRING,
}


async def _read(request: Request, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a query on a worker thread, as the principal the handler authenticated."""
    actor = request.state.principal

    def run() -> Any:
        with request.app.state.span_reader() as conn:
            return query(conn, actor, *args, **kwargs)

    return await run_in_threadpool(run)


def _studio(spans: list[dict]) -> list[dict]:
    return [queries.studio_span(span) for span in spans]


# -- Junjo AI Studio compatible ---------------------------------------------------------


@document("Service names", auth="session_or_read_key", tag="observability", responses={200: {}})
async def services(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    return JSONResponse(await _read(request, queries.service_names))


@document("Newest spans of a service", auth="session_or_read_key", tag="observability", query=LIMIT)
async def service_spans(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    limit = parse_int(request.query_params.get("limit"), "limit", 100)
    service = request.path_params["service_name"]
    return JSONResponse(_studio(await _read(request, queries.service_spans, service, limit)))


@document(
    "Root spans of a service (the traces list)",
    auth="session_or_read_key",
    tag="observability",
    query={**LIMIT, "has_llm": {"type": "boolean"}},
)
async def root_spans(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    params = request.query_params
    found = await _read(
        request,
        queries.root_spans,
        request.path_params["service_name"],
        has_llm=parse_bool(params.get("has_llm"), "has_llm"),
        limit=parse_int(params.get("limit"), "limit", 100),
    )
    return JSONResponse(_studio(found))


@document(
    "Workflow spans of a service", auth="session_or_read_key", tag="observability", query=LIMIT
)
async def workflow_spans(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    limit = parse_int(request.query_params.get("limit"), "limit", 100)
    service = request.path_params["service_name"]
    return JSONResponse(_studio(await _read(request, queries.workflow_spans, service, limit)))


@document(
    "Every span of a trace, newest first",
    auth="session_or_read_key",
    tag="observability",
    responses={200: SPANS, 422: ERROR_SCHEMA},
)
async def trace_spans(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    found = await _read(request, queries.trace_spans, request.path_params["trace_id"])
    return JSONResponse(_studio(found))


@document(
    "One span, or null (200) when it is not stored",
    auth="session_or_read_key",
    tag="observability",
    responses={200: {"oneOf": [SPAN, {"type": "null"}]}, 422: ERROR_SCHEMA},
)
async def one_span(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    path = request.path_params
    found = await _read(request, queries.one_span, path["trace_id"], path["span_id"])
    return JSONResponse(queries.studio_span(found) if found else None)


# -- ours ---------------------------------------------------------------------------------


@document(
    "Search traces (newest first, cursor pagination)",
    auth="session_or_read_key",
    tag="traces",
    query=SEARCH_PARAMS,
    responses={200: {"type": "object"}, 422: ERROR_SCHEMA},
)
async def search(request: Request) -> JSONResponse:
    await require_principal(request)  # before parsing, so 401 comes before 422
    filters = filters_from_params(request.query_params)
    return JSONResponse(await _read(request, queries.search_traces, filters))


@document(
    "A whole trace with its summary",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA, 422: ERROR_SCHEMA},
)
async def trace_detail(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    detail = await _read(request, queries.trace_detail, request.path_params["trace_id"])
    return JSONResponse({**detail, "spans": _studio(detail["spans"])})


@document(
    "Per-service counts, error rate and last seen",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "array"}},
)
async def service_summaries(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    return JSONResponse(await _read(request, queries.service_summaries))


@document(
    "A workflow or subflow run: graph, node spans, store transitions with state, integrity",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA, 422: ERROR_SCHEMA},
)
async def workflow_execution(request: Request) -> JSONResponse:
    await require_principal(request)  # first: 401 before any 422
    path = request.path_params
    found = await _read(request, queries.workflow_execution, path["trace_id"], path["span_id"])
    return JSONResponse(found)


_OBS = "/api/v1/observability"

routes = [
    Route(f"{_OBS}/services", services, methods=["GET"]),
    Route(f"{_OBS}/services/{{service_name:path}}/spans/root", root_spans, methods=["GET"]),
    Route(f"{_OBS}/services/{{service_name:path}}/spans", service_spans, methods=["GET"]),
    Route(f"{_OBS}/services/{{service_name:path}}/workflows", workflow_spans, methods=["GET"]),
    Route(f"{_OBS}/traces/{{trace_id}}/spans", trace_spans, methods=["GET"]),
    Route(f"{_OBS}/traces/{{trace_id}}/spans/{{span_id}}", one_span, methods=["GET"]),
    Route("/api/v1/traces", search, methods=["GET"]),
    Route("/api/v1/traces/{trace_id}", trace_detail, methods=["GET"]),
    Route("/api/v1/traces/{trace_id}/workflows/{span_id}", workflow_execution, methods=["GET"]),
    Route("/api/v1/services", service_summaries, methods=["GET"]),
]
