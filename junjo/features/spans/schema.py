"""The DuckDB span store's schema: the ``spans`` table's columns, declared once, and the
numbered migrations (``SPAN_MIGRATIONS``, run by the kernel's runner like every store's).

Why there are no ART indexes (no PRIMARY KEY / CREATE INDEX) on ``spans`` or (since
migration 3) ``traces``: DuckDB keeps ART indexes in memory whole and never evicts them, about
115 bytes per row for a (trace_id, span_id) key (measured: 1.6 M spans filled a 200 MB memory
limit) and ~75 for a trace id (~700k traces filled the server's 64 MB, and every write failed
from then on). Instead:

* Idempotency on (trace_id, span_id) is enforced by the writer (``store.py``) with the trace
  directory (``directory.py``, SQLite): it names the batch's traces already stored and the
  ``wal_seq`` range of their spans, and only those keys are looked up, zonemap-pruned by
  ``wal_seq`` (which only grows). The ``traces`` summary row of a known trace is found the
  same way, by ``first_wal_seq``.
* Queries lean on zonemaps (per-row-group min/max, automatic on every column). Rows arrive
  roughly in time order, so filters on ``start_time_ns`` skip almost everything outside the
  window. Query code should always bound ``start_time_ns`` (trace lists page by it, newest
  first); a trace's spans are found by ``trace_id`` (a full scan of one compressed column:
  ~0.1 s per 5 M spans) or, faster, by ``trace_id`` plus the trace's time window.
* JSON columns are VARCHAR holding JSON text written by ``convert.py`` (always valid): the
  JSON type would re-validate every value on insert (~30% slower) and the json functions
  (``->>``, ``json_extract``) accept VARCHAR anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from junjo.kernel.migrations import Migration, Migrations

if TYPE_CHECKING:  # not at run time: the converters import this, and need no DuckDB
    import duckdb


@dataclass(frozen=True)
class Column:
    """One column of the ``spans`` table."""

    name: str
    type: str  # DuckDB type and constraint, as CREATE TABLE takes them
    record: bool = False  # read into the span records the query layer serves (traces/queries.py)
    # DuckDB's compression for the column, where its automatic choice is a poor one (the
    # JSON columns: see migration 7). Applied by migration 7, never by migration 1.
    compression: str | None = None


# JSON text compresses to about half with zstd what DuckDB's automatic FSST/dictionary gets
# (scripts/bench_maintenance.py, "bytes per span"); zstd needs the file's storage format
# to be v1.2.0 or newer (migration 7).
JSON_COMPRESSION = "zstd"

# The ``spans`` table, declared once: migration 1 creates it from this, the converter builds
# its rows in this order (``SPAN_COLUMNS``, convert.py) and the query layer reads the columns
# marked ``record``. Columns named ``*_json`` hold JSON text. Every column here is created by
# migration 1: a column added later goes at the end, added by a migration of its own (ALTER
# TABLE ... ADD COLUMN from its entry), and migration 1 must then leave it out.
SPAN_TABLE: tuple[Column, ...] = (
    Column("trace_id", "VARCHAR NOT NULL", record=True),  # lowercase hex, 32 chars
    Column("span_id", "VARCHAR NOT NULL", record=True),  # lowercase hex, 16 chars
    Column("parent_span_id", "VARCHAR", record=True),  # NULL for a root span
    # The span's own resource service.name, else ''.
    Column("service_name", "VARCHAR NOT NULL", record=True),
    Column("name", "VARCHAR NOT NULL", record=True),
    # OTLP SpanKind enum: 0 unspecified, 1 internal, ...
    Column("kind", "INTEGER NOT NULL", record=True),
    Column("start_time_ns", "BIGINT NOT NULL", record=True),
    Column("end_time_ns", "BIGINT NOT NULL", record=True),
    Column("duration_ns", "BIGINT NOT NULL", record=True),
    Column("status_code", "INTEGER NOT NULL", record=True),  # 0 unset, 1 ok, 2 error
    Column("status_message", "VARCHAR NOT NULL", record=True),
    # {"key": value}, AnyValue mapped to JSON.
    Column("attributes_json", "VARCHAR NOT NULL", record=True, compression=JSON_COMPRESSION),
    # [{name, timeUnixNano: "decimal", attributes, droppedAttributesCount}]
    Column("events_json", "VARCHAR NOT NULL", record=True, compression=JSON_COMPRESSION),
    # [{traceId, spanId, traceState, attributes, droppedAttributesCount, flags}]
    Column("links_json", "VARCHAR NOT NULL", record=True, compression=JSON_COMPRESSION),
    Column("flags", "UINTEGER NOT NULL", record=True),
    Column("trace_state", "VARCHAR NOT NULL", record=True),
    Column("dropped_attributes_count", "UINTEGER NOT NULL", record=True),
    Column("dropped_events_count", "UINTEGER NOT NULL", record=True),
    Column("dropped_links_count", "UINTEGER NOT NULL", record=True),
    Column(
        "resource_attributes_json", "VARCHAR NOT NULL", record=True, compression=JSON_COMPRESSION
    ),
    Column("resource_dropped_attributes_count", "UINTEGER NOT NULL", record=True),
    Column("resource_schema_url", "VARCHAR NOT NULL"),
    Column("scope_name", "VARCHAR NOT NULL", record=True),
    Column("scope_version", "VARCHAR NOT NULL", record=True),
    Column("scope_attributes_json", "VARCHAR NOT NULL", compression=JSON_COMPRESSION),
    Column("scope_dropped_attributes_count", "UINTEGER NOT NULL"),
    Column("scope_schema_url", "VARCHAR NOT NULL"),
    # Provenance: the API key, when the WAL took the batch, when it was indexed, its position.
    Column("api_key_id", "VARCHAR"),
    Column("received_at_ns", "BIGINT"),
    Column("indexed_at_ns", "BIGINT", record=True),
    Column("wal_seq", "BIGINT"),
    # Lifted from attributes for filtering (telemetry contract §2.2-2.3, §2.9 legacy).
    Column("junjo_span_type", "VARCHAR", record=True),
    Column("junjo_contract_version", "BIGINT"),
    Column("junjo_executable_definition_id", "VARCHAR"),
    Column("junjo_executable_runtime_id", "VARCHAR"),
    Column("junjo_executable_structural_id", "VARCHAR"),
    Column("junjo_enclosing_graph_structural_id", "VARCHAR"),
    Column("junjo_parent_executable_definition_id", "VARCHAR"),
    Column("junjo_parent_executable_runtime_id", "VARCHAR"),
    Column("junjo_parent_executable_structural_id", "VARCHAR"),
    Column("junjo_parent_executable_type", "VARCHAR"),
    Column("junjo_store_id", "VARCHAR"),  # junjo.workflow.store.id, else junjo.agent.store.id
    Column("junjo_parent_store_id", "VARCHAR"),
    Column("junjo_id", "VARCHAR"),
    Column("junjo_parent_id", "VARCHAR"),
    Column("junjo_correlation_type", "VARCHAR"),
    Column("junjo_correlation_id", "VARCHAR"),
    Column("is_llm", "BOOLEAN NOT NULL", record=True),
    Column("is_error", "BOOLEAN NOT NULL", record=True),  # status ERROR or an "exception" event
    Column("error_type", "VARCHAR"),
    Column("llm_provider", "VARCHAR"),
    Column("llm_model_name", "VARCHAR", record=True),
    Column("llm_prompt_tokens", "BIGINT", record=True),
    Column("llm_completion_tokens", "BIGINT", record=True),
    Column("llm_total_tokens", "BIGINT", record=True),
)
SPAN_COLUMNS: tuple[str, ...] = tuple(column.name for column in SPAN_TABLE)
RECORD_COLUMNS: tuple[str, ...] = tuple(column.name for column in SPAN_TABLE if column.record)
# Positions in a row that the store needs for deduplication and the trace directory.
TRACE_ID, SPAN_ID, WAL_SEQ = map(SPAN_COLUMNS.index, ("trace_id", "span_id", "wal_seq"))


def create_table_sql(table: str, columns: Sequence[Column], *, compressed: bool = False) -> str:
    """CREATE TABLE for ``columns``; ``compressed`` adds each column's chosen compression."""
    body = ",\n    ".join(_column_sql(column, compressed) for column in columns)
    return f"CREATE TABLE {table} (\n    {body}\n);\n"


