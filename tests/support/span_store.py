"""A span store in tests: spans written as the indexer writes them, and rows read back
from a live store or from the file a server left."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from junjo.features.spans.convert import convert_request
from junjo.features.spans.store import SpanStore
from tests.support.otlp_builders import request_payload


def write_spans(store: SpanStore, seq: int, spans: Iterable[Span], service: str = "svc") -> None:
    """Store ``spans`` of ``service`` as the indexer stores WAL batch ``seq``."""
    batch = convert_request(request_payload(spans, service_name=service), seq=seq)
    store.write_batches([batch], seq)


def query(store: SpanStore, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    cursor = store.cursor()
    try:
        return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


def query_dicts(store: SpanStore, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cursor = store.cursor()
    try:
        result = cursor.execute(sql, params)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        cursor.close()


def span_key_counts(spans_db: Path) -> Counter[tuple[str, str]]:
    """How often each (trace_id, span_id) is stored, read from the file of a stopped server."""
    with SpanStore.open_readonly(spans_db) as store:
        rows = query(store, "SELECT trace_id, span_id, count(*) FROM spans GROUP BY ALL")
    return Counter({(trace_id, span_id): count for trace_id, span_id, count in rows})
