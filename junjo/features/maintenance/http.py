"""HTTP adapter: ``POST /api/admin/prune`` and ``POST /api/admin/backup`` (what ``junjo
prune`` and ``junjo backup`` call on a running server, with its local token)."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features.maintenance import retention
from junjo.features.maintenance.backup import backup_running
from junjo.features.spans import SpanStore
from junjo.kernel.errors import InvalidInput
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, endpoint, principal_of
from junjo.server.http_utils import json_object

_PRUNE_BODY = {
    "type": "object",
    "properties": {
        "dry_run": {"type": "boolean", "description": "only report what would go"},
        "older_than": {
            "type": "string",
            "description": "7d, 12h, 30m: instead of retention.max_age_days",
        },
    },
}
_BACKUP_BODY = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "a new or empty directory"}},
    "required": ["path"],
}


@endpoint(
    "Delete (or with dry_run list) the traces retention removes now",
    auth="session",
    tag="maintenance",
    body=_PRUNE_BODY,
    responses={200: {"type": "object"}, 422: ERROR_SCHEMA},
)
async def prune(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await json_object(request)
    dry_run = body.get("dry_run", False)
    older = body.get("older_than")
    if not isinstance(dry_run, bool) or not (older is None or isinstance(older, str)):
        raise InvalidInput('"dry_run" is a boolean, "older_than" a string such as "7d"')
    state = state_of(request)
    older_ns = retention.parse_age(older) if older is not None else None
    policy = retention.Policy.from_settings(state.settings, older_ns)
    store = state.get(SpanStore)
    report = await run_in_threadpool(retention.prune, principal, store, policy, dry_run=dry_run)
    return JSONResponse(report.as_dict())


@endpoint(
    "Write a consistent copy of the data dir to a directory on the server's machine",
    auth="session",
    tag="maintenance",
    body=_BACKUP_BODY,
    responses={200: {"type": "object"}, 403: ERROR_SCHEMA, 409: ERROR_SCHEMA},
)
async def backup(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await json_object(request)
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise InvalidInput('"path" is the directory to write the backup to')
    state = state_of(request)
    store = state.get(SpanStore)
    done = await run_in_threadpool(backup_running, principal, state.settings, store, Path(path))
    return JSONResponse(done)


routes = [
    Route("/api/admin/prune", prune, methods=["POST"]),
    Route("/api/admin/backup", backup, methods=["POST"]),
]
