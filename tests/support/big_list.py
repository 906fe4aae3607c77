"""A big traces list, for the browser test that bounds its open time and for
``scripts/bench_web.py``: N small traces as OTLP/HTTP requests, and how long the traces list
takes to show its rows in a real browser."""

from __future__ import annotations

import time
from collections.abc import Iterator

from playwright.sync_api import Page, expect

from tests.support.otlp_builders import (
    MS,
    make_request,
    make_resource_spans,
    make_span,
    new_span_id,
    new_trace_id,
)

SERVICE = "big-list"


def many_traces_batches(
    n: int, *, per_request: int = 2000, start_ns: int | None = None
) -> Iterator[bytes]:
    """``n`` traces of two spans (a root and a child; one in 10 failed), newest last, as
    serialized OTLP export requests of ``per_request`` traces each."""
    start = time.time_ns() - n * MS if start_ns is None else start_ns
    for first in range(0, n, per_request):
        spans = []
        for number in range(first, min(n, first + per_request)):
            trace_id, root = new_trace_id(), new_span_id()
            at = start + number * MS
            spans.append(
                make_span(
                    trace_id=trace_id,
                    span_id=root,
                    name=f"request-{number}",
                    start_ns=at,
                    end_ns=at + (number % 50 + 1) * MS,
                )
            )
            spans.append(make_span(trace_id=trace_id, parent_span_id=root, name="work",
                                   start_ns=at, end_ns=at + MS,
                                   status_code=2 if number % 10 == 0 else 0))  # fmt: skip
        yield make_request([make_resource_spans(spans, service_name=SERVICE)]).SerializeToString()


def open_list_ms(page: Page, url: str, rows: int) -> float:
    """Milliseconds from navigating to ``url`` (a traces list of ``rows`` rows on one page)
    until its count says so and its first rows are on screen, as the page measures it."""
    page.goto(url)
    table = page.get_by_role("table", name="Traces")
    expect(table).to_have_attribute("aria-rowcount", str(rows + 1), timeout=60_000)
    expect(table).to_have_attribute("aria-busy", "false")
    expect(table.get_by_role("row").nth(1)).to_be_visible()
    elapsed: float = page.evaluate("performance.now()")
    return elapsed
