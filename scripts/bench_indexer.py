#!/usr/bin/env python3
"""Indexer benchmark: how fast Junjo-shaped spans go from OTLP bytes into DuckDB.

    .venv/bin/python scripts/bench_indexer.py                  # 5 runs of 20,000 spans
    .venv/bin/python scripts/bench_indexer.py --runs 3 --spans 5000
    .venv/bin/python scripts/bench_indexer.py --converter python  # one path only

``--converter native|python|both`` (default both): the insert, indexer and pipeline stages
run on each path (the ``converter`` setting), and each table gets the native / python ratio.

Spans are about 1 KB serialized: workflow traces (contract-v2 owner attributes, state and
graph snapshots) whose nodes each carry a ``set_state`` event, plus an OpenInference LLM span
per trace. Every run uses fresh ids, so nothing is skipped as a duplicate. Stages, each the
median of ``--runs`` (CPU-bound stages in process CPU time, so a busy machine skews less):

  parse      protobuf decode only (the floor)
  convert    convert_request: decode + rows + JSON
  native     the same batches by the native converter (native.convert_native: columns for
             DuckDB's Arrow scan), when its C extension is built; the ratio to convert follows
  insert     SpanStore.write_batches of batches converted by the path into a store that
             grows run after run (wall time, including staging, the duplicate lookup, the
             trace summary and the commit; its CPU µs per span is printed too)
  indexer    a fresh WAL holding the run's requests, drained by Indexer → flush on the path
             (wall time; its process CPU per 1,000 spans is printed too: contention-proof)

Masking (``[[masking.rules]]``): CPU µs per span of the doors' decode (``decode_traces``, what
an export costs before its WAL append) with no rules, with a typical rule set, with that set
and a regex of one's own, and with the typical set on requests where every span has an email
to mask (``--masking-runs``, 0 skips it).

Then the pipeline as ``junjo serve`` runs it, on a longer stream (``--pipeline-spans``,
``--pipeline-runs``): bench_ingest's requests, one process, the server's DuckDB memory
limit, no row-group vacuum while writing. As shipped (checkpoints at half the memory
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
from junjo.features.spans.converter import convert_payload  # noqa: E402
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


def bench_insert(
    store: SpanStore, payloads: list[bytes], seq: int, converter: str
) -> tuple[float, float]:
    """One write of the run's batches as ``converter`` makes them: (wall s, CPU s)."""
    native_path = converter == "native"
    batches = [convert_payload(p, use_native=native_path, seq=seq) for p in payloads]
    assert all((b.native is not None) == native_path for b in batches), "a request declined"
    cpu, started = time.process_time(), time.perf_counter()
    store.write_batches(batches, seq)
    return time.perf_counter() - started, time.process_time() - cpu


