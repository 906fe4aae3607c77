"""The DuckDB span store's schema, as numbered migrations.

``schema_version`` records the migrations applied. A file whose version is above the newest
migration this code knows was written by a newer junjo and is refused (``SchemaTooNew``, the
same error the control plane raises, so ``junjo serve`` / ``junjo migrate`` report both alike).

Why there are no ART indexes (no PRIMARY KEY / CREATE INDEX) on ``spans``, ``state_changes``
or (since migration 3) ``traces``: DuckDB keeps ART indexes in memory whole and never evicts
them, about 115 bytes per row for a (trace_id, span_id) key (measured: 1.6 M spans filled a
200 MB memory limit) and ~75 for a trace id (~700k traces filled the server's 64 MB, and every
write failed from then on). Instead:

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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from junjo.kernel.migrations import SchemaTooNew, refuse_newer

__all__ = ["MIGRATIONS", "Migration", "SchemaTooNew", "current_version", "latest_version"]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: str | Callable[[duckdb.DuckDBPyConnection], None]  # SQL script or a function


_V1_SPANS = """
CREATE TABLE spans (
    trace_id VARCHAR NOT NULL,            -- lowercase hex, 32 chars
    span_id VARCHAR NOT NULL,             -- lowercase hex, 16 chars
    parent_span_id VARCHAR,               -- NULL for a root span
    service_name VARCHAR NOT NULL,        -- the span's own resource service.name, else ''
    name VARCHAR NOT NULL,
    kind INTEGER NOT NULL,                -- OTLP SpanKind enum: 0 unspecified, 1 internal, ...
    start_time_ns BIGINT NOT NULL,
    end_time_ns BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    status_code INTEGER NOT NULL,         -- 0 unset, 1 ok, 2 error
    status_message VARCHAR NOT NULL,
    attributes_json VARCHAR NOT NULL,     -- {"key": value}, AnyValue mapped to JSON
    events_json VARCHAR NOT NULL,         -- [{name, timeUnixNano: "decimal", attributes,
                                          --   droppedAttributesCount}]
    links_json VARCHAR NOT NULL,          -- [{traceId, spanId, traceState, attributes,
                                          --   droppedAttributesCount, flags}]
    flags UINTEGER NOT NULL,
    trace_state VARCHAR NOT NULL,
    dropped_attributes_count UINTEGER NOT NULL,
    dropped_events_count UINTEGER NOT NULL,
    dropped_links_count UINTEGER NOT NULL,
    resource_attributes_json VARCHAR NOT NULL,
    resource_dropped_attributes_count UINTEGER NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes_json VARCHAR NOT NULL,
    scope_dropped_attributes_count UINTEGER NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    api_key_id VARCHAR,
    received_at_ns BIGINT,
    indexed_at_ns BIGINT,
    wal_seq BIGINT,
    -- Lifted from attributes for filtering (telemetry contract §2.2-2.3, §2.9 legacy).
    junjo_span_type VARCHAR,
    junjo_contract_version BIGINT,
    junjo_executable_definition_id VARCHAR,
    junjo_executable_runtime_id VARCHAR,
    junjo_executable_structural_id VARCHAR,
    junjo_enclosing_graph_structural_id VARCHAR,
    junjo_parent_executable_definition_id VARCHAR,
    junjo_parent_executable_runtime_id VARCHAR,
    junjo_parent_executable_structural_id VARCHAR,
    junjo_parent_executable_type VARCHAR,
    junjo_store_id VARCHAR,               -- junjo.workflow.store.id, else junjo.agent.store.id
    junjo_parent_store_id VARCHAR,
    junjo_id VARCHAR,
    junjo_parent_id VARCHAR,
    junjo_correlation_type VARCHAR,
    junjo_correlation_id VARCHAR,
    is_llm BOOLEAN NOT NULL,
    is_error BOOLEAN NOT NULL,            -- status ERROR or an "exception" event
    error_type VARCHAR,
    llm_provider VARCHAR,
    llm_model_name VARCHAR,
    llm_prompt_tokens BIGINT,
    llm_completion_tokens BIGINT,
    llm_total_tokens BIGINT
);
"""

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
# stays, emptied at start by move_legacy_entries, until a later migration drops it.)
_V3_COUNTERS = "ALTER TABLE indexer_state ADD COLUMN truncated_values BIGINT NOT NULL DEFAULT 0;"


def _v3_no_art_indexes(conn: duckdb.DuckDBPyConnection) -> None:
    from junjo.features.spans import trace_summary

    conn.execute(trace_summary.V3)
    conn.execute(_V3_COUNTERS)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "spans, state_changes, indexer_state and quarantine", _V1_SPANS + _V1_OTHERS),
    Migration(2, "traces: one summary row per trace", _v2_trace_summary),
    Migration(
        3,
        "traces without an in-memory key index; a count of truncated values",
        _v3_no_art_indexes,
    ),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return migrations[-1].version if migrations else 0


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open database; 0 for an empty one."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_name = 'schema_version' AND table_catalog = current_database()"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def check_version(
    conn: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """The current version; raises ``SchemaTooNew`` for a file written by a newer junjo."""
    current = current_version(conn)
    refuse_newer(current, latest_version(migrations), "the span store")
    return current


def pending(
    conn: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS
) -> list[Migration]:
    current = check_version(conn, migrations)
    return [m for m in migrations if m.version > current]


def migrate(
    conn: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    DuckDB lets one process open the file read-write, so there is no concurrent migrator to
    guard against (unlike the SQLite control plane).
    """
    applied = []
    for migration in pending(conn, migrations):
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER NOT NULL, description VARCHAR NOT NULL,"
                " applied_at_ns BIGINT NOT NULL)"
            )
            if callable(migration.apply):
                migration.apply(conn)
            else:
                conn.execute(migration.apply)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [migration.version, migration.description, time.time_ns()],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
