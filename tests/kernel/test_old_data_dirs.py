"""Data dirs that earlier releases wrote still open, migrate, and keep their data."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import duckdb
import pytest

from junjo.config import Settings
from junjo.features.api_keys.service import KeyVerifier, hash_key
from junjo.features.spans.convert import convert_request
from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_MIGRATIONS
from junjo.features.spans.store import SpanStore
from junjo.features.traces import queries
from junjo.features.users.passwords import hash_password
from junjo.features.users.service import check_credentials
from junjo.kernel.control_db import CONTROL_MIGRATIONS, open_control_db
from junjo.kernel.migrations import current_version
from junjo.kernel.principal import Principal
from junjo.kernel.transaction import transaction
from junjo.kernel.wal import WAL_MIGRATIONS, SetAside, WriteAheadLog
from junjo.migrate_cli import run_migrate
from tests.kernel import old_stores as old
from tests.support.otlp_builders import junjo_workflow_trace, request_payload

RAW_KEY = "jk_old_release_key"


def old_control_db(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(old.CONTROL_VERSION_TABLE)
    conn.execute(old.CONTROL_V1_USERS)
    conn.execute(old.CONTROL_V1_API_KEYS)
    conn.execute(
        "INSERT INTO schema_version VALUES (1, 'users and api keys', '2025-06-01T00:00:00Z')"
    )
    conn.execute(
        "INSERT INTO users VALUES ('u1', 'old@example.com', ?, 1, 0, '2025-06-01T00:00:00Z',"
        " '2025-06-01T00:00:00Z')",
        (hash_password("pw-123456"),),
    )
    conn.execute(
        "INSERT INTO api_keys VALUES ('k1', 'exporter', ?, 'jk_old', 'ingest',"
        " '2025-06-01T00:00:00Z', 'u1', NULL)",
        (hash_key(RAW_KEY),),
    )
    conn.close()


def old_wal(path: Path, *, with_quarantine: bool) -> None:
    """A WAL holding one batch (and, in the later layout, one quarantine entry)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(old.WAL_BEFORE_QUARANTINE)
    conn.execute(
        "INSERT INTO batches (received_at_ns, api_key_id, span_count, payload)"
        " VALUES (1, 'k1', 3, x'0102')"
    )
    conn.execute("UPDATE totals SET accepted_batches = 7, accepted_spans = 21, pending_bytes = 2")
    if with_quarantine:
        conn.executescript(old.WAL_QUARANTINE)
        conn.execute(
            "INSERT INTO quarantine (seq, received_at_ns, api_key_id, span_count, error,"
            " quarantined_at_ns, digest, payload) VALUES (3, 1, 'k1', 2, 'convert: bad', 2,"
            " x'00', x'0304')"
        )
    conn.close()


def old_span_store(path: Path, trace: list) -> None:
    """Migrations 1-3 as the old runner applied them, the spans of ``trace`` and a
    quarantined batch stored between 1 and 2 (so migration 2's backfill summarizes them)."""
    rows = convert_request(request_payload(trace), seq=5, indexed_at_ns=time.time_ns()).spans
    conn = duckdb.connect(str(path))
    for version, description, sql in old.SPANS_STEPS:
        with transaction(conn, "BEGIN TRANSACTION"):
            conn.execute(old.SPANS_VERSION_TABLE)
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [version, description, time.time_ns()],
            )
        if version == 1:
            marks = ", ".join("?" * len(SPAN_COLUMNS))
            conn.executemany(
                f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({marks})", rows
            )
            conn.execute("UPDATE indexer_state SET indexed_seq = 5, indexed_spans = ?", [len(rows)])
            conn.execute(
                "INSERT INTO quarantine VALUES (4, 1, 'k1', 2, 'convert: old', 3, ?)", [b"\x01"]
            )
    conn.close()


def test_an_old_control_database_keeps_its_users_and_keys(tmp_path: Path):
    path = tmp_path / "junjo.db"
    old_control_db(path)
    db = open_control_db(path)
    assert current_version(db.conn) == CONTROL_MIGRATIONS.latest
    user = check_credentials(db, "old@example.com", "pw-123456")
    assert user is not None and user.id == "u1"
    verified = KeyVerifier(path).verify(RAW_KEY)
    assert verified is not None and (verified.id, verified.scope) == ("k1", "ingest")
    rows = db.execute("SELECT version, applied_at FROM schema_version").fetchall()
    assert rows == [(1, "2025-06-01T00:00:00Z")]  # the record of the old step is kept