def bench_indexer(
    payloads: list[bytes], spans: int, workdir: Path, converter: str
) -> tuple[float, float]:
    """A WAL holding the run's requests, drained by a started Indexer: (wall s, CPU s)."""
    wal = WriteAheadLog(workdir / "wal.db")
    store = SpanStore.open(workdir / "spans.duckdb")
    indexer = Indexer(wal, store, converter=converter)
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
    spans: int, workdir: Path, *, threshold: str | None, backfill: bool, converter: str
) -> tuple[float, float]:
    """The indexer over a pre-filled WAL: (spans/s, CPU µs/span)."""
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
    indexer = Indexer(wal, store, converter=converter)
    own = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    indexer.start()
    try:
        if not indexer.flush(timeout=1800):
            raise SystemExit("the indexer did not catch up within 30 minutes")
        elapsed = time.perf_counter() - started
    finally:
        indexer.stop(timeout=30)
        wal.close()
        store.close()
    indexed = indexer.status().indexed_spans
    cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(own)
    return indexed / elapsed, cpu / indexed * 1e6


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def print_pipeline(args: argparse.Namespace, workroot: Path, converters: list[str]) -> None:
    print(
        f"\npipeline: {args.pipeline_spans:,} spans per run, one process, {args.pipeline_runs} runs"
    )
    print(f"{'variant':<34} {'converter':<9} {'spans/s':>9} {'ratio':>6} {'CPU µs':>7}  runs")
    baselines: dict[str, float] = {}  # the first variant's rate, by converter
    for variant, (label, threshold, backfill) in enumerate(PIPELINE_VARIANTS):
        rates: dict[str, float] = {}
        for converter in converters:
            results = []
            for number in range(args.pipeline_runs):
                workdir = workroot / f"pipeline-{variant}-{converter}-{number}"
                workdir.mkdir()
                results.append(
                    bench_pipeline(
                        args.pipeline_spans,
                        workdir,
                        threshold=threshold,
                        backfill=backfill,
                        converter=converter,
                    )
                )
            rates[converter] = statistics.median(r[0] for r in results)
            baseline = baselines.setdefault(converter, rates[converter])
            cpu_us = statistics.median(r[1] for r in results)
            runs = ", ".join(f"{r[0]:,.0f}" for r in results)
            print(
                f"{label:<34} {converter:<9} {rates[converter]:>9,.0f}"
                f" {rates[converter] / baseline:>6.2f} "
                f"{cpu_us:>7.0f}  {runs}"
            )
        if len(rates) == 2:
            print(f"{'':<34} native / python: {rates['native'] / rates['python']:.2f}x")


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
    parser.add_argument(
        "--converter",
        choices=("native", "python", "both"),
        default="both",
        help="the path(s) of the insert, indexer and pipeline stages",
    )
    args = parser.parse_args()

    runs = [build_payloads(args.spans) for _ in range(args.runs)]
    spans = sum(count_spans(p) for p in runs[0])
    size = sum(len(p) for p in runs[0]) / spans
    print(f"{spans} spans per run, {size:.0f} bytes per serialized span, {args.runs} runs")

    converters = ["native", "python"] if args.converter == "both" else [args.converter]
    stages = ["parse", "convert", "native"] if native.available() else ["parse", "convert"]
    stages += [f"{stage} {c}" for stage in ("insert", "indexer") for c in converters]
    results: dict[str, list[float]] = {stage: [] for stage in stages}
    cpu_us: dict[str, list[float]] = {stage: [] for stage in stages if " " in stage}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {c: SpanStore.open(Path(tmp) / f"insert-{c}.duckdb") for c in converters}
        for number, payloads in enumerate(runs, start=1):
            results["parse"].append(spans / bench_parse(payloads))
            results["convert"].append(spans / bench_convert(payloads))
            if native.available():
                results["native"].append(spans / bench_convert_native(payloads))
            for converter in converters:
                wall, cpu = bench_insert(stores[converter], payloads, number, converter)
                results[f"insert {converter}"].append(spans / wall)
                cpu_us[f"insert {converter}"].append(cpu / spans * 1e6)
        for span_store in stores.values():
            span_store.close()
        for number, payloads in enumerate(runs):
            for converter in converters:
                workdir = Path(tmp) / f"e2e-{number}-{converter}"
                workdir.mkdir()
                elapsed, cpu = bench_indexer(payloads, spans, workdir, converter)
                results[f"indexer {converter}"].append(spans / elapsed)
                cpu_us[f"indexer {converter}"].append(cpu / spans * 1e6)

    print(f"\n{'stage':<16} {'median spans/s':>15} {'min':>10} {'max':>10} {'CPU µs/span':>12}")
    for stage, rates in results.items():
        median, low, high = statistics.median(rates), min(rates), max(rates)
        cpu = f"{statistics.median(cpu_us[stage]):>12.1f}" if stage in cpu_us else ""
        print(f"{stage:<16} {median:>15,.0f} {low:>10,.0f} {high:>10,.0f} {cpu}")
    if native.available():
        ratio = statistics.median(results["native"]) / statistics.median(results["convert"])
        print(f"native / python convert: {ratio:.1f}x")
    else:
        print(f"native: {native.describe()}")
    if len(converters) == 2:
        for stage in ("insert", "indexer"):
            ratio = statistics.median(results[f"{stage} native"]) / statistics.median(
                results[f"{stage} python"]
            )
            print(f"native / python {stage}: {ratio:.2f}x")
    if args.masking_runs:
        print_masking(runs, spans, args.masking_runs)
    if args.pipeline_runs:
        with tempfile.TemporaryDirectory() as tmp:
            print_pipeline(args, Path(tmp), converters)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
