"""HTTP adapter for trace queries: Junjo AI Studio's observability routes, and ours under
``/api/v1/``. Session cookie or a read-scope key (``Authorization: Bearer``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from junjo.features.spans import SpanReader
from junjo.features.traces import export, otlp_json, queries, runs
from junjo.features.traces.llm_messages import llm_call
from junjo.features.traces.params import filters_from_params, parse_time
from junjo.kernel.errors import InvalidInput
from junjo.kernel.params import bool_param, int_param, parse_int, query_value
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, Content, Schema, endpoint, principal_of

# Query parameters that are present must not be empty (traces.params); ids are what
# queries.check_trace_id / check_span_id accept.
TEXT = {"type": "string", "minLength": 1}
TRACE_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "32 lowercase hex"}
SPAN_ID = {"type": "string", "pattern": "^[0-9a-f]{16}$", "description": "16 lowercase hex"}
IDS = {"trace_id": TRACE_ID, "span_id": SPAN_ID}
# Starlette's {name:path} matches no newline: such a service name is a 404 (no route).
SERVICE = {"service_name": {"type": "string", "pattern": "^[^\\n]*$"}}
SPAN = {"type": "object", "description": "A span in Junjo AI Studio's JSON shape"}
SPANS = {"type": "array", "items": SPAN}
SERVICE_SPANS = {200: SPANS, 404: ERROR_SCHEMA}
LIMIT = {"limit": {"type": "integer", "minimum": 1, "maximum": queries.MAX_LIMIT}}
SEARCH_PARAMS: dict[str, Schema] = {
    "service": TEXT,
    "since": TEXT | {"description": "1h, 30m, 2d, ns since the epoch, or an ISO-8601 time"},
    "until": TEXT | {"description": "like since"},
    "errors": {"type": "boolean"},
    "llm": {"type": "boolean"},
    "name": TEXT | {"description": "some span of the trace has this name"},
    "attr": TEXT | {"pattern": "^[^=]+=", "description": "key=value some span of it has"},
    "trace_id_prefix": {"type": "string", "pattern": "^[0-9a-fA-F]{1,32}$"},
    "indexed_after": {"type": "integer", "description": "ns; traces whose root arrived since"},
    "updated_after": {"type": "integer", "description": "ns: the as_of of an earlier answer"},
    "min_duration": TEXT | {"description": "250ms, 1.5s, 2m, or ns"},
    "sort": {"type": "string", "enum": list(queries.SORTS)},
    "order": {"type": "string", "enum": ["desc", "asc"]},
    "total": {"type": "boolean", "description": "also count every match"},
    "limit": {"type": "integer", "minimum": 1, "maximum": queries.MAX_LIMIT},
    "cursor": TEXT | {"description": "next_cursor or prev_cursor of an answer"},
}


async def _read(request: Request, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a query on a worker thread, as the principal the handler authenticated."""
    actor = principal_of(request)
    reader = state_of(request).get(SpanReader)

    def run() -> Any:
        with reader.cursor() as conn:
            return query(conn, actor, *args, **kwargs)

    return await run_in_threadpool(run)


def _studio(spans: list[dict[str, Any]], *, ours: bool = False) -> list[dict[str, Any]]:
    """Spans in the Studio JSON. On the Studio's own routes an event's timeUnixNano is a
    number, as its frontends require; on ours (``ours``) the exact decimal string."""
    return [queries.studio_span(span, numeric_event_times=not ours) for span in spans]


# -- Junjo AI Studio compatible ---------------------------------------------------------


@endpoint("Service names", auth="session_or_read_key", tag="observability", responses={200: {}})
async def services(request: Request) -> JSONResponse:
    return JSONResponse(await _read(request, queries.service_names))


@endpoint(
    "Newest spans of a service",
    auth="session_or_read_key",
    tag="observability",
    query=LIMIT,
    path=SERVICE,
    responses=SERVICE_SPANS,
)
async def service_spans(request: Request) -> JSONResponse:
    limit = int_param(request.query_params, "limit", 100)
    service = request.path_params["service_name"]
    return JSONResponse(_studio(await _read(request, queries.service_spans, service, limit)))


