"""The ``junjo`` command. Subcommands import their feature lazily, so ``junjo --help``
stays fast and never loads the web stack, DuckDB or LiteLLM."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from junjo import DISTRIBUTION, __version__
from junjo.cli_support import ConfigFile, DataDir, friendly_errors, load

app = typer.Typer(
    name="junjo",
    help="Junjo server: receive OpenTelemetry traces from AI workflows and debug them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        # The distribution, not the command: the SDK installs a `junjo` command too.
        typer.echo(f"{DISTRIBUTION} {__version__}")
        # --version is eager (it runs before the rest is parsed): --verbose is looked up.
        if {"--verbose", "-v"} & set(sys.argv[1:]):
            from junjo.install import describe

            typer.echo("\n".join(describe()))
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="With --version: the Python, platform and install kind."
        ),
    ] = False,
) -> None:
    """Junjo server."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 26154).")] = None,
    grpc_port: Annotated[int | None, typer.Option(help="OTLP/gRPC port (default 26155).")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning, error.")] = None,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate chain: serve HTTPS and gRPC over TLS (with --tls-key)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key of --tls-cert (unencrypted).")
    ] = None,
) -> None:
    """Run the web UI, the REST API, OTLP ingestion (gRPC and HTTP) and the indexer."""
    _serve(
        config,
        host=host,
        port=port,
        grpc_port=grpc_port,
        data_dir=data_dir,
        log_level=log_level,
        log_format=log_format,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )


def _serve(config: Path | None, **flags: object) -> None:
    from junjo.server.serve import serve as run_server

    settings = load(config, **flags)
    with friendly_errors():
        run_server(settings)


@app.command()
def migrate(
    status: Annotated[bool, typer.Option("--status", help="Only show what would run.")] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Bring the data dir's databases up to this version's schema."""
    from junjo.migrate_cli import run_migrate

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        run_migrate(settings, status_only=status)


def _register_feature_commands() -> None:
    from junjo import features

    for feature in features.load():
        if feature.commands:
            feature.commands(app)


_register_feature_commands()


# `junjo serve` with plain options is parsed here instead of by typer: typer coerces every
# option through pydantic, which then stays loaded for the server's lifetime. Measured with
# scripts/bench_ingest.py's idle phase: 112 -> 105 MiB RSS at start-up, 131 -> 123 MiB idle.
# Anything else (--help, a bad value, an unknown option) goes to typer, which explains it.
# Keep in step with `serve` above (a test checks).
SERVE_OPTIONS: dict[str, Callable[[str], object]] = {
    "--host": str,
    "--port": int,
    "--grpc-port": int,
    "--data-dir": Path,
    "--config": Path,
    "--log-level": str,
    "--log-format": str,
    "--tls-cert": Path,
    "--tls-key": Path,
}


class _NotPlain(Exception):
    pass


def plain_serve_flags(args: list[str]) -> dict[str, Any] | None:
    """The options of ``serve ARGS`` when all of them are plain, else None (ask typer)."""
    if args[:1] != ["serve"]:
        return None
    import argparse  # here: every other command (and --help) would pay for it at start

    class _PlainParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _NotPlain(message)

    parser = _PlainParser(add_help=False, allow_abbrev=False)
    for option, kind in SERVE_OPTIONS.items():
        parser.add_argument(option, type=kind)
    try:
        return vars(parser.parse_args(args[1:]))
    except _NotPlain:
        return None


def main() -> None:
    flags = plain_serve_flags(sys.argv[1:])
    if flags is not None:
        try:
            _serve(**flags)
        except typer.Exit as exc:  # what typer would do with it
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C before the server took over the signals
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        return
    # Typer parses parameters through pydantic; its plugin scan of installed packages'
    # metadata costs ~35 ms at every start and junjo uses no pydantic plugins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    app()
