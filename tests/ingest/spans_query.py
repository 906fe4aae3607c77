"""Read back what the indexer stored in DuckDB."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from junjo.features.spans.store import SpanStore


def stored_span_keys(store: SpanStore) -> list[tuple[str, str]]:
    """(trace_id, span_id) of every stored span, from a live server's store."""
    cursor = store.cursor()
    try:
        rows = cursor.execute("SELECT trace_id, span_id FROM spans").fetchall()
        return [(trace_id, span_id) for trace_id, span_id in rows]
    finally:
        cursor.close()


def span_key_counts(spans_db: Path) -> Counter[tuple[str, str]]:
    """How often each (trace_id, span_id) is stored, read from the file of a stopped server."""
    with SpanStore.open_readonly(spans_db) as store:
        rows = (
            store.cursor()
            .execute("SELECT trace_id, span_id, count(*) FROM spans GROUP BY ALL")
            .fetchall()
        )
    return Counter({(trace_id, span_id): count for trace_id, span_id, count in rows})