@endpoint(
    "Root spans of a service (the traces list)",
    auth="session_or_read_key",
    tag="observability",
    query={**LIMIT, "has_llm": {"type": "boolean"}},
    path=SERVICE,
    responses=SERVICE_SPANS,
)
async def root_spans(request: Request) -> JSONResponse:
    params = request.query_params
    found = await _read(
        request,
        queries.root_spans,
        request.path_params["service_name"],
        has_llm=bool_param(params, "has_llm"),
        limit=int_param(params, "limit", 100),
    )
    return JSONResponse(_studio(found))


@endpoint(
    "Workflow spans of a service",
    auth="session_or_read_key",
    tag="observability",
    query=LIMIT,
    path=SERVICE,
    responses=SERVICE_SPANS,
)
async def workflow_spans(request: Request) -> JSONResponse:
    limit = int_param(request.query_params, "limit", 100)
    service = request.path_params["service_name"]
    return JSONResponse(_studio(await _read(request, queries.workflow_spans, service, limit)))


@endpoint(
    "Every span of a trace, newest first",
    auth="session_or_read_key",
    tag="observability",
    responses={200: SPANS},
    path=IDS,
)
async def trace_spans(request: Request) -> JSONResponse:
    found = await _read(request, queries.trace_spans, request.path_params["trace_id"])
    return JSONResponse(_studio(found))


@endpoint(
    "One span, or null (200) when it is not stored",
    auth="session_or_read_key",
    tag="observability",
    responses={200: {"oneOf": [SPAN, {"type": "null"}]}},
    path=IDS,
)
async def one_span(request: Request) -> JSONResponse:
    path = request.path_params
    found = await _read(request, queries.one_span, path["trace_id"], path["span_id"])
    return JSONResponse(_studio([found])[0] if found else None)


# -- ours ---------------------------------------------------------------------------------


@endpoint(
    "Search traces (newest first or sorted, cursor pagination)",
    auth="session_or_read_key",
    tag="traces",
    query=SEARCH_PARAMS,
    responses={200: {"type": "object"}},
)
async def search(request: Request) -> JSONResponse:
    filters = filters_from_params(request.query_params)
    return JSONResponse(await _read(request, queries.search_traces, filters))


@endpoint(
    "A whole trace with its summary",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def trace_detail(request: Request) -> JSONResponse:
    detail = await _read(request, queries.trace_detail, request.path_params["trace_id"])
    return JSONResponse({**detail, "spans": _studio(detail["spans"], ours=True)})


@endpoint(
    "Per-service counts, error rate, LLM calls, tokens and last seen",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "array"}},
)
async def service_summaries(request: Request) -> JSONResponse:
    return JSONResponse(await _read(request, queries.service_summaries))


