"""A real ``junjo serve`` subprocess under export load: ``kill -9`` and SIGTERM.

Every span the server acknowledged must end up in DuckDB exactly once after a restart.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from junjo.kernel.wal import SetAside, WriteAheadLog
from tests.support.cli import run_cli
from tests.support.export import TRACE_EXPORT, grpc_call, grpc_exporter, sdk_spans, span_keys
from tests.support.keys import make_keys
from tests.support.otlp_builders import make_span, request_payload
from tests.support.server import ServerProcess
from tests.support.span_store import span_key_counts
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

SENDERS = 4
BATCHES_PER_SENDER = 400
SPANS_PER_BATCH = 50


class Load:
    """Exporter threads that each send pre-built batches and record what was acknowledged."""

    def __init__(self, target: str, api_key: str) -> None:
        self.acked: list[tuple[str, str]] = []
        self.failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        batches = [
            [sdk_spans(SPANS_PER_BATCH) for _ in range(BATCHES_PER_SENDER)] for _ in range(SENDERS)
        ]
        self._threads = [
            threading.Thread(target=self._send, args=(target, api_key, mine), daemon=True)
            for mine in batches
        ]

    def _send(self, target: str, api_key: str, batches: list) -> None:
        exporter = grpc_exporter(target, api_key)
        exporter._timeout = 2  # a dead server should fail a batch quickly, not after 10 s
        for spans in batches:
            if self._stop.is_set():
                return
            result = exporter.export(spans)
            with self._lock:
                if result == SpanExportResult.SUCCESS:
                    self.acked.extend(span_keys(spans))
                else:
                    self.failed += 1

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def wait_for_acks(self, count: int, timeout: float = 60) -> None:
        wait_until(
            lambda: len(self.acked) >= count,
            timeout,
            interval=0.02,
            message=lambda: f"only {len(self.acked)} spans acked",
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def wait_until_indexed(server: ServerProcess, read_key: str, timeout: float = 120) -> dict:
    status: dict = {}

    def caught_up() -> dict | None:
        status.update(server.ingest_status(read_key))
        return status if status["backlog"]["batches"] == 0 else None

    return wait_until(
        caught_up, timeout, interval=0.1, message=lambda: f"indexer did not catch up: {status}"
    )


def assert_acked_spans_stored_once(data_dir: Path, acked: list[tuple[str, str]]) -> None:
    counts = span_key_counts(data_dir / "spans.duckdb")
    assert len(set(acked)) == len(acked)
    missing = [key for key in acked if counts.get(key, 0) == 0]
    duplicated = {key: n for key, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {missing[:3]}"
    assert not duplicated, f"duplicated spans: {list(duplicated.items())[:3]}"


def run_load_then(
    data_dir: Path, min_acks: int, interrupt: Callable[[ServerProcess], None]
) -> tuple[ServerProcess, list[tuple[str, str]], str]:
    """Start a server, export under load, call ``interrupt`` mid-load; what was acked."""
    keys = make_keys(data_dir)
    server = ServerProcess(data_dir).start()
    load = Load(server.grpc_target, keys.ingest).start()
    try:
        load.wait_for_acks(min_acks)
        interrupt(server)
    finally:
        load.stop()
        server.kill()
    print(f"acked {len(load.acked)} spans, {load.failed} batches failed")
    return server, list(load.acked), keys.read


def restart_and_check(data_dir: Path, read_key: str, acked: list[tuple[str, str]]) -> None:
    with ServerProcess(data_dir) as restarted:
        status = wait_until_indexed(restarted, read_key)
        assert status["accepted"]["spans"] >= len(acked)
    assert_acked_spans_stored_once(data_dir, acked)


def test_kill_9_under_load_loses_no_acknowledged_span(tmp_path: Path):
    def kill_9(server: ServerProcess) -> None:
        server.proc.send_signal(signal.SIGKILL)  # exports are in flight
        server.proc.wait(10)

    _, acked, read_key = run_load_then(tmp_path / "data", 3_000, kill_9)
    restart_and_check(tmp_path / "data", read_key, acked)


def test_sigterm_under_load_is_graceful(tmp_path: Path):
    def sigterm(server: ServerProcess) -> None:
        started = time.monotonic()
        assert server.stop(signal.SIGTERM, timeout=30) == 0
        assert time.monotonic() - started < 15

    server, acked, read_key = run_load_then(tmp_path / "data", 2_000, sigterm)
    assert "Traceback" not in server.log, server.log
    restart_and_check(tmp_path / "data", read_key, acked)


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def test_spans_are_converted_in_the_server_process(tmp_path: Path):
    # Before: a group of >= 2 MiB was converted in a worker process, which outlived a
    # `kill -9` of junjo serve until it learnt to watch for it. Now there is none to orphan.
    keys = make_keys(tmp_path / "data")
    server = ServerProcess(tmp_path / "data").start()
    try:
        big = [make_span(attributes={"doc": "x" * 900_000}) for _ in range(3)]
        code, _, _ = grpc_call(server.grpc_target, TRACE_EXPORT, request_payload(big), keys.ingest)
        assert code.name == "OK"
        wait_until_indexed(server, keys.read)
        assert children_of(server.proc.pid) == set()
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)


def test_quarantine_is_listed_and_replayed_from_the_terminal(tmp_path: Path):
    data_dir = tmp_path / "data"
    read_key = make_keys(data_dir).read
    spans = [make_span(), make_span()]
    wal = WriteAheadLog(data_dir / "wal.db")
    wal.quarantine([SetAside(3, 1, None, 2, "store: boom", request_payload(spans))])
    wal.quarantine([SetAside(4, 1, None, 1, "convert: bad", request_payload(spans[:1]))])
    wal.close()

    listed = json.loads(run_cli(data_dir, "quarantine", "list", "--json").stdout)  # no server
    assert [(e["seq"], e["span_count"]) for e in listed["entries"]] == [(4, 1), (3, 2)]
    assert run_cli(data_dir, "quarantine", "replay").returncode == 2  # ids or --all
    missing = run_cli(data_dir, "quarantine", "replay", "99")
    assert missing.returncode == 1 and "no quarantine entry 99" in missing.stderr
    first = listed["entries"][-1]["id"]
    assert (
        "Replayed 1 entries (2 spans)"
        in run_cli(data_dir, "quarantine", "replay", str(first)).stdout
    )
    with ServerProcess(data_dir) as server:  # indexes what was replayed; the rest via its API
        listed = json.loads(run_cli(data_dir, "quarantine", "list", "--json").stdout)
        assert [e["seq"] for e in listed["entries"]] == [4]
        shown = run_cli(data_dir, "quarantine", "list")
        assert "convert: bad" in shown.stdout and "1 entries, 1 spans in all" in shown.stdout
        replayed = json.loads(run_cli(data_dir, "quarantine", "replay", "--all", "--json").stdout)
        assert replayed == {"replayed": [listed["entries"][0]["id"]], "spans": 1}
        status = wait_until_indexed(server, read_key)
        assert status["indexed"]["spans"] == 2 and status["indexed"]["duplicate_spans"] == 1
        assert status["quarantine"]["pending_entries"] == 0
