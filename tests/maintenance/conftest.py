"""Seeding for the maintenance tests: traces with chosen times, sent through real ingestion
(OTLP/HTTP protobuf to a real `junjo serve`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from tests.support.export import post_otlp
from tests.support.otlp_builders import make_request, make_resource_spans, make_span
from tests.support.server import ServerProcess
from tests.support.wait import wait_until

DAY = 86_400 * 10**9
NOW = time.time_ns()


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: int


def trace_request(start_ns: int, end_ns: int, spans: int, *, service: str = "svc", pad: int = 0):
    """One trace: a root from ``start_ns`` to ``end_ns`` and ``spans - 1`` children inside
    it (each with ``pad`` bytes of attribute); its id and the request."""
    import os

    trace_id = os.urandom(16)
    root_id = os.urandom(8)
    items = [make_span(trace_id=trace_id, span_id=root_id, name="root", start_ns=start_ns,
                       end_ns=end_ns)]  # fmt: skip
    step = max(1, (end_ns - start_ns) // max(spans, 1))
    for n in range(spans - 1):
        items.append(
            make_span(
                trace_id=trace_id, parent_span_id=root_id, name=f"child-{n}",
                start_ns=start_ns + n * step, end_ns=start_ns + (n + 1) * step,
                attributes={"pad": "x" * pad, "n": n} if pad else {"n": n},
            )
        )  # fmt: skip
    return trace_id.hex(), make_request([make_resource_spans(items, service_name=service)])


def send(server: ServerProcess, ingest_key: str, requests: list) -> None:
    post_otlp(server.url, ingest_key, requests)


def indexed(server: ServerProcess, read_key: str, spans: int) -> None:
    """Wait until the server has indexed at least ``spans`` spans (all it acknowledged)."""
    wait_until(
        lambda: server.ingest_status(read_key)["indexed"]["spans"] >= spans,
        timeout=30,
        message=lambda: f"not indexed: {server.ingest_status(read_key)}\n{server.log}",
    )


def span_count(server: ServerProcess, read_key: str, trace_id: str) -> int | None:
    """How many spans the server shows for the trace; None when it is not there."""
    response = httpx.get(
        f"{server.url}/api/v1/traces/{trace_id}",
        headers={"Authorization": f"Bearer {read_key}"},
        timeout=10,
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return len(response.json()["spans"])
