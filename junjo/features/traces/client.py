"""Where ``junjo traces`` gets its answers, chosen automatically:

1. ``--server URL --api-key KEY``: a remote server's REST API (a read-scope key);
2. a server running on this data dir (its ``server.json``): that server's REST API, with
   the local token it wrote, since DuckDB lets only one process open the file for writing;
3. otherwise: the data dir's DuckDB file, opened read-only.

Each source returns the same JSON shapes (the REST API's), so output never depends on
which one answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from junjo.config import Settings
from junjo.kernel.errors import InvalidInput, NotFound, Unreachable


class TraceSource(Protocol):
    description: str

    def search(self, params: Mapping[str, str]) -> dict[str, Any]: ...
    def trace(self, trace_id: str) -> dict[str, Any]: ...
    def services(self) -> list[dict[str, Any]]: ...
    def workflow(self, trace_id: str, span_id: str) -> dict[str, Any]: ...
    def close(self) -> None: ...


class LocalFiles:
    """Reads the span store directly (no server owns the data dir)."""

    def __init__(self, settings: Settings) -> None:
        self.description = f"data dir {settings.data_dir}"
        self._path = settings.spans_db_path

    def _run(self, query: Any, *args: Any, empty: Any) -> Any:
        """Run one query, opening the file for it alone: DuckDB's lock then lasts
        milliseconds, so a `junjo serve` starting meanwhile is not locked out. ``empty``
        is the answer while no span store exists (nothing ingested on this data dir)."""
        from junjo.features.spans import SpanStore
        from junjo.kernel.principal import Principal

        if not self._path.exists():
            return empty
        try:
            store = SpanStore.open_readonly(self._path)
        except Exception as exc:  # duckdb.IOException while a server writes it
            raise Unreachable(
                f"cannot open {self._path}: {exc}. If a server is starting on this data "
                "dir, retry in a moment."
            ) from exc
        try:
            conn = store.cursor()
            try:
                return query(conn, Principal.operator(), *args)
            finally:
                conn.close()
        finally:
            store.close()

    def search(self, params: Mapping[str, str]) -> dict[str, Any]:
        from junjo.features.traces import queries
        from junjo.features.traces.params import filters_from_params

        filters = filters_from_params(params)
        return self._run(queries.search_traces, filters, empty={"traces": [], "next_cursor": None})

    def trace(self, trace_id: str) -> dict[str, Any]:
        from junjo.features.traces import queries

        detail = self._run(queries.trace_detail, queries.check_trace_id(trace_id), empty=None)
        if detail is None:
            raise NotFound("Trace not found")
        return {**detail, "spans": [queries.studio_span(s) for s in detail["spans"]]}

    def services(self) -> list[dict[str, Any]]:
        from junjo.features.traces import queries

        return self._run(queries.service_summaries, empty=[])

    def workflow(self, trace_id: str, span_id: str) -> dict[str, Any]:
        from junjo.features.traces import queries

        ids = queries.check_trace_id(trace_id), queries.check_span_id(span_id)
        execution = self._run(queries.workflow_execution, *ids, empty=None)
        if execution is None:
            raise NotFound("Trace not found")
        return execution

    def close(self) -> None:
        pass


class HttpServer:
    """A junjo server's REST API (local with its token, or remote with a read key)."""

    def __init__(self, url: str, token: str, description: str) -> None:
        import httpx

        self.description = description
        try:
            self._client = httpx.Client(
                base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        except httpx.InvalidURL as exc:
            raise InvalidInput(f"--server: {url!r} is not a URL ({exc})") from exc

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        import httpx

        try:
            response = self._client.get(path, params=dict(params or {}))
        except httpx.InvalidURL as exc:
            raise InvalidInput(f"--server: not a usable URL ({exc})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.description}: {exc}") from exc
        if response.status_code == 200:
            return response.json()
        detail = _detail(response)
        if response.status_code in (401, 403):
            raise Unreachable(f"{self.description} refused the credentials: {detail}")
        if response.status_code == 404:
            raise NotFound(detail)
        if response.status_code == 422:
            raise InvalidInput(detail)
        raise Unreachable(f"{self.description} answered {response.status_code}: {detail}")

    def search(self, params: Mapping[str, str]) -> dict[str, Any]:
        return self._get("/api/v1/traces", params)

    def trace(self, trace_id: str) -> dict[str, Any]:
        return self._get(f"/api/v1/traces/{trace_id}")

    def services(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/services")

    def workflow(self, trace_id: str, span_id: str) -> dict[str, Any]:
        return self._get(f"/api/v1/traces/{trace_id}/workflows/{span_id}")

    def close(self) -> None:
        self._client.close()


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


def open_source(settings: Settings, server: str | None, api_key: str | None) -> TraceSource:
    if server:
        if not api_key:
            raise InvalidInput("--server needs --api-key (a read-scope key)")
        return HttpServer(server, api_key, f"server {server}")
    from junjo.kernel.runtime_file import read_runtime_file

    running = read_runtime_file(settings.runtime_file_path)
    if running is not None:
        return HttpServer(running.http_url, running.token, f"local server {running.http_url}")
    return LocalFiles(settings)
