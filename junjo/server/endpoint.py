"""``@endpoint``: what an HTTP handler requires and what it answers, declared once.

The ``auth`` it states is enforced here, before the handler runs, so an unauthenticated
request gets 401 before any validation error (422) can leak the endpoint's shape, and a
handler cannot forget its guard. The same declaration becomes the handler's OpenAPI
operation (``junjo.server.openapi``). Services check the principal again (the data layer).

    public               no credential
    session              a signed-in person, or the local operator (never an API key)
    session_or_read_key  the above, or a read-scope API key (``Authorization: Bearer``)
    api_key              an ingest key: the OTLP doors check it themselves (their own
                         error bodies), before reading the request's body
    setup_token          the first-user setup token, checked by that handler
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from junjo.kernel.errors import PermissionDenied, Unauthenticated
from junjo.kernel.principal import Principal
from junjo.kernel.state import state_of

Auth = Literal["public", "session", "session_or_read_key", "api_key", "setup_token"]
Handler = Callable[[Request], Awaitable[Response]]
Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
MESSAGE: Schema = {"type": "object", "properties": {"message": STRING}, "required": ["message"]}
ERROR_SCHEMA: Schema = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
}


@dataclass(frozen=True)
class Content:
    """A body in several media types (OpenAPI's content map); a bare schema is JSON."""

    by_media_type: dict[str, Schema]


Body = Schema | Content


def endpoint(
    summary: str,
    *,
    auth: Auth,
    tag: str,
    responses: Mapping[int, Body | None] | None = None,
    body: Body | None = None,
    query: Mapping[str, Schema] | None = None,
    path: Mapping[str, Schema] | None = None,
    error_body: Body = ERROR_SCHEMA,
) -> Callable[[Handler], Handler]:
    """Guard a handler by ``auth`` and attach its OpenAPI operation.

    ``responses`` maps status → body (None: no body). The errors every such endpoint can
    answer are added from what it declares (``openapi._implied_errors``), with
    ``error_body``. ``path`` gives schemas (patterns) of path parameters.
    """

    def attach(handler: Handler) -> Handler:
        guarded = _guarded(handler, auth)
        guarded.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "auth": auth,
            "tag": tag,
            "responses": responses or {200: None},
            "body": body,
            "query": query or {},
            "path": path or {},
            "error_body": error_body,
        }
        return guarded

    return attach


def principal_of(request: Request) -> Principal:
    """Who the door let in (only for endpoints that require a credential)."""
    principal: Principal = request.state.principal
    return principal


def _guarded(handler: Handler, auth: Auth) -> Handler:
    admit = _ADMIT.get(auth)
    if admit is None:
        return handler

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        found = await run_in_threadpool(state_of(request).identify, request)
        request.state.principal = admit(found)
        return await handler(request)

    return guarded


def _person(principal: Principal | None) -> Principal:
    if principal is None or principal.kind == "api_key":
        raise Unauthenticated("Unauthorized: no valid session")
    return principal


def _reader(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("Unauthorized: no valid session")
    if not principal.can_read:
        raise PermissionDenied("This API key may only send telemetry")
    return principal


_ADMIT: dict[str, Callable[[Principal | None], Principal]] = {
    "session": _person,
    "session_or_read_key": _reader,
}
