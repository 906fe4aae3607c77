"""Stores as earlier releases left them, built with those releases' SQL, verbatim (from the
code at commit fa6d20f, the last before the shared migration runner; the pre-quarantine WAL
from f297b12^). Tests open them with today's code and check that nothing is lost."""

from __future__ import annotations

# -- the control database: migration 1 and the version table ------------------------------

CONTROL_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
CONTROL_V1_USERS = """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            is_active INTEGER NOT NULL DEFAULT 1,
            session_revision INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
CONTROL_V1_API_KEYS = """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
            created_at TEXT NOT NULL,
            created_by TEXT,
            last_used_at TEXT
        )"""

# -- the write-ahead log, unversioned ----------------------------------------------------

WAL_BEFORE_QUARANTINE = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ns INTEGER NOT NULL,
    api_key_id TEXT,
    span_count INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    accepted_batches INTEGER NOT NULL,
    accepted_spans INTEGER NOT NULL,
    pending_bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0);
"""
WAL_QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,                 -- the WAL batch they came from
    received_at_ns INTEGER,
    api_key_id TEXT,
    span_count INTEGER NOT NULL,          -- spans in payload
    error TEXT NOT NULL,
    quarantined_at_ns INTEGER NOT NULL,
    digest BLOB NOT NULL,                 -- sha256 of payload
    payload BLOB NOT NULL,                -- an ExportTraceServiceRequest, kept for replay
    UNIQUE (seq, digest)
);
"""

# -- the span store: migrations 1 to 3 and the version table -----------------------------

SPANS_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER NOT NULL, description VARCHAR NOT NULL,"
    " applied_at_ns BIGINT NOT NULL)"
)
SPANS_V1 = (
    """
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
    + """
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
)
SPANS_V2 = """
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
TRACE_COLUMNS = (
    "trace_id, service_name, root_span_id, root_name, root_parent_span_id, root_start_time_ns,"
    " junjo_span_type, start_time_ns, end_time_ns, span_count, error_count, llm_count,"
    " prompt_tokens, completion_tokens, total_tokens, first_indexed_at_ns,"
    " last_indexed_at_ns, root_indexed_at_ns"
)
SPANS_V2_BACKFILL = f"""
INSERT INTO traces ({TRACE_COLUMNS})
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
SPANS_V3 = """
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
SPANS_V3_COUNTERS = (
    "ALTER TABLE indexer_state ADD COLUMN truncated_values BIGINT NOT NULL DEFAULT 0;"
)
SPANS_STEPS = (
    (1, "spans, state_changes, indexer_state and quarantine", SPANS_V1),
    (2, "traces: one summary row per trace", SPANS_V2 + SPANS_V2_BACKFILL),
    (3, "traces without an in-memory key index; a count of truncated values",
     SPANS_V3 + SPANS_V3_COUNTERS),
)  # fmt: skip
