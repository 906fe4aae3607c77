#!/usr/bin/env python3
"""Bytes per span on disk, and what reading them costs: the span store's layout before
migration 7 (DuckDB's automatic compression for every column) against the current one (zstd
on the JSON columns), written the same way in the same run.

    .venv/bin/python scripts/bench_storage.py                 # 100,000 spans, 5 read runs
    .venv/bin/python scripts/bench_storage.py --spans 20000 --runs 3

Two span mixes: ``bench`` is bench_indexer's ~1 KB Junjo traces (state patches padded with
one repeated letter: kinder to any compressor than real text), ``text`` the same traces with
words drawn from a 5,000-word vocabulary (Zipf-like, as prose is) in their state patches and
LLM prompts and completions, closer to what an AI app sends. Each store is written in
500-span requests, 8 requests a write, as the indexer groups them, then checkpointed.

Reads (median of ``--runs``): ``scan`` reads every span's attributes and events (what an
attribute filter over the whole store costs), ``trace`` one trace's spans with their JSON
(what opening a trace costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402

from junjo.features.spans import store as store_module  # noqa: E402
from junjo.features.spans.convert import convert_request  # noqa: E402
from junjo.features.spans.schema import SPAN_MIGRATIONS  # noqa: E402
from junjo.features.spans.store import SpanStore  # noqa: E402
from tests.support.otlp_builders import (  # noqa: E402
    T0,
    junjo_workflow_trace,
    llm_span,
    make_request,
    make_resource_spans,
)

REQUEST_SPANS = 500
REQUESTS_PER_WRITE = 8
_VOCABULARY = 5000


def _words(rng: random.Random) -> Callable[[int], str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = [
        "".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(_VOCABULARY)
    ]
    weights = [1 / (rank + 1) for rank in range(_VOCABULARY)]
    return lambda count: " ".join(rng.choices(vocabulary, weights=weights, k=count))


def payloads(spans: int, mix: str) -> list[bytes]:
    rng = random.Random(7)
    text = _words(rng)
    out: list[bytes] = []
    pending: list = []
    trace = 0
    while len(out) * REQUEST_SPANS < spans:
        items = junjo_workflow_trace(
            nodes=3, patch_padding=200, start_ns=T0 + trace * 1_000_000_000, store_id=f"s-{trace}"
        )
        items.append(llm_span(trace_id=items[0].trace_id, parent_span_id=items[-1].span_id))
        if mix == "text":
            for span in items:
                _wordy(span, text, rng)
        pending += items
        trace += 1
        if len(pending) >= REQUEST_SPANS:
            resource = make_resource_spans(pending, service_name="bench-storage")
            out.append(make_request([resource]).SerializeToString())
            pending = []
    return out


def _wordy(span: Span, text: Callable[[int], str], rng: random.Random) -> None:
    """Padding and canned LLM text replaced by words."""
    values = [kv.value for kv in span.attributes]
    values += [kv.value for event in span.events for kv in event.attributes]
    for value in values:
        if (
            value.string_value.startswith(("[{", "Summarize", "A short"))
            or "vvvv" in value.string_value
        ):
            value.string_value = text(rng.randint(30, 200))


@dataclasses.dataclass
class Layout:
    name: str
    migrations: int  # how many of SPAN_MIGRATIONS' steps it runs


LAYOUTS = (
    Layout("automatic (before migration 7)", 6),
    Layout("zstd JSON (current)", len(SPAN_MIGRATIONS.steps)),
)


def build(path: Path, layout: Layout, requests: list[bytes]) -> int:
    """A store at ``layout``'s schema holding ``requests``; returns its file size."""
    steps = SPAN_MIGRATIONS.steps[: layout.migrations]
    # SpanStore.open migrates to the newest schema: an older layout is opened with only
    # its own steps (this benchmark's one liberty with the store).
    store_module.SPAN_MIGRATIONS = dataclasses.replace(SPAN_MIGRATIONS, steps=steps)
    try:
        store = SpanStore.open(path)
    finally:
        store_module.SPAN_MIGRATIONS = SPAN_MIGRATIONS
    try:
        for seq, start in enumerate(range(0, len(requests), REQUESTS_PER_WRITE), start=1):
            group = requests[start : start + REQUESTS_PER_WRITE]
            store.write_batches([convert_request(p, seq=seq) for p in group], seq)
        store.checkpoint()
    finally:
        store.close()
    return path.stat().st_size


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def reads(path: Path, runs: int) -> tuple[float, float]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        (trace_id,) = conn.execute("SELECT trace_id FROM spans LIMIT 1 OFFSET 5000").fetchone() or (
            "",
        )
        scan = median_time(
            lambda: conn.execute(
                "SELECT sum(length(attributes_json) + length(events_json)) FROM spans"
            ).fetchone(),
            runs,
        )
        one = median_time(
            lambda: conn.execute(
                "SELECT attributes_json, events_json FROM spans WHERE trace_id = ?", [trace_id]
            ).fetchall(),
            runs,
        )
        return scan, one
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{'mix':<6} {'layout':<32} {'bytes/span':>10} {'ratio':>6} {'scan ms':>8} {'trace ms':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="junjo-bench-storage-") as tmp:
        for mix in ("bench", "text"):
            requests = payloads(args.spans, mix)
            spans = len(requests) * REQUEST_SPANS
            baseline = None
            for number, layout in enumerate(LAYOUTS):
                path = Path(tmp) / f"{mix}-{number}.duckdb"
                per_span = build(path, layout, requests) / spans
                baseline = baseline or per_span
                scan, one = reads(path, args.runs)
                print(
                    f"{mix:<6} {layout.name:<32} {per_span:>10.0f} {per_span / baseline:>6.2f}"
                    f" {scan * 1000:>8.1f} {one * 1000:>9.2f}"
                )


if __name__ == "__main__":
    main()
