"""What routes need, built once in the app's lifespan (``junjo.server.app``).

The kernel's parts are typed attributes; a feature's parts are provided by its lifespan
hook under their own type and fetched by that type, so a route's dependencies are typed
and an app without the feature that provides a part says so clearly instead of failing
with ``AttributeError``.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from junjo.kernel.credentials import presented_key
from junjo.kernel.principal import Principal

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request

    from junjo.config import Settings
    from junjo.kernel.control_db import ControlDB

Part = TypeVar("Part")
PrincipalResolver = Callable[["Request"], "Principal | None"]


@dataclass(frozen=True)
class Launch:
    """What the process that runs the app decides, beside the settings."""

    http_url: str = "http://127.0.0.1:26154"  # where this server is reached, for notices
    # What to type for this server's CLI, for notices (``junjo serve``: ``cli_command()``).
    command: str = "junjo"
    # The local operator's credential: the token written to server.json for the CLI.
    local_token: str | None = None
    setup_token: str | None = None  # None: one is made when there is no user yet
    grpc_max_connections: int | None = None  # what the open-file limit leaves for gRPC
    # Only read the data dir (the CLI's in-process app): no writer, no file created.
    read_only: bool = False


@dataclass
class AppState:
    settings: Settings
    launch: Launch
    # The OTLP/gRPC port once bound (the setting may be 0: any free port); 0 without ingest.
    grpc_port: int = 0
    # Lines ``junjo serve`` prints under its banner (a feature's "do this next").
    notices: list[str] = field(default_factory=list)
    _parts: dict[type, Any] = field(default_factory=dict)
    _resolvers: list[PrincipalResolver] = field(default_factory=list)

    @functools.cached_property
    def control(self) -> ControlDB:
        """The control database, opened (and migrated) when a feature first needs it."""
        from junjo.kernel.control_db import ControlDB

        return ControlDB(self.settings.control_db_path)

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
        """The local operator (``launch.local_token``), else the first principal a feature's
        resolver finds. Resolvers touch SQLite: call this off the event loop."""
        if self.launch.local_token:
            token = presented_key(request.headers.get)
            if token and hmac.compare_digest(token.encode(), self.launch.local_token.encode()):
                return Principal.operator()
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
