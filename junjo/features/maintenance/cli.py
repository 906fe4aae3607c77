"""``junjo prune``, ``junjo backup``, ``junjo restore``: through the running server's API
(its local token, from ``server.json``) when one runs on the data dir, else on the files
(holding the data dir's lock, so no server starts meanwhile)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from junjo.cli_support import ConfigFile, DataDir, emit_json, friendly_errors, load

if TYPE_CHECKING:
    from junjo.config import Settings

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(cli: typer.Typer) -> None:
    cli.command("prune")(prune)
    cli.command("backup")(backup)
    cli.command("restore")(restore)


def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go.")] = False,
    older_than: Annotated[
        str | None, typer.Option(help="Age such as 7d or 12h, instead of max_age_days.")
    ] = None,
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Delete the traces retention removes (oldest first, whole traces), or show them."""
    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        body: dict[str, Any] = {"dry_run": dry_run}
        if older_than is not None:
            body["older_than"] = older_than
        report = _on_server(settings, "/api/admin/prune", body)
        if report is None:
            report = _prune_files(settings, dry_run, older_than)
    if json_output:
        emit_json(report)
        return
    typer.echo(_describe_prune(report))


def _prune_files(settings: Settings, dry_run: bool, older_than: str | None) -> dict[str, Any]:
    from junjo.features.maintenance import retention
    from junjo.features.spans import SpanStore
    from junjo.kernel.errors import NotFound
    from junjo.kernel.principal import Principal

    older_ns = retention.parse_age(older_than) if older_than is not None else None
    policy = retention.Policy.from_settings(settings, older_ns)
    if not settings.spans_db_path.exists():
        raise NotFound(f"no span store in {settings.data_dir}: nothing to prune")
    with _locked(settings):
        store = SpanStore.open(settings.spans_db_path, wal_path=settings.wal_path)
        try:
            report = retention.prune(Principal.operator(), store, policy, dry_run=dry_run)
        finally:
            store.close()
    return report.as_dict()


def _describe_prune(report: dict[str, Any]) -> str:
    from junjo.kernel.times import iso_time

    verb = "would delete" if report["dry_run"] else "deleted"
    lines = [f"{verb} {report['traces']} traces ({report['spans']} spans)"]
    if report["traces"]:
        lines[0] += f" that ended {iso_time(report['oldest_end_ns'])}"
        lines[0] += f" to {iso_time(report['newest_end_ns'])}"
        services = ", ".join(f"{name or '(none)'}: {n}" for name, n in report["by_service"].items())
        lines.append(f"  by service: {services}")
        lines += [f"  {trace_id}" for trace_id in report["trace_ids"]]
        if report["traces"] > len(report["trace_ids"]):
            lines.append(f"  ... and {report['traces'] - len(report['trace_ids'])} more")
    if report["cutoff"] is not None:
        lines.append(f"  cutoff: traces that ended before {iso_time(report['cutoff'])}")
    mb = 1e6
    lines.append(
        f"  span store: file {report['file_bytes_before'] / mb:.1f} ->"
        f" {report['file_bytes_after'] / mb:.1f} MB, used {report['used_bytes_before'] / mb:.1f}"
        f" -> {report['used_bytes_after'] / mb:.1f} MB (free, reused:"
        f" {report['free_bytes_after'] / mb:.1f} MB); {report['seconds']} s"
    )
    return "\n".join(lines)


def backup(
    path: Annotated[Path, typer.Argument(help="A new or empty directory.")],
    json_output: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Write a consistent copy of the data dir to PATH, also while the server runs."""
    settings = load(config, data_dir=data_dir)
    target = path.expanduser().absolute()
    with friendly_errors():
        done = _on_server(settings, "/api/admin/backup", {"path": str(target)}, timeout=3600)
        if done is None:
            done = _backup_files(settings, target)
    if json_output:
        emit_json(done)
        return
    typer.echo(f"backup written to {done['path']}: {done['bytes'] / 1e6:.1f} MB")


def _backup_files(settings: Settings, target: Path) -> dict[str, Any]:
    import time

    from junjo.kernel import backup as files
    from junjo.kernel.errors import NotFound

    if not any((settings.data_dir / name).exists() for name in files.DATA_FILES):
        raise NotFound(f"no junjo data in {settings.data_dir}: nothing to back up")
    started = time.monotonic()
    with _locked(settings):
        destination = files.new_destination(target)
        copied = files.copy_stopped(settings.data_dir, destination)
    size = sum(p.stat().st_size for p in destination.iterdir())
    seconds = round(time.monotonic() - started, 3)
    return {"path": str(destination), "files": copied, "bytes": size, "seconds": seconds}


def restore(
    path: Annotated[Path, typer.Argument(help="A directory `junjo backup` wrote.")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Put a backup into the data dir (refused while a server runs on it). Files it
    replaces are moved to <data_dir>/backups/replaced-<time>/."""
    from junjo.kernel import backup as files

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        replaced = files.restore(path, settings.data_dir)
    typer.echo(f"restored {path} into {settings.data_dir}")
    if replaced is not None:
        typer.echo(f"the files it replaced are in {replaced}")
    typer.echo("start the server: it indexes what the backup's write-ahead log holds")


def _on_server(
    settings: Settings, route: str, body: dict[str, Any], timeout: float = 600
) -> dict[str, Any] | None:
    """POST to the server running on the data dir; None when none runs."""
    from junjo.kernel.runtime_file import read_runtime_file

    running = read_runtime_file(settings.runtime_file_path)
    if running is None:
        return None
    import httpx

    from junjo.kernel.errors import Conflict, InvalidInput, PermissionDenied, Unreachable

    headers = {"Authorization": f"Bearer {running.token}"}
    try:
        response = httpx.post(running.http_url + route, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach the local server {running.http_url}: {exc}") from exc
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        answer = {"detail": response.text[:200]}
    if response.status_code == 200:
        return answer
    detail = str(answer.get("detail", answer))
    errors = {409: Conflict, 422: InvalidInput, 403: PermissionDenied}
    raise errors.get(response.status_code, Unreachable)(detail)


class _locked:
    """The data dir's server lock, so no server starts while the files are used."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __enter__(self) -> None:
        from junjo.kernel.errors import Conflict
        from junjo.kernel.runtime_file import DataDirInUse, ServerLock

        self._settings.ensure_data_dir()
        try:
            self._lock = ServerLock(self._settings.data_dir)
        except DataDirInUse:
            raise Conflict("a junjo server started on the data dir meanwhile: retry") from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