def _column_sql(column: Column, compressed: bool) -> str:
    if compressed and column.compression:
        # DuckDB's order: the type, then USING COMPRESSION, then the constraint.
        base, _, constraint = column.type.partition(" ")
        return f"{column.name} {base} USING COMPRESSION {column.compression} {constraint}".rstrip()
    return f"{column.name} {column.type}"


_V1_OTHERS = """
CREATE TABLE state_changes (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,             -- the span the set_state event sits on
    event_index INTEGER NOT NULL,         -- position among that span's events
    store_id VARCHAR,
    store_name VARCHAR,
    action VARCHAR,
    transition_sequence BIGINT,           -- contract v2; NULL in legacy events (order by time)
    revision_before BIGINT,
    revision_after BIGINT,
    event_time_ns BIGINT NOT NULL,
    event_id VARCHAR,
    patch VARCHAR,                        -- RFC 6902 JSON text as sent (may be truncated)
    attributes_json VARCHAR NOT NULL      -- the event's other attributes
);

CREATE TABLE indexer_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_seq BIGINT NOT NULL,          -- last WAL seq whose spans are committed here
    indexed_spans BIGINT NOT NULL,        -- spans stored (duplicates not counted)
    duplicate_spans BIGINT NOT NULL,      -- re-sent spans recognised and skipped
    quarantined_batches BIGINT NOT NULL,
    quarantined_spans BIGINT NOT NULL,
    last_indexed_at_ns BIGINT
);
INSERT INTO indexer_state VALUES (1, 0, 0, 0, 0, 0, NULL);

CREATE TABLE quarantine (
    seq BIGINT NOT NULL,                  -- the WAL sequence number of the batch
    received_at_ns BIGINT,
    api_key_id VARCHAR,
    span_count BIGINT,
    error VARCHAR NOT NULL,
    quarantined_at_ns BIGINT NOT NULL,
    payload BLOB NOT NULL                 -- the raw ExportTraceServiceRequest, kept for replay
);
"""


