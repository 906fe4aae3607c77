"""``junjo traces ...`` and ``junjo services``: inspect traces from a terminal.

Exit codes: 0 ok, 1 not found, 2 usage (bad arguments), 3 cannot reach the server or
authentication failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from junjo.cli_support import ConfigFile, DataDir, emit_json, friendly_errors, load

if TYPE_CHECKING:
    from rich.console import Console

    from junjo.features.traces.client import TraceSource

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

Server = Annotated[
    str | None,
    typer.Option("--server", envvar="JUNJO_SERVER", help="Remote server URL [env JUNJO_SERVER]."),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="JUNJO_API_KEY", help="Read-scope key [env JUNJO_API_KEY]."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Service = Annotated[str | None, typer.Option("--service", help="Only this service.")]
Errors = Annotated[bool, typer.Option("--errors", help="Only traces with an error.")]


@contextlib.contextmanager
def _source(
    data_dir: Path | None, config: Path | None, server: str | None, api_key: str | None
) -> Iterator[TraceSource]:
    """Open the right trace source; errors become one line and an exit code."""
    from junjo.features.traces.client import open_source

    settings = load(config, data_dir=data_dir)
    with friendly_errors():
        source = open_source(settings, server, api_key)
        try:
            yield source
        finally:
            source.close()


def _console() -> Console:
    from rich.console import Console

    return Console()


def _params(service: str | None, errors: bool, **extra: object) -> dict[str, str]:
    """The REST query string for these options (unset ones left out)."""
    params: dict[str, object] = {"service": service, "errors": "true" if errors else None}
    params.update(extra)
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


@app.command("list")
def list_traces(
    service: Service = None,
    since: Annotated[str | None, typer.Option(help="e.g. 1h, 30m, 2d, or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="Started before; like --since.")] = None,
    errors: Errors = False,
    llm: Annotated[bool, typer.Option("--llm", help="Only traces with an LLM call.")] = False,
    name: Annotated[str | None, typer.Option(help="Some span of the trace has this name.")] = None,
    attr: Annotated[
        str | None, typer.Option(help="key=value: some span of the trace has it.")
    ] = None,
    min_duration: Annotated[
        str | None, typer.Option(help="At least this long: 250ms, 1.5s, 2m.")
    ] = None,
    sort: Annotated[
        str, typer.Option(help="start, duration, spans, errors, llm or tokens.")
    ] = "start",
    asc: Annotated[bool, typer.Option("--asc", help="Smallest (oldest) first.")] = False,
    cursor: Annotated[str | None, typer.Option(help="Another page: a printed cursor.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many traces.")] = 20,
    json_output: AsJson = False,
    server: Server = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """A table of the newest traces (or sorted by another column), a page at a time."""
    from junjo.features.traces import render

    params = _params(
        service,
        errors,
        since=since,
        until=until,
        llm="true" if llm else None,
        name=name,
        attr=attr,
        min_duration=min_duration,
        sort=None if sort == "start" else sort,
        order="asc" if asc else None,
        cursor=cursor,
        limit=limit,
    )
    with _source(data_dir, config, server, api_key) as source:
        page = source.search(params)
        if not json_output and not page["traces"]:
            typer.echo(_nothing_found(source, params))
            return
    if json_output:
        emit_json(page)
        return
    _console().print(render.traces_table(page["traces"]))
    if page["next_cursor"]:
        # On stderr: the table stays the only thing on stdout.
        typer.echo(f"More: --cursor {page['next_cursor']}", err=True)


def _nothing_found(source: TraceSource, params: dict[str, str]) -> str:
    """Why the list is empty: no traces at all, or none that the filters match."""
    filtered = {k: v for k, v in params.items() if k not in ("limit", "sort", "order")}
    if filtered and source.search({"limit": "1"})["traces"]:
        return f"No traces match these filters in {source.description}."
    return f"No traces yet in {source.description}."


@app.command("show")
def show(
    trace_id: str,
    state: Annotated[
        bool, typer.Option("--state", help="Each store transition as a diff.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="LLM messages whole, not cut to one line.")
    ] = False,
    json_output: AsJson = False,
    server: Server = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """The span tree of one trace, with a waterfall, errors, and each LLM call's model,
    tokens and messages."""
    from junjo.features.traces import render

    with _source(data_dir, config, server, api_key) as source:
        trace_id = _resolve_prefix(source, trace_id.lower())
        detail = source.trace(trace_id)
        workflows = []
        if state:
            owners = [s for s in detail["spans"] if _replays_a_store(s)]
            owners.sort(key=lambda span: span["start_time_ns"])
            workflows = [source.workflow(trace_id, s["span_id"]) for s in owners]
    if json_output:
        emit_json({**detail, "workflows": workflows} if state else detail)
        return
    console = _console()
    console.print(render.span_tree(detail, full=full))
    for execution in workflows:
        console.print(render.transitions(execution))


@app.command("export")
def export(
    trace_id: Annotated[str | None, typer.Argument(help="One trace (else --since).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Traces that started since: 1h, 7d, an ISO-8601 time.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="... and before this (like --since).")] = None,
    service: Service = None,
    fmt: Annotated[
        str, typer.Option("--format", help="otlp-json (one request a line) or parquet.")
    ] = "otlp-json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    server: Server = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Traces as OTLP/JSON, which any OTLP receiver takes back (POST /v1/traces,
    Content-Type: application/json), or as Parquet. TRACE_ID: that trace, one JSON document,
    as the web UI's "Download" gives it. --since: every trace that started in the range
    (--until, --service), one ExportTraceServiceRequest a line (JSON Lines), or with
    --format parquet the span rows (needs --output)."""
    from junjo.kernel.errors import InvalidInput

    with _source(data_dir, config, server, api_key) as source:
        if (trace_id is None) == (since is None):
            raise InvalidInput("give a TRACE_ID or --since")
        if trace_id is not None:
            if fmt != "otlp-json" or until or service:
                raise InvalidInput(
                    "one trace is exported as OTLP/JSON; drop --format/--until/--service"
                )
            document = source.otlp(_resolve_prefix(source, trace_id.lower()))
            _write_text(output, json.dumps(document, indent=2) + "\n")
            return
        if fmt == "parquet" and output is None:
            raise InvalidInput("--format parquet needs --output FILE")
        params = {"since": since or "", "format": fmt}
        params |= {k: v for k, v in (("until", until), ("service", service)) if v}
        count = _export_to(source, params, output)
    typer.echo(f"exported {count} traces" + (f" to {output}" if output else ""), err=True)


