"""The span store (DuckDB): what the indexer writes from the WAL and trace queries read.

Its lifespan opens the store for the server (one writer per data dir) and provides the
``SpanStore`` and a ``SpanReader``; in a read-only app (the CLI's, while no server runs)
only a ``SpanReader`` that opens the file for each query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    from junjo.config import Settings
    from junjo.features.spans.converter import NativeUnavailable as NativeUnavailable
    from junjo.features.spans.converter import describe_converter as describe_converter
    from junjo.features.spans.converter import uses_native as uses_native
    from junjo.features.spans.indexer import Indexer as Indexer
    from junjo.features.spans.reader import SpanReader as SpanReader
    from junjo.features.spans.schema import RECORD_COLUMNS as RECORD_COLUMNS
    from junjo.features.spans.store import (
        SpanStore as SpanStore,
    )
    from junjo.features.spans.trace_summary import SUMMARY_COLUMNS as SUMMARY_COLUMNS
    from junjo.kernel.migrations import Store
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    import duckdb

    from junjo.features.spans.reader import SpanReader
    from junjo.features.spans.store import SERVER_MEMORY_LIMIT, SpanStore
    from junjo.kernel.errors import Conflict

    if state.launch.read_only:
        state.provide(SpanReader.per_query(state.settings.spans_db_path))
        yield
        return
    try:
        store = SpanStore.open(
            state.settings.spans_db_path,
            memory_limit=SERVER_MEMORY_LIMIT,
            wal_path=state.settings.wal_path,
        )
    except duckdb.IOException as exc:  # e.g. a `junjo traces` command is reading the file
        raise Conflict(f"cannot open the span store: {exc}; retry in a moment") from None
    state.provide(store)
    state.provide(SpanReader.shared(store))
    try:
        yield
    finally:
        store.close()


def _stores(settings: Settings) -> list[Store]:
    from junjo.features.spans.quarantine import move_legacy_entries
    from junjo.features.spans.schema import SPAN_MIGRATIONS
    from junjo.kernel.migrations import Store

    def connect(read_only: bool) -> Any:
        import duckdb

        return duckdb.connect(str(settings.spans_db_path), read_only=read_only)

    def prepare(conn: Any) -> str | None:
        # What an older junjo quarantined there goes to the WAL before migration 5 drops it.
        moved = move_legacy_entries(conn, settings.wal_path)
        return f"moved {moved} quarantine entries from the span store to wal.db" if moved else None

    return [
        Store("span store", settings.spans_db_path, SPAN_MIGRATIONS, connect, one_writer=True,
              prepare=prepare)
    ]  # fmt: skip


FEATURE = Feature("spans", lifespan=_lifespan, stores=_stores)
