"""How query handlers reach the span store: a DuckDB cursor of their own per query."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

from junjo.features.spans.store import SpanStore


class SpanReader:
    """Cursors on the server's open store, each closed when its query is done."""

    def __init__(self, store: SpanStore) -> None:
        self._store = store

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = self._store.cursor()
        try:
            yield conn
        finally:
            conn.close()