def _write_text(output: Path | None, text: str) -> None:
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


def _export_to(source: TraceSource, params: dict[str, str], output: Path | None) -> int:
    if output is None:
        count = source.export(params, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return count
    partial = output.with_name(output.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            count = source.export(params, handle)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return count


_OWNER_TYPES = ("workflow", "subflow")
# Telemetry contract 3: an Agent run that used an application Store replays it too.
_AGENT_APPLICATION_STORE = "junjo.agent.application_store.id"


def _replays_a_store(span: dict[str, Any]) -> bool:
    if span.get("junjo_span_type") in _OWNER_TYPES:
        return True
    attrs = span.get("attributes_json") or {}
    return span.get("junjo_span_type") == "agent" and _AGENT_APPLICATION_STORE in attrs


def _resolve_prefix(source: TraceSource, trace_id: str) -> str:
    """Accept a unique prefix of a trace id (less to type)."""
    from junjo.kernel.errors import InvalidInput, NotFound

    if len(trace_id) == 32:
        return trace_id
    if len(trace_id) < 4:
        raise InvalidInput("give at least 4 characters of the trace id")
    matches = source.search({"trace_id_prefix": trace_id, "limit": "2"})["traces"]
    if not matches:
        raise NotFound(f"no trace id starts with {trace_id}")
    if len(matches) > 1:
        raise InvalidInput(f"more than one trace id starts with {trace_id}; give more of it")
    return str(matches[0]["trace_id"])


@app.command("tail")
def tail(
    service: Service = None,
    errors: Errors = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 1.0,
    json_output: AsJson = False,
    server: Server = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Follow new traces as they arrive, one line each, until Ctrl-C."""

    def open_source() -> contextlib.AbstractContextManager[TraceSource]:
        return _source(data_dir, config, server, api_key)

    _until_ctrl_c(lambda: _follow(open_source, _params(service, errors), interval, json_output))


def _follow(
    open_source: Callable[[], contextlib.AbstractContextManager[TraceSource]],
    params: dict[str, str],
    interval: float,
    json_output: bool,
) -> None:
    """Print each trace indexed after the start, polling forever."""
    import json

    from junjo.features.traces import render

    console = _console()
    seen_after = time.time_ns()
    # On stderr, so --json output stays clean; also tells scripts that tail is following.
    typer.echo("Following new traces; Ctrl-C to stop.", err=True)
    while True:
        # Resolved on every poll, so tail carries on across server restarts and never
        # holds the DuckDB file between polls.
        with open_source() as source:
            page = source.search({**params, "indexed_after": str(seen_after), "limit": "200"})
        for summary in sorted(page["traces"], key=lambda s: s["indexed_at_ns"]):
            seen_after = max(seen_after, summary["indexed_at_ns"])
            if json_output:
                typer.echo(json.dumps(summary))
            else:
                console.print(render.trace_line(summary))
        time.sleep(interval)


def _until_ctrl_c(work: Callable[[], None]) -> None:
    """Run ``work`` until it returns or fails, or until Ctrl-C, which ends the command at
    once (exit code 0) whatever ``work`` is doing.

    Python runs a signal handler only between bytecodes of the main thread, so a Ctrl-C
    during a C call waits for that call: measured 8 s for a DuckDB query (which then fails
    with RuntimeError "Query interrupted", a traceback), and opening a DuckDB file or a
    DNS lookup are not interruptible either. So ``work`` runs in a thread with SIGINT
    blocked (threads it starts, DuckDB's, inherit that), the signal always lands on the
    main thread, which only waits, and the process exits without waiting for the worker:
    it holds nothing but read handles and whole lines already printed.

    The handler is installed explicitly because a command started from a script's
    ``cmd &`` (a test runner started that way included) inherits SIGINT *ignored*, and
    Python keeps it so: tail, which only ever ends on Ctrl-C, would then never end.
    """
    failure: list[BaseException] = []

    def run() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            work()
        except BaseException as exc:  # re-raised below: its message and exit code
            failure.append(exc)

    worker = threading.Thread(target=run, name="junjo-tail", daemon=True)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        worker.start()
        worker.join()  # interruptible: SIGINT raises KeyboardInterrupt here
    except KeyboardInterrupt:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # e.g. a closed pipe
                stream.flush()
        os._exit(0)
    if failure:
        raise failure[0]


def services(
    json_output: AsJson = False,
    server: Server = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """One line per service: traces, spans, error rate, LLM calls, tokens, last seen."""
    from junjo.features.traces import render

    with _source(data_dir, config, server, api_key) as source:
        found = source.services()
    if json_output:
        emit_json(found)
    elif not found:
        typer.echo("No services yet.")
    else:
        _console().print(render.services_table(found))