def _v2_trace_summary(conn: duckdb.DuckDBPyConnection) -> None:
    from junjo.features.spans import trace_summary

    conn.execute(trace_summary.SCHEMA)
    conn.execute(trace_summary.BACKFILL)


# (Quarantined batches moved to the WAL file: features/spans/quarantine.py. The old table
# stayed, emptied at start by move_legacy_entries, until migration 5 dropped it.)
_V3_COUNTERS = "ALTER TABLE indexer_state ADD COLUMN truncated_values BIGINT NOT NULL DEFAULT 0;"


def _v3_no_art_indexes(conn: duckdb.DuckDBPyConnection) -> None:
    from junjo.features.spans import trace_summary

    conn.execute(trace_summary.V3)
    conn.execute(_V3_COUNTERS)


def _v5_old_quarantine(conn: duckdb.DuckDBPyConnection) -> None:
    # Entries still here are moved to the WAL before migrating (quarantine.py); a store
    # opened without the WAL at hand keeps them, and stays at version 4, rather than lose them.
    (left,) = conn.execute("SELECT count(*) FROM quarantine").fetchone() or (0,)
    if left:
        raise RuntimeError(
            f"the span store holds {left} quarantine entries of an older junjo: open it with"
            " its write-ahead log (junjo serve, junjo migrate), which moves them there"
        )
    conn.execute("DROP TABLE quarantine")


