"""The span store (DuckDB): what the indexer writes from the WAL and trace queries read.

Its lifespan opens the store for the server (one writer per data dir) and provides the
``SpanStore`` and a ``SpanReader``; in a read-only app (the CLI's, while no server runs)
only a ``SpanReader`` that opens the file for each query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    from junjo.features.spans.indexer import Indexer as Indexer
    from junjo.features.spans.quarantine import move_legacy_entries as move_legacy_entries
    from junjo.features.spans.reader import SpanReader as SpanReader
    from junjo.features.spans.schema import RECORD_COLUMNS as RECORD_COLUMNS
    from junjo.features.spans.schema import SPAN_MIGRATIONS as SPAN_MIGRATIONS
    from junjo.features.spans.store import (
        SERVER_MEMORY_LIMIT as SERVER_MEMORY_LIMIT,
    )
    from junjo.features.spans.store import (
        SpanStore as SpanStore,
    )
    from junjo.features.spans.trace_summary import SUMMARY_COLUMNS as SUMMARY_COLUMNS
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


FEATURE = Feature("spans", lifespan=_lifespan)
