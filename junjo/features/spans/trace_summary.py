"""One row per trace, kept current by the writer: what trace lists, filters and service
summaries read instead of scanning every span.

The writer upserts a batch's contribution in the same transaction as its spans, so the
summary can never disagree with the spans after a crash. A trace's representative ("root")
is its true root span (no parent) once stored; until then, its earliest span, so a trace
whose root is late, lost or remote is still listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from junjo.features.spans.directory import range_clause

# Migration 2's table. Migration 3 (``V3``) drops its PRIMARY KEY: DuckDB keeps the key's ART
# index in memory whole (~75 bytes a trace, never evicted), which halted every write once a
# server had seen ~700k traces under its 64 MB limit. The trace directory (``directory.py``)
# now tells a write which of its traces already have a row.
SCHEMA = """
CREATE TABLE traces (
    trace_id VARCHAR PRIMARY KEY,
    service_name VARCHAR NOT NULL,       -- the representative span's service
    root_span_id VARCHAR NOT NULL,       -- the true root, else the earliest span so far
    root_name VARCHAR NOT NULL,
    root_parent_span_id VARCHAR,         -- NULL: the representative is the true root
    root_start_time_ns BIGINT NOT NULL,
    junjo_span_type VARCHAR,
    start_time_ns BIGINT NOT NULL,       -- earliest span start
    end_time_ns BIGINT NOT NULL,         -- latest span end
    span_count BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    llm_count BIGINT NOT NULL,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    total_tokens BIGINT,
    first_indexed_at_ns BIGINT NOT NULL,
    last_indexed_at_ns BIGINT NOT NULL,
    root_indexed_at_ns BIGINT            -- when the true root arrived: the trace is finished
);
-- Staging for one write's per-trace contributions (emptied before each use), so the
-- merge into ``traces`` is one set-based statement instead of a statement per trace.
CREATE TABLE trace_updates AS SELECT * FROM traces LIMIT 0;
"""

SUMMARY_COLUMNS = (
    "trace_id, service_name, root_span_id, root_name, root_parent_span_id, root_start_time_ns,"
    " junjo_span_type, start_time_ns, end_time_ns, span_count, error_count, llm_count,"
    " prompt_tokens, completion_tokens, total_tokens, first_indexed_at_ns,"
    " last_indexed_at_ns, root_indexed_at_ns"
)
# The table holds these, then the WAL position of the trace's first stored span
# (``first_wal_seq``). Rows are appended when a trace is first seen, so first_wal_seq only
# grows down the table and an update can find a trace's row through its zonemaps.

V3 = """
CREATE TABLE traces_v3 AS
SELECT t.*, coalesce(s.first_wal_seq, 0) AS first_wal_seq
FROM traces t LEFT JOIN (
    SELECT trace_id, min(wal_seq) AS first_wal_seq FROM spans GROUP BY trace_id
) s ON s.trace_id = t.trace_id
ORDER BY first_wal_seq;
DROP TABLE traces;
ALTER TABLE traces_v3 RENAME TO traces;
DROP TABLE trace_updates;
CREATE TABLE trace_updates AS SELECT * FROM traces LIMIT 0;
"""

# Rebuilds the summary from stored spans (migration 2, for stores written before it).
BACKFILL = f"""
INSERT INTO traces ({SUMMARY_COLUMNS})
SELECT trace_id,
       arg_min(service_name, rank), arg_min(span_id, rank), arg_min(name, rank),
       arg_min_null(parent_span_id, rank), min(start_time_ns) FILTER (WHERE rank = best),
       arg_min_null(junjo_span_type, rank), min(start_time_ns), max(end_time_ns), count(*),
       count(*) FILTER (WHERE is_error), count(*) FILTER (WHERE is_llm),
       sum(llm_prompt_tokens), sum(llm_completion_tokens), sum(llm_total_tokens),
       coalesce(min(indexed_at_ns), 0), coalesce(max(indexed_at_ns), 0),
       min(indexed_at_ns) FILTER (WHERE parent_span_id IS NULL)
