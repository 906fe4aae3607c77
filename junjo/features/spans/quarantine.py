"""The quarantine that older versions kept in the span store, moved to the WAL (where
``junjo.features.ingest.quarantine`` lists and replays it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from junjo.kernel.migrations import table_exists
from junjo.kernel.wal import SetAside, keep_aside

if TYPE_CHECKING:  # the spans package face exports this module: no DuckDB at import
    from typing import Any

import duckdb


def move_legacy_entries(conn: duckdb.DuckDBPyConnection, wal_path: Path) -> int:
    """Entries that older versions kept in the span store (DuckDB's ``quarantine`` table)
    move to the WAL file at ``wal_path``, before the span store's migration 5 drops that
    table; returns how many moved. Kept in the WAL first: after a crash in between they are
    moved again, and the WAL keeps an entry once."""
    if not table_exists(conn, "quarantine"):
        return 0
    rows = conn.execute(
        "SELECT seq, received_at_ns, api_key_id, span_count, error, payload FROM quarantine"
    ).fetchall()
    if rows:
        keep_aside(wal_path, [_set_aside(row) for row in rows])
        conn.execute("DELETE FROM quarantine")
    return len(rows)


def _set_aside(row: tuple[Any, ...]) -> SetAside:
    seq, received_at_ns, api_key_id, span_count, error, payload = row
    return SetAside(seq, received_at_ns, api_key_id, span_count, error, bytes(payload))