@pytest.mark.parametrize("with_quarantine", [False, True], ids=["unversioned", "quarantine"])
def test_an_old_wal_keeps_its_batches_and_counters(tmp_path: Path, with_quarantine: bool):
    path = tmp_path / "wal.db"
    old_wal(path, with_quarantine=with_quarantine)
    wal = WriteAheadLog(path)
    try:
        assert [(b.seq, b.api_key_id, b.payload) for b in wal.read_after(0)] == [
            (1, "k1", b"\x01\x02")
        ]
        totals = wal.totals()
        assert (totals.accepted_batches, totals.accepted_spans) == (7, 21)
        assert wal.append(b"new", 1) == 2
        _, count, _ = wal.quarantined(10)
        assert count == (1 if with_quarantine else 0)
        wal.quarantine([SetAside(9, None, None, 1, "store: x", b"\x05")])
        assert wal.quarantined(10)[1] == count + 1
    finally:
        wal.close()
    conn = sqlite3.connect(path)
    assert current_version(conn) == WAL_MIGRATIONS.latest
    conn.close()


def test_an_old_span_store_keeps_its_spans_summaries_and_position(tmp_path: Path):
    path = tmp_path / "spans.duckdb"
    trace = junjo_workflow_trace(nodes=2)
    old_span_store(path, trace)
    trace_id, workflow_id = trace[-1].trace_id.hex(), trace[-1].span_id.hex()
    with SpanStore.open(path, wal_path=tmp_path / "wal.db") as store:
        assert store.indexer_state().indexed_seq == 5
        conn = store.cursor()
        assert current_version(conn) == SPAN_MIGRATIONS.latest
        versions = conn.execute("SELECT version, applied_at FROM schema_version").fetchall()
        assert [v for v, _ in versions] == [m.version for m in SPAN_MIGRATIONS.steps]
        assert all(applied.endswith("Z") for _, applied in versions)
        detail = queries.trace_detail(conn, Principal.operator(), trace_id)
        assert detail["summary"]["span_count"] == len(trace) == len(detail["spans"])
        run = queries.workflow_execution(conn, Principal.operator(), trace_id, workflow_id)
        assert len(run["transitions"]) == 2
        tables = {
            row[0] for row in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert not tables & {"state_changes", "quarantine"}  # write-only, and moved
        conn.close()
        again = convert_request(request_payload(trace), seq=6)
        assert store.write_batches([again], 6).duplicate_spans == len(trace)
    wal = WriteAheadLog(tmp_path / "wal.db")
    (entry,), count, spans = wal.quarantined(10)
    wal.close()
    assert (count, spans, entry["seq"], entry["error"]) == (1, 2, 4, "convert: old")


def test_an_old_span_store_keeps_its_quarantine_until_the_wal_is_at_hand(tmp_path: Path):
    path = tmp_path / "spans.duckdb"
    old_span_store(path, junjo_workflow_trace(nodes=1))
    with pytest.raises(RuntimeError, match="1 quarantine entries of an older junjo"):
        SpanStore.open(path)
    conn = duckdb.connect(str(path))
    assert current_version(conn) == 4  # the other migrations are in
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
    conn.close()
    SpanStore.open(path, wal_path=tmp_path / "wal.db").close()
    wal = WriteAheadLog(tmp_path / "wal.db")
    assert wal.quarantined(10)[1] == 1
    wal.close()


def test_junjo_migrate_lists_and_migrates_an_old_data_dir(tmp_path: Path, capsys):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old_control_db(data / "junjo.db")
    old_wal(data / "wal.db", with_quarantine=True)
    old_span_store(data / "spans.duckdb", junjo_workflow_trace(nodes=1))
    settings = Settings(data_dir=data)

    run_migrate(settings, status_only=True)
    listed = capsys.readouterr().out
    assert f"control database (junjo.db): version 1 of {CONTROL_MIGRATIONS.latest}" in listed
    assert f"write-ahead log (wal.db): version 0 of {WAL_MIGRATIONS.latest}" in listed
    assert f"span store (spans.duckdb): version 3 of {SPAN_MIGRATIONS.latest}" in listed
    assert "pending 1: batches, totals and quarantine" in listed

    run_migrate(settings, status_only=False)
    applied = capsys.readouterr().out
    assert "applied 1 migration(s)" in applied
    assert "moved 1 quarantine entries from the span store to wal.db" in applied
    wal = WriteAheadLog(data / "wal.db")
    assert wal.quarantined(10)[1] == 2  # the WAL's own entry and the moved one
    wal.close()

    run_migrate(settings, status_only=True)
    assert capsys.readouterr().out.count("pending") == 0
