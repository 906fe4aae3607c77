"""Real WAL and DuckDB files in tmp_path, and an indexer over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from junjo.features.spans.indexer import Indexer
from junjo.features.spans.store import SpanStore
from junjo.kernel.wal import WriteAheadLog
from tests.support import span_store as span_store_support


@pytest.fixture
def wal(tmp_path: Path) -> Iterator[WriteAheadLog]:
    log = WriteAheadLog(tmp_path / "wal.db")
    yield log
    log.close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "spans.duckdb"


@pytest.fixture
def store(store_path: Path) -> Iterator[SpanStore]:
    span_store = SpanStore.open(store_path)
    yield span_store
    span_store.close()


@pytest.fixture
def make_indexer(wal: WriteAheadLog) -> Iterator[Callable[..., Indexer]]:
    """Started indexers over ``wal``; each is stopped at teardown."""
    started: list[Indexer] = []

    def factory(store: SpanStore, **kwargs: Any) -> Indexer:
        kwargs.setdefault("idle_poll_seconds", 0.01)
        kwargs.setdefault("converter", span_store_support.CONVERSION_PATH)
        indexer = Indexer(wal, store, **kwargs)
        indexer.start()
        started.append(indexer)
        return indexer

    yield factory
    for indexer in started:
        assert indexer.stop(timeout=10)
