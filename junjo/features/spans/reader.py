"""How query handlers reach the span store: a DuckDB cursor of their own per query."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import duckdb

from junjo.features.spans.schema import SPAN_MIGRATIONS
from junjo.features.spans.store import SpanStore
from junjo.kernel.errors import Unreachable
from junjo.kernel.migrations import migrate

Cursor = duckdb.DuckDBPyConnection


class SpanReader:
    """``with reader.cursor() as conn:`` one query's connection, closed when it is done."""

    def __init__(self, cursor: Callable[[], AbstractContextManager[Cursor]]) -> None:
        self.cursor = cursor

    @classmethod
    def shared(cls, store: SpanStore) -> SpanReader:
        """Cursors on the server's open store."""

        return cls(store.cursor)  # a DuckDB cursor closes itself at the end of a with

    @classmethod
    def per_query(cls, path: Path) -> SpanReader:
        """The file opened read-only for each query alone, while no server owns it: DuckDB's
        lock then lasts milliseconds, so a ``junjo serve`` starting meanwhile is not locked
        out. Before anything was ingested (no file) queries see an empty store."""

        @contextlib.contextmanager
        def cursor() -> Iterator[Cursor]:
            if not path.exists():
                with _empty_store() as conn:
                    yield conn
                return
            try:
                store = SpanStore.open_readonly(path)
            except duckdb.Error as exc:  # duckdb.IOException while a server writes it
                raise Unreachable(
                    f"cannot open {path}: {exc}. If a server is starting on this data "
                    "dir, retry in a moment."
                ) from exc
            try:
                with store.cursor() as conn:
                    yield conn
            finally:
                store.close()

        return cls(cursor)


@contextlib.contextmanager
def _empty_store() -> Iterator[Cursor]:
    """An in-memory store with the schema and no rows (nothing is written to disk)."""
    with duckdb.connect() as conn:
        migrate(conn, SPAN_MIGRATIONS)
        yield conn
