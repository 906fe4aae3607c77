#!/usr/bin/env python3
"""Indexer benchmark: how fast Junjo-shaped spans go from OTLP bytes into DuckDB.

    .venv/bin/python scripts/bench_indexer.py                  # 5 runs of 20,000 spans
    .venv/bin/python scripts/bench_indexer.py --runs 3 --spans 5000

Spans are about 1 KB serialized: workflow traces (contract-v2 owner attributes, state and
graph snapshots) whose nodes each carry a ``set_state`` event, plus an OpenInference LLM span
per trace. Every run uses fresh ids, so nothing is skipped as a duplicate. Stages, each the
median of ``--runs`` (CPU-bound stages in process CPU time, so a busy machine skews less):

  parse      protobuf decode only (the floor)
  convert    convert_request: decode + rows + JSON
  native     the same batches by the native converter (native.convert_native: columns for
             DuckDB's Arrow scan), when its C extension is built; the ratio to convert follows
  insert     SpanStore.write_batches into a store that grows run after run (wall time,
             including the duplicate lookup and the commit)
  indexer    a fresh WAL holding the run's requests, drained by Indexer → flush (wall time;
             its process CPU per 1,000 spans is printed too: contention-proof)

Masking (``[[masking.rules]]``): CPU µs per span of the doors' decode (``decode_traces``, what
an export costs before its WAL append) with no rules, with a typical rule set, with that set
and a regex of one's own, and with the typical set on requests where every span has an email
to mask (``--masking-runs``, 0 skips it).

Then the pipeline as ``junjo serve`` runs it, on a longer stream (``--pipeline-spans``,
``--pipeline-runs``): bench_ingest's requests, the conversion worker on, the server's DuckDB
memory limit, no row-group vacuum while writing. As shipped (checkpoints at half the memory
limit), against the previous 128 MB checkpoints as the baseline for the ratio, and as shipped
with backfill timestamps (every request new trace ids and the same start times).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)

from junjo.features.spans import native  # noqa: E402
from junjo.features.spans.convert import DEFAULT_MAX_VALUE_BYTES, convert_request  # noqa: E402
from junjo.features.spans.indexer import Indexer  # noqa: E402
from junjo.features.spans.store import SpanStore  # noqa: E402
from junjo.kernel.wal import WriteAheadLog  # noqa: E402
from tests.support.otlp_builders import (  # noqa: E402
    T0,
    junjo_workflow_trace,
    llm_span,
    make_request,
    make_resource_spans,
    new_trace_id,
)

NODES_PER_TRACE = 3
REQUEST_SPANS = 500  # spans per export request, like a BatchSpanProcessor's default


def build_payloads(total_spans: int) -> list[bytes]:
    """Export requests of ~REQUEST_SPANS spans each, ~1 KB per span, all ids fresh."""
    payloads: list[bytes] = []
    pending: list = []
    produced = 0
    trace = 0
    while produced < total_spans:
        spans = junjo_workflow_trace(
            nodes=NODES_PER_TRACE,
            patch_padding=200,
            start_ns=T0 + trace * 1_000_000_000,
            store_id=f"store-{trace}",
        )
        spans.append(llm_span(trace_id=spans[0].trace_id, parent_span_id=spans[-1].span_id))
        pending.extend(spans)
        produced += len(spans)
        trace += 1
        if len(pending) >= REQUEST_SPANS or produced >= total_spans:
            payloads.append(_request(pending))
            pending = []
    return payloads


def _request(spans: list) -> bytes:
    resource = make_resource_spans(spans, service_name="bench-" + new_trace_id().hex()[:4])
    return make_request([resource]).SerializeToString()


def count_spans(payload: bytes) -> int:
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def timed(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    started = clock()
    fn()
    return clock() - started


def bench_parse(payloads: list[bytes]) -> float:
    def parse() -> None:
        for payload in payloads:
            ExportTraceServiceRequest().ParseFromString(payload)

    return timed(parse, time.process_time)


def bench_convert(payloads: list[bytes]) -> float:
    return timed(lambda: [convert_request(p) for p in payloads], time.process_time)


def bench_convert_native(payloads: list[bytes]) -> float:
    def convert() -> None:
        for payload in payloads:
            batch = native.convert_native(
                payload,
                seq=0,
                api_key_id=None,
                received_at_ns=None,
                indexed_at_ns=None,
                max_value_bytes=DEFAULT_MAX_VALUE_BYTES,
            )
            assert batch is not None, "the native converter declined a bench request"

    return timed(convert, time.process_time)


def bench_insert(store: SpanStore, payloads: list[bytes], seq: int) -> float:
    batches = [convert_request(p, seq=seq) for p in payloads]
    return timed(lambda: store.write_batches(batches, seq), time.perf_counter)


def bench_indexer(payloads: list[bytes], spans: int, workdir: Path) -> tuple[float, float]:
    """A WAL holding the run's requests, drained by a started Indexer: (wall s, CPU s)."""
    wal = WriteAheadLog(workdir / "wal.db")
    store = SpanStore.open(workdir / "spans.duckdb")
    indexer = Indexer(wal, store)
    try:
        for payload in payloads:
            wal.append(payload, count_spans(payload))
        cpu, started = time.process_time(), time.perf_counter()
        indexer.start()
        if not indexer.flush(timeout=600):
            raise SystemExit("the indexer did not catch up within 10 minutes")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert indexer.status().indexed_spans == spans
        return elapsed, cpu
    finally:
        indexer.stop(timeout=30)
        wal.close()
        store.close()