# Spans that may be LLM calls: the ones with an LLM flag, provider, model or token column.
_LLM_CANDIDATES = """
SELECT trace_id, span_id, attributes_json, is_llm FROM spans
WHERE is_llm OR llm_provider IS NOT NULL OR llm_model_name IS NOT NULL
   OR llm_prompt_tokens IS NOT NULL OR llm_completion_tokens IS NOT NULL
"""
_LLM_RECOUNT = """
UPDATE traces SET llm_count = recount.n
FROM (
    SELECT trace_id, count(*) FILTER (WHERE is_llm) AS n FROM spans
    WHERE trace_id IN (SELECT DISTINCT trace_id FROM llm_flag_fix) GROUP BY trace_id
) AS recount
WHERE traces.trace_id = recount.trace_id
"""


def _v6_llm_rule(conn: duckdb.DuckDBPyConnection) -> None:
    """Re-flag stored spans by the current LLM rule (convert.is_llm_call: a GenAI span with
    no operation name is a call, an agent or tool span is not), and recount their traces."""
    import json

    from junjo.features.spans.convert import is_llm_call

    changed = [
        (trace_id, span_id, not was_llm)
        for trace_id, span_id, attrs, was_llm in conn.execute(_LLM_CANDIDATES).fetchall()
        if is_llm_call(json.loads(attrs)) != was_llm
    ]
    if not changed:
        return
    conn.execute("CREATE TEMP TABLE llm_flag_fix (trace_id VARCHAR, span_id VARCHAR, is_llm BOOL)")
    # One statement for all rows: executemany costs ~50 µs a row in DuckDB.
    conn.execute(
        "INSERT INTO llm_flag_fix SELECT unnest(?), unnest(?), unnest(?)",
        [list(column) for column in zip(*changed, strict=True)],
    )
    conn.execute(
        "UPDATE spans SET is_llm = f.is_llm FROM llm_flag_fix AS f"
        " WHERE spans.trace_id = f.trace_id AND spans.span_id = f.span_id"
    )
    conn.execute(_LLM_RECOUNT)
    conn.execute("DROP TABLE llm_flag_fix")


def _v7_compressed_json(conn: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``spans`` with zstd on its JSON columns (half the bytes per span for text).

    A file in a storage format older than v1.2.0 (made by DuckDB 1.1 or older, which never
    upgrades a file's format) cannot hold zstd strings: DuckDB would store them uncompressed,
    worse than today, so such a file keeps its table as it is. Rows are copied in their order
    (``wal_seq`` and time zonemaps depend on it), in the migration's one transaction."""
    if not _storage_takes_zstd(conn):
        return
    conn.execute(create_table_sql("spans_v7", SPAN_TABLE, compressed=True))
    conn.execute("INSERT INTO spans_v7 SELECT * FROM spans")
    conn.execute("DROP TABLE spans")
    conn.execute("ALTER TABLE spans_v7 RENAME TO spans")


def _storage_takes_zstd(conn: duckdb.DuckDBPyConnection) -> bool:
    row = conn.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases()"
        " WHERE database_name = current_database()"
    ).fetchone()
    version = (row[0] if row else None) or ""
    numbers = re.findall(r"\d+", version)
    if not numbers:  # an in-memory database, or a format this code does not know: newest
        return True
    return tuple(int(n) for n in numbers[:3]) >= (1, 2, 0)


SPAN_MIGRATIONS = Migrations(
    "the span store",
    (
        Migration(
            1,
            "spans, state_changes, indexer_state and quarantine",
            create_table_sql("spans", SPAN_TABLE) + _V1_OTHERS,
        ),
        Migration(2, "traces: one summary row per trace", _v2_trace_summary),
        Migration(
            3,
            "traces without an in-memory key index; a count of truncated values",
            _v3_no_art_indexes,
        ),
        # Workflow replay reads set_state events from events_json, faster than from this
        # table (scripts/bench_replay.py), which was written on every write and read by none.
        Migration(4, "drop state_changes (replay reads events_json)", "DROP TABLE state_changes;"),
        Migration(5, "drop the old quarantine table (entries live in wal.db)", _v5_old_quarantine),
        Migration(6, "LLM calls by the current GenAI conventions", _v6_llm_rule),
        Migration(7, "spans: zstd compression for the JSON columns", _v7_compressed_json),
    ),
)