@endpoint(
    "A workflow or subflow run (or an agent's application store): graph, node spans, store "
    "transitions with state, integrity",
    auth="session_or_read_key",
    tag="traces",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def workflow_execution(request: Request) -> JSONResponse:
    path = request.path_params
    found = await _read(request, queries.workflow_execution, path["trace_id"], path["span_id"])
    return JSONResponse(found)


# -- the trace view ------------------------------------------------------------------------

OUTLINE_SPAN = {
    "type": "object",
    "description": "id, parent, name, start (ns after the trace's start_time_ns), duration "
    "(ns), status (OTLP code), error, exception, llm, kind, service, type (Junjo span type)",
}


@endpoint(
    "A trace's outline: its summary and each span's id, parent, name, timing and flags",
    auth="session_or_read_key",
    tag="traces",
    responses={
        200: {
            "type": "object",
            "properties": {
                "summary": {"type": "object"},
                "start_time_ns": {"type": "string", "description": "ns since the epoch"},
                "spans": {"type": "array", "items": OUTLINE_SPAN},
            },
        },
        404: ERROR_SCHEMA,
    },
    path=IDS,
)
async def trace_outline(request: Request) -> JSONResponse:
    return JSONResponse(
        await _read(request, queries.trace_outline, request.path_params["trace_id"])
    )


@endpoint(
    "One span of a trace, whole, with its LLM call (model, parameters, tokens, messages) "
    "when it is one",
    auth="session_or_read_key",
    tag="traces",
    responses={200: SPAN, 404: ERROR_SCHEMA},
    path=IDS,
)
async def trace_span(request: Request) -> JSONResponse:
    path = request.path_params
    record = await _read(request, queries.trace_span, path["trace_id"], path["span_id"])
    span = queries.studio_span(record)
    span["scope_attributes_json"] = record["scope_attributes"] or {}
    span["scope_dropped_attributes_count"] = record["scope_dropped_attributes_count"] or 0
    span["llm"] = llm_call(span) if span["is_llm"] else None
    return JSONResponse(span)


@endpoint(
    "The spans of a trace whose name, id, status message, attributes or events contain q "
    "(ignoring case), oldest first",
    auth="session_or_read_key",
    tag="traces",
    query={"q": TEXT | {"description": "the text to look for; absent: no span matches"}},
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def trace_matches(request: Request) -> JSONResponse:
    text = query_value(request.query_params, "q")
    trace_id = request.path_params["trace_id"]
    found = await _read(request, queries.trace_matches, trace_id, text or "")
    return JSONResponse({"q": text, "span_ids": found if text else []})


@endpoint(
    "A trace as an OTLP/JSON ExportTraceServiceRequest (POST /v1/traces takes it back)",
    auth="session_or_read_key",
    tag="traces",
    query={"download": {"type": "boolean", "description": "as an attachment (a file)"}},
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def trace_otlp(request: Request) -> JSONResponse:
    download = bool_param(request.query_params, "download")
    trace_id = request.path_params["trace_id"]
    spans = await _read(request, queries.trace_export_spans, trace_id)
    headers = {}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="trace-{trace_id}.otlp.json"'
    return JSONResponse(otlp_json.export_request(spans), headers=headers)


@endpoint(
    "Traces that started in a time range, as OTLP/JSON lines (one ExportTraceServiceRequest"
    " a trace) or Parquet (the span rows)",
    auth="session_or_read_key",
    tag="traces",
    query={
        "since": SEARCH_PARAMS["since"],
        "until": SEARCH_PARAMS["until"],
        "service": TEXT,
        "format": {"type": "string", "enum": list(export.FORMATS)},
    },
    responses={
        200: Content(
            {
                "application/x-ndjson": {"type": "string"},
                "application/vnd.apache.parquet": {"type": "string", "format": "binary"},
            }
        ),
        422: ERROR_SCHEMA,
    },
)
async def export_traces(request: Request) -> Response:
    params = request.query_params
    since, until = query_value(params, "since"), query_value(params, "until")
    service, fmt = query_value(params, "service"), query_value(params, "format")
    until_ns = parse_time(until, "until") if until is not None else None
    fmt = export.check_format(fmt or "otlp-json")
    if since is None:
        raise InvalidInput("since: which traces (1h, 7d, an ISO-8601 time)")
    chosen = export.ExportFilter(parse_time(since, "since"), until_ns, service)
    handle, name = tempfile.mkstemp(prefix="junjo-export-", suffix="." + fmt)
    os.close(handle)
    path = Path(name)
    try:
        count = await _read(request, export.write, chosen, fmt, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    media = "application/vnd.apache.parquet" if fmt == "parquet" else "application/x-ndjson"
    return FileResponse(
        path,
        media_type=media,
        headers={"X-Junjo-Traces": str(count)},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@endpoint(
    "A workflow run for the debugger: graph, node statuses and runs, spans with errors, every "
    "store and its integrity, one timeline of all its state changes (no states), the "
    "previous and next run",
    auth="session_or_read_key",
    tag="workflows",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def workflow_run_view(request: Request) -> JSONResponse:
    path = request.path_params
    return JSONResponse(await _read(request, runs.workflow_run, path["trace_id"], path["span_id"]))


@endpoint(
    "One state change of a workflow run's timeline: state before and after, changes by path",
    auth="session_or_read_key",
    tag="workflows",
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    query={"index": {"type": "integer", "minimum": 0}},
    path=IDS,
)
async def workflow_run_change(request: Request) -> JSONResponse:
    path = request.path_params
    index = int_param(request.query_params, "index", 0)
    found = await _read(request, runs.workflow_change, path["trace_id"], path["span_id"], index)
    return JSONResponse(found)


@endpoint(
    "The state of a span's store when the span started (a span of the run; default: the "
    "run's own span, so its start state)",
    auth="session_or_read_key",
    tag="workflows",
    query={"span": SPAN_ID},
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
    path=IDS,
)
async def workflow_run_state(request: Request) -> JSONResponse:
    path = request.path_params
    at_span = query_value(request.query_params, "span") or path["span_id"]
    found = await _read(request, runs.workflow_state_at, path["trace_id"], path["span_id"], at_span)
    return JSONResponse(found)


@endpoint(
    "The runs of one workflow (service and workflow name), newest first",
    auth="session_or_read_key",
    tag="workflows",
    query={
        "service": TEXT,
        "name": TEXT,
        "limit": {"type": "integer", "minimum": 1, "maximum": runs.MAX_RUNS},
    },
    responses={200: {"type": "object"}},
)
async def workflow_runs(request: Request) -> JSONResponse:
    params = request.query_params
    service, name = query_value(params, "service"), query_value(params, "name")
    limit = int_param(params, "limit", 100)
    return JSONResponse(await _read(request, runs.workflow_runs, service or "", name or "", limit))


@endpoint(
    "Every workflow (service and name): runs, failed runs, the last run",
    auth="session_or_read_key",
    tag="workflows",
    query={"service": TEXT},
    responses={200: {"type": "array"}},
)
async def workflow_list(request: Request) -> JSONResponse:
    service = query_value(request.query_params, "service")
    return JSONResponse(await _read(request, runs.workflows, service))


COMPARE_PARAMS: dict[str, Schema] = {
    "a_trace": TRACE_ID,
    "a_span": SPAN_ID,
    "b_trace": TRACE_ID,
    "b_span": SPAN_ID,
    "a_index": {"type": "integer", "minimum": 0, "description": "a step of A; default final"},
    "b_index": {"type": "integer", "minimum": 0, "description": "a step of B; default final"},
}


@endpoint(
    "Two workflow runs side by side: nodes run in each, durations, the state diff (final "
    "states, or after the given steps)",
    auth="session_or_read_key",
    tag="workflows",
    query=COMPARE_PARAMS,
    responses={200: {"type": "object"}, 404: ERROR_SCHEMA},
)
async def workflow_compare(request: Request) -> JSONResponse:
    params = request.query_params
    # Every malformed value is named before a missing one.
    ids = {name: query_value(params, name) for name in ("a_trace", "a_span", "b_trace", "b_span")}
    for name, value in ids.items():
        if value is not None:
            check = queries.check_trace_id if name.endswith("trace") else queries.check_span_id
            check(value, name)
    indexes = []
    for name in ("a_index", "b_index"):
        value = query_value(params, name)
        indexes.append(None if value is None else parse_int(value, name, 0))
    missing = [name for name, value in ids.items() if value is None]
    if missing:
        raise InvalidInput(f"{missing[0]}: required")
    found = await _read(
        request,
        runs.compare_runs,
        (ids["a_trace"] or "", ids["a_span"] or ""),
        (ids["b_trace"] or "", ids["b_span"] or ""),
        *indexes,
    )
    return JSONResponse(found)


_OBS = "/api/v1/observability"
_RUNS = "/api/v1/traces/{trace_id}/workflows/{span_id}"

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
    Route("/api/v1/traces/{trace_id}/outline", trace_outline, methods=["GET"]),
    Route("/api/v1/traces/{trace_id}/spans/{span_id}", trace_span, methods=["GET"]),
    Route("/api/v1/traces/{trace_id}/matches", trace_matches, methods=["GET"]),
    Route("/api/v1/traces/{trace_id}/otlp", trace_otlp, methods=["GET"]),
    Route("/api/v1/export", export_traces, methods=["GET"]),
    Route("/api/v1/services", service_summaries, methods=["GET"]),
    Route(f"{_RUNS}/run", workflow_run_view, methods=["GET"]),
    Route(f"{_RUNS}/change", workflow_run_change, methods=["GET"]),
    Route(f"{_RUNS}/state", workflow_run_state, methods=["GET"]),
    Route("/api/v1/workflows", workflow_list, methods=["GET"]),
    Route("/api/v1/workflow-runs", workflow_runs, methods=["GET"]),
    Route("/api/v1/workflow-runs/compare", workflow_compare, methods=["GET"]),
]
