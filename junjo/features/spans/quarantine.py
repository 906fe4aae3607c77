"""The quarantine that older versions kept in the span store, moved to the WAL (where
``junjo.features.ingest.quarantine`` lists and replays it)."""

from __future__ import annotations

import duckdb

from junjo.kernel.wal import SetAside, WriteAheadLog


def move_legacy_entries(conn: duckdb.DuckDBPyConnection, wal: WriteAheadLog) -> int:
    """Entries that older versions kept in the span store (DuckDB's ``quarantine`` table)
    move to the WAL, once, at start; returns how many moved."""
    rows = conn.execute(
        "SELECT seq, received_at_ns, api_key_id, span_count, error, payload FROM quarantine"
    ).fetchall()
    if rows:
        wal.quarantine([SetAside(*row[:5], bytes(row[5])) for row in rows])
        conn.execute("DELETE FROM quarantine")
    return len(rows)
