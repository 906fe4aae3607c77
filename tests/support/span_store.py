"""A span store in tests: spans written as the indexer writes them, and rows read back
from a live store or from the file a server left."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from junjo.features.spans import native
from junjo.features.spans.convert import ConvertedBatch
from junjo.features.spans.converter import convert_payload
from junjo.features.spans.store import SpanStore
from tests.support.otlp_builders import request_payload

# The conversion path that ``convert`` takes and the indexer is given ("native" or
# "python"): the ``conversion_path`` fixture (tests/conftest.py) runs a test on each.
CONVERSION_PATH = "python"


def check_conversion_path(path: str) -> None:
    """The native variant fails, never skips, without the C extension (CI builds it)."""
    if path == "native" and not native.available():
        raise AssertionError(
            f"the native conversion path cannot run: {native.describe()}. Build it with"
            " `pip install -e .` where a C compiler is found (make .venv/bin/junjo)."
        )


def convert(payload: bytes, **kwargs: Any) -> ConvertedBatch:
    """``payload``'s batch as the indexer makes it on ``CONVERSION_PATH`` (on the native
    path, a request the walker declines is converted by convert.py, as in the indexer)."""
    return convert_payload(payload, use_native=CONVERSION_PATH == "native", **kwargs)


def write_spans(store: SpanStore, seq: int, spans: Iterable[Span], service: str = "svc") -> None:
    """Store ``spans`` of ``service`` as the indexer stores WAL batch ``seq``."""
    batch = convert(request_payload(spans, service_name=service), seq=seq)
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
