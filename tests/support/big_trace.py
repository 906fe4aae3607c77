"""A big trace and how long the web UI takes to open and scroll it, shared by the browser
tests (tests/web/test_trace_page.py) and scripts/bench_web.py.

``big_trace_batches(n)``: one trace of ``n`` spans as OTLP export requests (a root, groups
of 100 concurrent children, a failure every 500 spans), to post to ``/v1/traces``.
``open_trace_ms(page, url)``: ms from navigation start until the page shows the span tree
and the selected span's detail, measured in the page (``performance.now()``).
``scroll_frame_ms(page)``: the 95th percentile of frame times while scrolling the tree.
"""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from playwright.sync_api import Page

from tests.support.otlp_builders import (
    MS,
    T0,
    make_event,
    make_request,
    make_resource_spans,
    make_span,
    new_span_id,
    new_trace_id,
)

GROUP = 100  # children per group span
BATCH = 2000  # spans per export request
ERROR_EVERY = 500


def big_trace_batches(
    n_spans: int, *, service: str = "big-trace", trace_id: bytes | None = None, start_ns: int = T0
) -> list[ExportTraceServiceRequest]:
    """``n_spans`` spans of one trace (``n_spans`` >= 1), in requests of ``BATCH`` spans."""
    trace_id = trace_id or new_trace_id()
    root_id = new_span_id()
    groups = max(1, (n_spans - 1 + GROUP) // (GROUP + 1))
    spans = [make_span(trace_id=trace_id, span_id=root_id, name="big-root", start_ns=start_ns,
                       end_ns=start_ns + (groups * 10 + 60) * MS)]  # fmt: skip
    group_ids: list[bytes] = []
    number = 1
    while number < n_spans:
        group = len(group_ids)
        group_id = new_span_id()
        group_ids.append(group_id)
        group_start = start_ns + group * 10 * MS  # groups overlap: 10 ms apart, 50 ms long
        spans.append(make_span(trace_id=trace_id, span_id=group_id, parent_span_id=root_id,
                               name=f"group-{group}", start_ns=group_start,
                               end_ns=group_start + 50 * MS))  # fmt: skip
        number += 1
        for child in range(min(GROUP, n_spans - number)):
            failed = number % ERROR_EVERY == 0
            child_start = group_start + child * MS // 2
            spans.append(
                make_span(
                    trace_id=trace_id,
                    parent_span_id=group_id,
                    name=f"step-{group}-{child}",
                    start_ns=child_start,
                    end_ns=child_start + MS // 3,
                    attributes={"step.number": number, "step.note": f"note {number} " * 8},
                    status_code=2 if failed else 0,
                    events=[make_event("exception", child_start, {"exception.type": "StepError",
                                       "exception.message": f"step {number} failed"})]
                    if failed else [],
                )
            )  # fmt: skip
            number += 1
    return [
        make_request([make_resource_spans(spans[at : at + BATCH], service_name=service)])
        for at in range(0, len(spans), BATCH)
    ]


_OPENED = """() => {
  const rows = document.querySelectorAll('.trace-tree [role="treeitem"]');
  if (rows.length && document.querySelector('.span-detail')) {
    window.__traceOpenedAt ??= performance.now();
    return true;
  }
  return false;
}"""


def open_trace_ms(page: Page, url: str, timeout_ms: float = 60_000) -> float:
    """Navigate to ``url`` and return the ms from navigation start until the tree has rows
    and the selected span's detail shows (checked on every animation frame)."""
    page.goto(url, wait_until="commit")
    page.wait_for_function(_OPENED, polling="raf", timeout=timeout_ms)
    opened: float = page.evaluate("window.__traceOpenedAt")
    return opened


_SCROLL = """async (frames) => {
  const box = document.querySelector('.trace-tree');
  const times = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    box.scrollTop += 220;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length * 0.95)];
}"""


def scroll_frame_ms(page: Page, frames: int = 150) -> float:
    """The 95th percentile of frame times (ms) while the span tree scrolls ``frames`` frames
    (220 px a frame): about 16.7 on a 60 Hz display when nothing janks."""
    result: float = page.evaluate(_SCROLL, frames)
    return result
