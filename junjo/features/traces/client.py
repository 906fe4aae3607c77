"""Where ``junjo traces`` gets its answers, chosen automatically:

1. ``--server URL --api-key KEY``: a remote server's REST API (a read-scope key);
2. a server running on this data dir (its ``server.json``): that server's REST API, with
   the local token it wrote, since DuckDB lets only one process open the file for writing;
3. otherwise: the same app, called in-process, reading the data dir's DuckDB file
   read-only (one query at a time).

Every source is the REST API, so output never depends on which one answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, Protocol

from junjo.config import Settings
from junjo.kernel.errors import InvalidInput, NotFound, Unreachable

if TYPE_CHECKING:
    import ssl

    import httpx

# What the in-process app loads: reading needs no users, keys, sessions or ingestion.
READ_ONLY_FEATURES = (
    "junjo.features.meta",
    "junjo.features.spans",
    "junjo.features.workflows",
    "junjo.features.traces",
)


class TraceSource(Protocol):
    description: str  # what it reads, for messages: "data dir …", "server …"

    def search(self, params: Mapping[str, str]) -> dict[str, Any]: ...
    def trace(self, trace_id: str) -> dict[str, Any]: ...
    def services(self) -> list[dict[str, Any]]: ...
    def workflow(self, trace_id: str, span_id: str) -> dict[str, Any]: ...
    def otlp(self, trace_id: str) -> dict[str, Any]: ...
    def export(self, params: Mapping[str, str], out: BinaryIO) -> int: ...
    def close(self) -> None: ...


class HttpServer:
    """A junjo server's REST API: remote with a read key, the local server with its token,
    or this data dir's files through the same app in-process (``in_process``)."""

    def __init__(self, client: httpx.Client, description: str) -> None:
        self.description = description
        self._client = client

    @classmethod
    def at(
        cls, url: str, token: str, description: str, verify: ssl.SSLContext | bool = True
    ) -> HttpServer:
        import httpx

        try:
            client = httpx.Client(
                base_url=url.rstrip("/"),
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                verify=verify,
            )
        except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: a bad host name
            raise InvalidInput(f"--server: {url!r} is not a URL ({exc})") from exc
        return cls(client, description)

    @classmethod
    def in_process(cls, settings: Settings) -> HttpServer:
        """The app itself, called in-process (as Datasette's internal client does), reading
        the span store read-only: the answers are the REST API's, shaped in one place."""
        import secrets

        from junjo.kernel.state import Launch
        from junjo.server.app import create_app
        from junjo.server.in_process import in_process_client

        token = secrets.token_urlsafe(16)
        launch = Launch(local_token=token, read_only=True)
        app = create_app(settings, launch, feature_names=READ_ONLY_FEATURES)
        client = in_process_client(app, headers={"Authorization": f"Bearer {token}"})
        return cls(client, f"data dir {settings.data_dir}")

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        import httpx

        try:
            response = self._client.get(path, params=dict(params or {}))
        except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: a bad host name
            raise InvalidInput(f"--server: not a usable URL ({exc})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.description}: {exc}") from exc
        if response.status_code == 200:
            return response.json()
        self._raise_for(response)

    def _raise_for(self, response: httpx.Response) -> NoReturn:
        detail = _detail(response)
        if response.status_code in (401, 403):
            raise Unreachable(f"{self.description} refused the credentials: {detail}")
        if response.status_code == 404:
            raise NotFound(detail)
        if response.status_code == 422:
            raise InvalidInput(detail)
        raise Unreachable(f"{self.description} answered {response.status_code}: {detail}")

    def search(self, params: Mapping[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = self._get("/api/v1/traces", params)
        return found

    def trace(self, trace_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/api/v1/traces/{trace_id}")
        return found

    def services(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get("/api/v1/services")
        return found

    def workflow(self, trace_id: str, span_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/api/v1/traces/{trace_id}/workflows/{span_id}")
        return found

    def otlp(self, trace_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/api/v1/traces/{trace_id}/otlp")
        return found

    def export(self, params: Mapping[str, str], out: BinaryIO) -> int:
        """``GET /api/v1/export`` streamed into ``out``; returns how many traces."""
        import httpx

        try:
            with self._client.stream("GET", "/api/v1/export", params=dict(params)) as response:
                if response.status_code != 200:
                    response.read()
                    self._raise_for(response)
                for chunk in response.iter_bytes():
                    out.write(chunk)
                return int(response.headers.get("X-Junjo-Traces", "0"))
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.description}: {exc}") from exc

    def close(self) -> None:
        self._client.close()  # an in-process app's lifespan ends with it


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


def open_source(settings: Settings, server: str | None, api_key: str | None) -> TraceSource:
    if server:
        if not api_key:
            raise InvalidInput("--server needs --api-key (a read-scope key)")
        return HttpServer.at(server, api_key, f"server {server}")
    from junjo.kernel.runtime_file import read_runtime_file

    running = read_runtime_file(settings.runtime_file_path)
    if running is not None:
        description = f"local server {running.http_url}"
        return HttpServer.at(running.http_url, running.token, description, running.client_verify())
    return HttpServer.in_process(settings)
