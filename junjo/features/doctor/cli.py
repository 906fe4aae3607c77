"""``junjo doctor [--json]``: exit code 0 when nothing fails (warnings allowed), else 1."""

from __future__ import annotations

from typing import Annotated

import typer

from junjo.cli_support import ConfigFile, DataDir, emit_json, friendly_errors, load

_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Check ports, data dir permissions, disk, schema versions, the WAL backlog, the span
    converter, LLM providers and TLS files, and say what to fix (exit code 1 if anything
    fails)."""
    from junjo import DISTRIBUTION, __version__
    from junjo.features.doctor.service import diagnose
    from junjo.install import install_kind
    from junjo.migrate_cli import data_dir_stores

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        checks = diagnose(settings, data_dir_stores(settings))
    failed = [c for c in checks if c.status == "fail"]
    warned = [c for c in checks if c.status == "warn"]
    if json_output:
        emit_json(
            {
                "ok": not failed,
                "version": __version__,
                "install": install_kind(),
                "data_dir": str(settings.data_dir),
                "checks": [c.as_dict() for c in checks],
            }
        )
    else:
        typer.echo(f"{DISTRIBUTION} {__version__}, {install_kind()}")
        width = max(len(c.name) for c in checks)
        for check in checks:
            typer.echo(f"{_MARKS[check.status]}  {check.name:<{width}}  {check.detail}")
            if check.fix:
                typer.echo(f"      {'':<{width}}  fix: {check.fix}")
        typer.echo(f"\n{len(failed)} problem(s), {len(warned)} warning(s).")
    if failed:
        raise typer.Exit(1)
