"""`junjo backup` of a running server while it ingests, `junjo restore`, and the backup a
server takes before migrating a data dir of an older release."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.maintenance.conftest import NOW, indexed, send, trace_request
from tests.support.cli import run_cli
from tests.support.keys import make_keys
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def stored_keys(data_dir: Path) -> list[tuple[str, str]]:
    conn = duckdb.connect(str(data_dir / "spans.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT trace_id, span_id FROM spans").fetchall()
    finally:
        conn.close()


def request_keys(request) -> list[tuple[str, str]]:
    return [
        (span.trace_id.hex(), span.span_id.hex())
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


class Sender(threading.Thread):
    """Sends one 40-span trace a request until stopped; records what was acknowledged."""

    def __init__(self, server: ServerProcess, key: str) -> None:
        super().__init__(daemon=True)
        self.server, self.key = server, key
        self.acked: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            _, request = trace_request(NOW, NOW + 10**9, 40, pad=200)
            send(self.server, self.key, [request])  # returns once acknowledged (200)
            with self.lock:
                self.acked += request_keys(request)

    def snapshot(self) -> set[tuple[str, str]]:
        with self.lock:
            return set(self.acked)


def test_a_backup_during_ingestion_restores_everything_acknowledged_once(tmp_path: Path):
    source, target, copy = tmp_path / "source", tmp_path / "target", tmp_path / "backup"
    keys = make_keys(source)
    with ServerProcess(source) as server:
        senders = [Sender(server, keys.ingest) for _ in range(3)]
        for sender in senders:
            sender.start()

        def acked() -> set[tuple[str, str]]:
            return set().union(*(sender.snapshot() for sender in senders))

        while len(acked()) < 6_000:
            time.sleep(0.05)
        acked_before = acked()
        started = time.monotonic()
        result = run_cli(source, "backup", str(copy), "--json")
        took = time.monotonic() - started
        for sender in senders:
            sender.halt.set()
        for sender in senders:
            sender.join(30)
        assert result.returncode == 0, result.stderr + server.log
        done = json.loads(result.stdout)
        print(f"backup with {len(acked_before)} spans acked before it: {took:.2f} s, {done}")
        # Taken while the server runs, to a path that exists: refused.
        again = run_cli(source, "backup", str(copy))
        assert again.returncode == 1 and "not an empty directory" in again.stderr
        # While a server runs on it, a data dir is not restored into.
        refused = run_cli(source, "restore", str(copy))
        assert refused.returncode == 1 and "running" in refused.stderr
    manifest = json.loads((copy / "backup.json").read_text())
    assert manifest["online"] and "server.json" not in manifest["files"]
    assert not (copy / "server.json").exists()

    restored = run_cli(target, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    with ServerProcess(target) as server:
        indexed(server, keys.read, len(acked_before))
        status = server.ingest_status(keys.read)
        # What the restored server took from the backup's WAL was all new to it.
        assert status["indexed"]["duplicate_spans"] == 0, status
    stored = stored_keys(target)
    assert len(stored) == len(set(stored)), "no span twice"
    assert acked_before <= set(stored), "every span acknowledged before the backup"
    # The same users and keys: the read key works on the restored server (checked above).


def test_restore_moves_the_replaced_files_aside(tmp_path: Path):
    source, copy = tmp_path / "source", tmp_path / "backup"
    keys = make_keys(source)
    with ServerProcess(source) as server:
        _, request = trace_request(NOW, NOW + 10**9, 3)
        send(server, keys.ingest, [request])
        indexed(server, keys.read, 3)
    offline = run_cli(source, "backup", str(copy), "--json")  # no server: on the files
    assert offline.returncode == 0, offline.stderr
    before = sorted(stored_keys(source))
    with ServerProcess(source) as server:
        _, later = trace_request(NOW, NOW + 10**9, 2)
        send(server, keys.ingest, [later])
        indexed(server, keys.read, 5)
    result = run_cli(source, "restore", str(copy))
    assert result.returncode == 0, result.stderr
    assert "replaced are in" in result.stdout
    assert sorted(stored_keys(source)) == before
    aside = next((source / "backups").glob("replaced-*"))
    assert len(stored_keys(aside)) == 5


def test_nothing_to_back_up_or_restore(tmp_path: Path):
    empty = run_cli(tmp_path / "none", "backup", str(tmp_path / "copy"))
    assert empty.returncode == 1 and "nothing to back up" in empty.stderr
    not_a_backup = run_cli(tmp_path / "data", "restore", str(tmp_path))
    assert not_a_backup.returncode == 2 and "not a junjo backup" in not_a_backup.stderr