FROM (
    SELECT *, [CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END, start_time_ns] AS rank,
           min([CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END, start_time_ns])
               OVER (PARTITION BY trace_id) AS best
    FROM spans
)
GROUP BY trace_id
"""

# A new representative wins when it is a true root and the stored one is not, or when
# neither is and it started earlier. ``u`` is the write's contribution, ``traces`` the row.
_NEW_ROOT_WINS = (
    "(u.root_parent_span_id IS NULL AND traces.root_parent_span_id IS NOT NULL)"
    " OR ((u.root_parent_span_id IS NULL) = (traces.root_parent_span_id IS NULL)"
    " AND u.root_start_time_ns < traces.root_start_time_ns)"
)
_ROOT_FIELDS = (
    "service_name",
    "root_span_id",
    "root_name",
    "root_parent_span_id",
    "root_start_time_ns",
    "junjo_span_type",
)


def _sum(column: str) -> str:
    return (
        f"{column} = CASE WHEN traces.{column} IS NULL AND u.{column} IS NULL THEN NULL"
        f" ELSE coalesce(traces.{column}, 0) + coalesce(u.{column}, 0) END"
    )


_ROOT_UPDATES = ", ".join(
    f"{f} = CASE WHEN {_NEW_ROOT_WINS} THEN u.{f} ELSE traces.{f} END" for f in _ROOT_FIELDS
)
_MERGE = f"""
UPDATE traces SET
    {_ROOT_UPDATES},
    start_time_ns = least(traces.start_time_ns, u.start_time_ns),
    end_time_ns = greatest(traces.end_time_ns, u.end_time_ns),
    span_count = traces.span_count + u.span_count,
    error_count = traces.error_count + u.error_count,
    llm_count = traces.llm_count + u.llm_count,
    {_sum("prompt_tokens")}, {_sum("completion_tokens")}, {_sum("total_tokens")},
    last_indexed_at_ns = u.last_indexed_at_ns,
    root_indexed_at_ns = coalesce(traces.root_indexed_at_ns, u.root_indexed_at_ns)
FROM trace_updates u
WHERE traces.trace_id = u.trace_id
"""  # fmt: skip


# One write's per-trace contributions, from the span rows it staged (``{staged}``, already
# deduplicated), as rows of the table. The representative is the first true root, else the
# earliest span; ties go to the row staged first (``rowid`` follows the staging order), so
# the same spans always give the same row. Sums of tokens stay NULL while no span has any.
_CONTRIBUTIONS = """
SELECT trace_id, r.service_name, r.span_id, r.name, r.parent_span_id, r.start_time_ns,
       r.junjo_span_type, start_time_ns, end_time_ns, span_count, error_count, llm_count,
       prompt_tokens, completion_tokens, total_tokens, $now, $now,
       CASE WHEN r.parent_span_id IS NULL THEN $now END, first_wal_seq
FROM (
    SELECT trace_id,
           arg_min(
               struct_pack(service_name, span_id, name, parent_span_id, start_time_ns,
                           junjo_span_type),
               [CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END, start_time_ns, rowid]
           ) AS r,
           min(start_time_ns) AS start_time_ns, max(end_time_ns) AS end_time_ns,
           count(*) AS span_count, count(*) FILTER (WHERE is_error) AS error_count,
           count(*) FILTER (WHERE is_llm) AS llm_count,
           sum(llm_prompt_tokens) AS prompt_tokens,
           sum(llm_completion_tokens) AS completion_tokens,
           sum(llm_total_tokens) AS total_tokens,
           min(coalesce(wal_seq, 0)) AS first_wal_seq
    FROM {staged}
    GROUP BY trace_id
)
ORDER BY first_wal_seq
"""


def write(
    conn: duckdb.DuckDBPyConnection,
    staged: str,
    first_seqs: Mapping[str, int],
    indexed_at_ns: int,
) -> None:
    """Summarize the span rows staged in table ``staged`` per trace, inside the caller's
    transaction: add a row for each new trace, merge into the row of each trace in
    ``first_seqs`` (the stored first_wal_seq of each of these traces that has a row, from
    the trace directory: zonemaps on that column lead the merge to the row groups holding
    those rows, whatever the table's size)."""
    contributions = _CONTRIBUTIONS.format(staged=staged)
    now = {"now": indexed_at_ns}
    if not first_seqs:  # all new traces: the usual case, one statement
        conn.execute(f"INSERT INTO traces {contributions}", now)
        return
    conn.execute(f"INSERT INTO trace_updates {contributions}", now)
    where, params = range_clause("traces.first_wal_seq", ((s, s) for s in first_seqs.values()))
    merged = _merge(conn, f" AND ({where})", params)
    if len(merged) < len(first_seqs):
        # A row is not where the directory said: only possible in a store written while
        # WAL positions could restart (before migration 3). Look everywhere, and give a
        # trace that truly has no row a new one.
        missing = [trace_id for trace_id in first_seqs if trace_id not in merged]
        merged |= _merge(conn, " AND u.trace_id IN (SELECT unnest(?::VARCHAR[]))", [missing])
    conn.execute(
        "INSERT INTO traces SELECT * FROM trace_updates"
        " WHERE trace_id NOT IN (SELECT unnest(?::VARCHAR[]))",
        [list(merged)],
    )
    conn.execute("DELETE FROM trace_updates")


def _merge(conn: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> set[str]:
    sql = f"{_MERGE}{where} RETURNING traces.trace_id"
    return {trace_id for (trace_id,) in conn.execute(sql, params).fetchall()}
