#!/usr/bin/env python3
"""Retention and backup on a generated store: how long they take and what they give back.

    .venv/bin/python scripts/bench_maintenance.py               # 300,000 spans
    .venv/bin/python scripts/bench_maintenance.py --spans 100000

Writes ~1 KB Junjo-shaped spans (bench_indexer's traces) whose times spread evenly over the
last 60 days into a fresh data dir, as the indexer writes them, then measures: a backup of
the stopped data dir (file copies), a backup through a running `junjo serve` (the span store
copied under its write lock, how long indexing paused), retention at 30 days (time; the
span store's file, used and free bytes before and after), new spans written after it (the
freed blocks reused: the file does not grow), a disk limit of 60% of the used size, and a
compacting copy of the span store (DuckDB COPY FROM DATABASE), the way to make the file
itself smaller.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from junjo.config import Settings  # noqa: E402
from junjo.features.maintenance.retention import DAY_NS, Policy, prune  # noqa: E402
from junjo.features.spans.convert import convert_request  # noqa: E402
from junjo.features.spans.store import SERVER_MEMORY_LIMIT, SpanStore  # noqa: E402
from junjo.kernel import backup  # noqa: E402
from junjo.kernel.principal import Principal  # noqa: E402
from tests.support.otlp_builders import (  # noqa: E402
    junjo_workflow_trace,
    llm_span,
    make_request,
    make_resource_spans,
)
from tests.support.server import ServerProcess, junjo_command  # noqa: E402

MB = 1e6


def write(store: SpanStore, spans: int, start_ns: int, span_ns: int, seq: int) -> int:
    """``spans`` spans in 500-span writes, trace starts from ``start_ns`` on, evenly spread
    over ``span_ns``; returns the next WAL position."""
    traces = spans // 5
    pending: list = []
    for trace in range(traces):
        start = start_ns + trace * (span_ns // max(traces, 1))
        items = junjo_workflow_trace(nodes=3, patch_padding=200, start_ns=start,
                                     store_id=f"s-{seq}-{trace}")  # fmt: skip
        items.append(llm_span(trace_id=items[0].trace_id, parent_span_id=items[-1].span_id))
        pending += items
        if len(pending) >= 500 or trace == traces - 1:
            payload = make_request([make_resource_spans(pending, service_name="bench")])
            batch = convert_request(payload.SerializeToString(), seq=seq)
            store.write_batches([batch], seq)
            seq += 1
            pending = []
    return seq


def sizes(store: SpanStore) -> str:
    size = store.size()
    return (f"file {size.file_bytes / MB:.1f} MB, used {size.used_bytes / MB:.1f} MB,"
            f" free {size.free_bytes / MB:.1f} MB, {size.spans:,} spans")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=300_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="junjo-bench-maint-"))
    data = work / "data"
    settings = Settings(data_dir=data)
    settings.ensure_data_dir()
    now = time.time_ns()
    store = SpanStore.open(settings.spans_db_path, memory_limit=SERVER_MEMORY_LIMIT)
    started = time.monotonic()
    seq = write(store, args.spans, now - 60 * DAY_NS, 60 * DAY_NS, 1)
    store.checkpoint()
    print(f"wrote {args.spans:,} spans in {time.monotonic() - started:.1f} s: {sizes(store)}")
    store.close()

    started = time.monotonic()
    target = backup.new_destination(work / "offline")
    backup.copy_stopped(data, target)
    took = time.monotonic() - started
    size = sum(p.stat().st_size for p in target.iterdir())
    print(f"backup, no server: {took:.2f} s, {size / MB:.1f} MB")

    from tests.support.keys import make_keys

    make_keys(data)
    with ServerProcess(data):
        started = time.monotonic()
        out = subprocess.run([*junjo_command("backup", str(work / "online"), "--json",
                              "--data-dir", str(data))], capture_output=True, text=True,
                             check=True)  # fmt: skip
        took = time.monotonic() - started
    done = json.loads(out.stdout)
    print(f"backup via the running server: {took:.2f} s wall (command), {done['seconds']} s in"
          f" the server, indexing paused {done['indexing_paused_seconds']} s,"
          f" {done['bytes'] / MB:.1f} MB")  # fmt: skip

    store = SpanStore.open(settings.spans_db_path, memory_limit=SERVER_MEMORY_LIMIT)
    policy = Policy(30 * DAY_NS, None, 0)
    report = prune(Principal.operator(), store, policy, dry_run=True)
    print(f"dry run: {report.traces:,} traces, {report.spans:,} spans, {report.seconds} s")
    report = prune(Principal.operator(), store, policy, dry_run=False)
    print(f"prune at 30 days: {report.traces:,} traces, {report.spans:,} spans in"
          f" {report.seconds} s; used {report.used_bytes_before / MB:.1f} ->"
          f" {report.used_bytes_after / MB:.1f} MB; {sizes(store)}")  # fmt: skip
    write(store, args.spans // 2, now - DAY_NS, DAY_NS, seq)
    store.checkpoint()
    print(f"after writing {args.spans // 2:,} new spans: {sizes(store)}")
    limit = int(store.size().used_bytes * 0.6)
    report = prune(Principal.operator(), store, Policy(None, limit, 0), dry_run=False)
    print(f"disk limit {limit / MB:.1f} MB: {report.traces:,} traces, {report.spans:,} spans in"
          f" {report.seconds} s; used {report.used_bytes_before / MB:.1f} ->"
          f" {report.used_bytes_after / MB:.1f} MB; {sizes(store)}")  # fmt: skip
    store.close()

    started = time.monotonic()
    conn = duckdb.connect(str(settings.spans_db_path))
    conn.execute(f"ATTACH '{work / 'compact.duckdb'}' AS compact")
    conn.execute("COPY FROM DATABASE spans TO compact")
    conn.close()
    compact = (work / "compact.duckdb").stat().st_size
    print(f"compacting copy (COPY FROM DATABASE): {time.monotonic() - started:.1f} s,"
          f" {compact / MB:.1f} MB")  # fmt: skip
    print(f"(work dir {work})")


if __name__ == "__main__":
    main()
