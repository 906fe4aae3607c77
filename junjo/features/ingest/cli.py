"""``junjo quarantine ...``: what the indexer set aside, and replaying it.

Through the running server on this data dir (its API, with the local token), or, when none
runs, on the data dir's WAL file, where the quarantine is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from junjo.cli_support import ConfigFile, DataDir, emit_json, fail, friendly_errors, load

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class _Quarantine(Protocol):
    def entries(self, limit: int) -> dict[str, Any]: ...
    def replay(self, ids: list[int] | None) -> dict[str, Any]: ...


@app.command("list")
def list_entries(
    limit: Annotated[int, typer.Option(min=0, max=1000, help="Entries to show.")] = 20,
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """The newest entries the indexer set aside: batch, spans, error."""
    with _quarantine(data_dir, config) as quarantine:
        found = quarantine.entries(limit)
    if json_output:
        emit_json(found)
        return
    if not found["entries"]:
        typer.echo("Nothing is quarantined.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "WAL batch", "spans", "error")
    for entry in found["entries"]:
        table.add_row(str(entry["id"]), str(entry["seq"]), str(entry["span_count"]), entry["error"])
    Console().print(table)
    typer.echo(f"{found['pending_entries']} entries, {found['pending_spans']} spans in all.")


@app.command("replay")
def replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Entry ids (see `list`).")] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Replay every entry.")] = False,
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Index entries again: their requests go back into the write-ahead log."""
    if bool(ids) == all_entries:
        fail("give entry ids, or --all", 2)
    with _quarantine(data_dir, config) as quarantine:
        result = quarantine.replay(None if all_entries else list(ids or ()))
    if json_output:
        emit_json(result)
    else:
        typer.echo(f"Replayed {len(result['replayed'])} entries ({result['spans']} spans).")


@contextlib.contextmanager
def _quarantine(data_dir: Path | None, config: Path | None) -> Iterator[_Quarantine]:
    from junjo.kernel.runtime_file import read_runtime_file

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        running = read_runtime_file(settings.runtime_file_path)
        if running is not None:
            verify = running.client_verify()
            with _ServerQuarantine(running.http_url, running.token, verify) as remote:
                yield remote
        else:
            with _FilesQuarantine(settings) as files:
                yield files


class _ServerQuarantine:
    def __init__(self, url: str, token: str, verify: Any = True) -> None:
        import httpx

        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60, verify=verify
        )

    def entries(self, limit: int) -> dict[str, Any]:
        return self._call("GET", "/api/v1/ingest/quarantine", params={"limit": limit})

    def replay(self, ids: list[int] | None) -> dict[str, Any]:
        body = {"all": True} if ids is None else {"ids": ids}
        return self._call("POST", "/api/v1/ingest/quarantine/replay", json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        from junjo.kernel.errors import JunjoError, NotFound, Unreachable

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach the local server: {exc}") from exc
        if response.status_code == 200:
            answer: dict[str, Any] = response.json()
            return answer
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:200]
        raise (NotFound if response.status_code == 404 else JunjoError)(detail)

    def __enter__(self) -> _ServerQuarantine:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()


class _NoQuarantine:
    """A data dir without a WAL file yet: nothing was ever set aside."""

    def quarantined_ids(self, ids: Any) -> set[int]:
        return set()

    def replay(self, ids: Any) -> list[tuple[int, int]]:
        return []


class _FilesQuarantine:
    """The data dir's WAL file, while no server runs. (The next `junjo serve` indexes what
    is replayed; the quarantine kept by older versions in the span store is moved at its
    start too.)"""

    def __init__(self, settings: Any) -> None:
        from junjo.kernel.principal import Principal

        self._operator = Principal.operator()
        self._settings = settings
        self._stack = contextlib.ExitStack()

    def _wal(self) -> Any:
        from junjo.kernel.wal import WriteAheadLog

        wal = WriteAheadLog(self._settings.wal_path)
        self._stack.callback(wal.close)
        return wal

    def entries(self, limit: int) -> dict[str, Any]:
        from junjo.features.ingest import quarantine

        if not self._settings.wal_path.exists():
            return {"pending_entries": 0, "pending_spans": 0, "entries": []}
        return quarantine.list_entries(self._wal(), self._operator, limit)

    def replay(self, ids: list[int] | None) -> dict[str, Any]:
        from junjo.features.ingest import quarantine

        if not self._settings.wal_path.exists():
            return quarantine.replay(_NoQuarantine(), self._operator, ids)
        return quarantine.replay(self._wal(), self._operator, ids)

    def __enter__(self) -> _FilesQuarantine:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
