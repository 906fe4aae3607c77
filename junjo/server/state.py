"""What routes need, built once in the app's lifespan (``junjo.server.app``).

The kernel's parts are typed attributes; a feature's parts are provided by its lifespan
hook under their own type and fetched by that type, so a route's dependencies are typed
and an app without the feature that provides a part says so clearly instead of failing
with ``AttributeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request

    from junjo.config import Settings
    from junjo.kernel.control_db import ControlDB
    from junjo.kernel.principal import Principal

Part = TypeVar("Part")
PrincipalResolver = Callable[["Request"], "Principal | None"]


@dataclass(frozen=True)
class Launch:
    """What the process that runs the app decides, beside the settings."""

    http_url: str = "http://127.0.0.1:26154"  # where this server is reached, for notices
    local_token: str | None = None  # the CLI's credential for this server (server.json)
    setup_token: str | None = None  # None: one is made when there is no user yet
    grpc_max_connections: int | None = None  # what the open-file limit leaves for gRPC


@dataclass
class AppState:
    settings: Settings
    control: ControlDB
    launch: Launch
    # The OTLP/gRPC port once bound (the setting may be 0: any free port); 0 without ingest.
    grpc_port: int = 0
    # Lines ``junjo serve`` prints under its banner (a feature's "do this next").
    notices: list[str] = field(default_factory=list)
    _parts: dict[type, Any] = field(default_factory=dict)
    _resolvers: list[PrincipalResolver] = field(default_factory=list)

    def provide(self, part: Any) -> None:
        self._parts[type(part)] = part

    def get(self, kind: type[Part]) -> Part:
        try:
            return self._parts[kind]  # type: ignore[no-any-return]
        except KeyError:
            message = f"no {kind.__name__}: the feature that provides it is not loaded"
            raise LookupError(message) from None

    def identify_by(self, resolver: PrincipalResolver) -> None:
        """Add a way to tell who sent a request (tried in the order added)."""
        self._resolvers.append(resolver)

    def identify(self, request: Request) -> Principal | None:
        """The first principal a resolver finds. Resolvers touch SQLite: call off the loop."""
        for resolver in self._resolvers:
            principal = resolver(request)
            if principal is not None:
                return principal
        return None


def state_of(request: Request) -> AppState:
    """The app's state, set by its lifespan."""
    return state_of_app(request.app)


def state_of_app(app: Starlette) -> AppState:
    """The state of an app whose lifespan has started."""
    state: AppState = app.state.junjo
    return state