PIPELINE_VARIANTS = (  # label, checkpoint threshold (None: as shipped), backfill timestamps
    ("before: 128 MB checkpoints", "128MB", False),
    ("as shipped: half the memory limit", None, False),
    ("as shipped, backfill timestamps", None, True),
)


def bench_pipeline(
    spans: int, workdir: Path, *, threshold: str | None, backfill: bool
) -> tuple[float, float, float]:
    """Indexer with the conversion worker over a pre-filled WAL: (spans/s, main CPU µs/span,
    worker CPU µs/span)."""
    from bench_ingest import Replayer, build_template

    from junjo.features.spans.store import SERVER_MEMORY_LIMIT

    replayer = Replayer(*build_template(REQUEST_SPANS, 1), backfill=backfill)
    per_request = count_spans(replayer.next())
    wal = WriteAheadLog(workdir / "wal.db")
    store = SpanStore.open(workdir / "spans.duckdb", memory_limit=SERVER_MEMORY_LIMIT)
    # Global settings, left alone by the indexer unless it idles (none of these runs does).
    cursor = store.cursor()
    if threshold:
        cursor.execute(f"SET checkpoint_threshold = '{threshold}'")
    cursor.close()
    for _ in range(max(1, spans // per_request)):
        wal.append(replayer.next(), per_request)
    indexer = Indexer(wal, store, convert_in_worker=True)
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    started = time.perf_counter()
    indexer.start()
    try:
        if not indexer.flush(timeout=1800):
            raise SystemExit("the indexer did not catch up within 30 minutes")
        elapsed = time.perf_counter() - started
    finally:
        indexer.stop(timeout=30)  # also ends the worker, so its CPU is counted below
        wal.close()
        store.close()
    indexed = indexer.status().indexed_spans
    main_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(own)
    worker_cpu = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(children)
    return indexed / elapsed, main_cpu / indexed * 1e6, worker_cpu / indexed * 1e6


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def print_pipeline(args: argparse.Namespace, workroot: Path) -> None:
    print(
        f"\npipeline: {args.pipeline_spans:,} spans per run, conversion worker on, "
        f"{args.pipeline_runs} runs"
    )
    print(f"{'variant':<34} {'spans/s':>9} {'ratio':>6} {'main µs':>8} {'worker µs':>10}  runs")
    baseline = None
    for variant, (label, threshold, backfill) in enumerate(PIPELINE_VARIANTS):
        results = []
        for number in range(args.pipeline_runs):
            workdir = workroot / f"pipeline-{variant}-{number}"
            workdir.mkdir()
            results.append(
                bench_pipeline(args.pipeline_spans, workdir, threshold=threshold, backfill=backfill)
            )
        rate = statistics.median(r[0] for r in results)
        baseline = baseline or rate
        main_us = statistics.median(r[1] for r in results)
        worker_us = statistics.median(r[2] for r in results)
        runs = ", ".join(f"{r[0]:,.0f}" for r in results)
        print(
            f"{label:<34} {rate:>9,.0f} {rate / baseline:>6.2f} {main_us:>8.0f} "
            f"{worker_us:>10.0f}  {runs}"
        )


MASKING_RULES = {
    "attribute_keys": ["user.email", "*.password", "*api_key*"],
    "value_patterns": ["email", "api_key", "jwt"],
}


def masked_everywhere(payloads: list[bytes]) -> list[bytes]:
    """The same requests, every span carrying an email (so every span is masked)."""
    out = []
    for payload in payloads:
        request = ExportTraceServiceRequest.FromString(payload)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    kv = span.attributes.add()
                    kv.key = "input.note"
                    kv.value.string_value = "please reply to someone.else@example.com today"
        out.append(request.SerializeToString())
    return out


def print_masking(runs: list[list[bytes]], spans: int, repeats: int) -> None:
    from junjo.config import load_settings
    from junjo.features.ingest.masking import masker_for
    from junjo.features.ingest.otlp import decode_traces

    def masker(rules: list[dict[str, object]]) -> object:
        env = {"JUNJO_MASKING": json.dumps({"rules": rules})}
        return masker_for(load_settings(env=env, config_file=Path(os.devnull)).masking)

    custom = {**MASKING_RULES, "value_patterns": [*MASKING_RULES["value_patterns"], r"ACME-\d{8}"]}
    variants = [
        ("no rules", None, runs),
        ("keys + email, api_key, jwt", masker([MASKING_RULES]), runs),
        ("  + a regex of one's own", masker([custom]), runs),
        ("  every span has an email", masker([MASKING_RULES]), [masked_everywhere(runs[0])]),
    ]
    print(f"\nmasking: CPU µs per span of the doors' decode, best of {repeats}")
    for label, rules, payload_sets in variants:
        best = min(
            timed(
                lambda p=payloads, r=rules: [decode_traces(x, "protobuf", r) for x in p],
                time.process_time,
            )
            for payloads in payload_sets
            for _ in range(repeats)
        )
        print(f"{label:<34} {best / spans * 1e6:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spans", type=int, default=20_000, help="spans per run")
    parser.add_argument("--pipeline-spans", type=int, default=300_000)
    parser.add_argument("--pipeline-runs", type=int, default=3, help="0 skips the pipeline")
    parser.add_argument("--masking-runs", type=int, default=3, help="0 skips masking")
    args = parser.parse_args()

    runs = [build_payloads(args.spans) for _ in range(args.runs)]
    spans = sum(count_spans(p) for p in runs[0])
    size = sum(len(p) for p in runs[0]) / spans
    print(f"{spans} spans per run, {size:.0f} bytes per serialized span, {args.runs} runs")

    results: dict[str, list[float]] = {"parse": [], "convert": [], "insert": [], "indexer": []}
    if native.available():
        results = {"parse": [], "convert": [], "native": [], "insert": [], "indexer": []}
    cpu_per_span: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SpanStore.open(Path(tmp) / "insert.duckdb")
        for number, payloads in enumerate(runs, start=1):
            results["parse"].append(spans / bench_parse(payloads))
            results["convert"].append(spans / bench_convert(payloads))
            if native.available():
                results["native"].append(spans / bench_convert_native(payloads))
            results["insert"].append(spans / bench_insert(store, payloads, number))
        store.close()
        for number, payloads in enumerate(runs):
            workdir = Path(tmp) / f"e2e-{number}"
            workdir.mkdir()
            elapsed, cpu = bench_indexer(payloads, spans, workdir)
            results["indexer"].append(spans / elapsed)
            cpu_per_span.append(cpu / spans)

    print(f"\n{'stage':<12} {'median spans/s':>15} {'min':>10} {'max':>10}")
    for stage, rates in results.items():
        median, low, high = statistics.median(rates), min(rates), max(rates)
        print(f"{stage:<12} {median:>15,.0f} {low:>10,.0f} {high:>10,.0f}")
    if native.available():
        ratio = statistics.median(results["native"]) / statistics.median(results["convert"])
        print(f"native / python convert: {ratio:.1f}x")
    else:
        print(f"native: {native.describe()}")
    print(f"indexer CPU per 1,000 spans: {statistics.median(cpu_per_span) * 1e6:.0f} ms")
    if args.masking_runs:
        print_masking(runs, spans, args.masking_runs)
    if args.pipeline_runs:
        with tempfile.TemporaryDirectory() as tmp:
            print_pipeline(args, Path(tmp))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
