"""Defensive readers and the span tree."""

from __future__ import annotations

import pytest

from junjo.features.workflows.trace_index import (
    JsonAttributeError,
    TraceIndex,
    as_int,
    parse_json,
)
from junjo.kernel.times import iso_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("12", 12),
        (" 7 ", 7),
        (4.0, 4),
        (4.5, None),
        (True, None),
        ("x", None),
        (None, None),
    ],
)
def test_as_int(value: object, expected: int | None) -> None:
    assert as_int(value) == expected


def test_iso_time_matches_the_api_format_and_tolerates_nonsense() -> None:
    assert iso_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456+00:00"
    assert iso_time(None) is None
    assert iso_time(10**30) is None


def test_parse_json() -> None:
    assert parse_json('{"a": [1]}') == {"a": [1]}
    assert parse_json({"already": "parsed"}) == {"already": "parsed"}
    with pytest.raises(JsonAttributeError, match="not valid JSON"):
        parse_json('{"cut off')


def test_tree_is_deterministic_and_cycles_are_cut() -> None:
    spans = [
        {"span_id": "c", "parent_span_id": "a", "start_time_ns": 2},
        {"span_id": "b", "parent_span_id": "a", "start_time_ns": 2},
        {"span_id": "a", "parent_span_id": None, "start_time_ns": 1},
        {"span_id": "x", "parent_span_id": "y"},
        {"span_id": "y", "parent_span_id": "x"},
        {"span_id": "a", "name": "duplicate: the first copy wins"},
        {"parent_span_id": "a"},
    ]
    index = TraceIndex(spans)
    assert [s.span_id for s in index.descendants(index.spans["a"])] == ["b", "c"]
    assert index.spans["a"].name == ""
    for span in index.spans.values():
        list(index.ancestors(span))  # terminates
    assert sum(1 for s in ("x", "y") if index.spans[s].parent is None) == 1
