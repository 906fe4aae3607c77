"""Which traces retention removes, and removing them whole from the span store.

A trace is judged by its summary row (``traces``): its ``end_time_ns`` (the latest end of
its spans) against the cutoff, so a trace that spans the cutoff is kept whole, and its
``last_indexed_at_ns`` against a quiet period, so a trace whose spans are still arriving
(a backfill of old spans, say) is not deleted while its later spans are on their way.
Its spans, its summary row and its trace-directory row go in one DuckDB transaction (the
directory's row after it: a row left behind only makes a later span of that trace look it up).

The caller (``SpanStore.delete_traces``) holds the store's write lock, so the indexer never
writes in the middle of a deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from junjo.features.spans.bulk import append_rows

# Traces deleted per transaction: the indexer waits for the lock between chunks only.
CHUNK_TRACES = 2_000


@dataclass(frozen=True)
class Doomed:
    """A trace that would be removed."""

    trace_id: str
    service_name: str
    end_time_ns: int
    span_count: int
    first_wal_seq: int


@dataclass(frozen=True)
class StoreSize:
    file_bytes: int  # spans.duckdb as it is on disk
    used_bytes: int  # its used blocks plus its WAL: what max_disk_gb limits
    free_bytes: int  # blocks freed by deletions, reused before the file grows
    spans: int


def oldest(
    conn: duckdb.DuckDBPyConnection,
    *,
    ended_before_ns: int | None,
    quiet_before_ns: int,
    limit: int,
    after: tuple[int, str] | None = None,
) -> list[Doomed]:
    """The oldest traces (by end time) that ended before ``ended_before_ns`` (None: any
    time) and had no span indexed since ``quiet_before_ns``; ``after`` pages on."""
    where = ["last_indexed_at_ns < $quiet"]
    params: dict[str, Any] = {"quiet": quiet_before_ns, "limit": limit}
    if ended_before_ns is not None:
        where.append("end_time_ns < $cutoff")
        params["cutoff"] = ended_before_ns
    if after is not None:
        where.append("(end_time_ns, trace_id) > ($after_end, $after_id)")
        params |= {"after_end": after[0], "after_id": after[1]}
    rows = conn.execute(
        "SELECT trace_id, service_name, end_time_ns, span_count, first_wal_seq FROM traces"
        f" WHERE {' AND '.join(where)} ORDER BY end_time_ns, trace_id LIMIT $limit",
        params,
    ).fetchall()
    return [Doomed(*row) for row in rows]


def delete(conn: duckdb.DuckDBPyConnection, doomed: Sequence[Doomed]) -> int:
    """Delete the traces' spans and summary rows in one transaction; returns spans deleted.
    Spans are found by trace id within the WAL positions from the trace's first one on
    (zonemaps skip the row groups written before)."""
    if not doomed:
        return 0
    conn.execute("DELETE FROM doomed_traces")
    append_rows(conn, "doomed_traces", [(d.trace_id,) for d in doomed], ("trace_id",))
    first = min(d.first_wal_seq for d in doomed)
    conn.execute("BEGIN TRANSACTION")
    try:
        row = conn.execute(
            "DELETE FROM spans WHERE coalesce(wal_seq, 0) >= ?"
            " AND trace_id IN (SELECT trace_id FROM doomed_traces)",
            [first],
        ).fetchone()
        conn.execute("DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM doomed_traces)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(row[0]) if row else 0


def size(conn: duckdb.DuckDBPyConnection, file_bytes: int, wal_bytes: int) -> StoreSize:
    _, _, block_size, _, used_blocks, free_blocks, *_ = (
        conn.execute("PRAGMA database_size").fetchone() or (0,) * 9
    )
    (spans,) = conn.execute("SELECT count(*) FROM spans").fetchone() or (0,)
    return StoreSize(
        file_bytes, used_blocks * block_size + wal_bytes, free_blocks * block_size, int(spans)
    )


SCRATCH = "CREATE TEMP TABLE IF NOT EXISTS doomed_traces (trace_id VARCHAR NOT NULL)"
