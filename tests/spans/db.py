"""Read rows back from a SpanStore in tests."""

from __future__ import annotations

from typing import Any

from junjo.features.spans.store import SpanStore


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
