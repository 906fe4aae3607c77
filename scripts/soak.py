#!/usr/bin/env python3
"""Soak test: a real ``junjo serve`` under steady open-loop load for a long time.

    .venv/bin/python scripts/soak.py                                  # 5,000 spans/s, 10 min
    .venv/bin/python scripts/soak.py --clock backfill                 # clustered timestamps
    .venv/bin/python scripts/soak.py --rate 2000 --duration 60 --every 10

Client processes replay ``bench_ingest``'s Junjo-shaped export requests (~1 KB a span) over
OTLP/gRPC at ``--rate`` spans/s in total. ``--clock current`` moves timestamps with the clock, as
a live app's are; ``--clock backfill`` gives every request new trace ids and the same start
times two days in the past, as a backfill or a replay of old traces does.

Once a second it samples the server's RSS (server and conversion worker together), the
un-indexed backlog, the indexed count and the indexer's error; it prints one row every
``--every`` seconds, then waits for the backlog to drain and prints a summary: acknowledged
against indexed spans (lost must be 0), seconds with an indexer write error (must be 0),
RSS median and peak, refusals.

With ``--clock both`` (the default) the current-clock run comes first and is the baseline of
the ratio rows: the backfill run is read against a reference taken on the same machine in the
same session (machines of this kind differ by up to 2x). Exit status 1 if any acknowledged
span was not indexed or the indexer reported a write error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_ingest import (  # noqa: E402
    SPANS_PER_TRACE,
    Server,
    _proc_status,
    _process_tree,
    refusals,
    start_clients,
)


@dataclass
class Sample:
    t: float
    rss_mib: float
    backlog_mib: float
    indexed: int
    error: str | None


@dataclass
class SoakResult:
    label: str
    rate: float
    duration: float
    acked: int
    sent: int
    refused: dict[str, int]
    indexed: int
    duplicates: int
    quarantined: int
    error_seconds: int
    first_error: str | None
    drain_s: float
    samples: list[Sample] = field(default_factory=list)
    peak_rss_hwm_mib: float = 0.0

    @property
    def lost(self) -> int:
        return self.acked - self.indexed - self.duplicates - self.quarantined


def sample_loop(server: Server, samples: list[Sample], halt: threading.Event) -> None:
    while not halt.is_set():
        try:
            status = server.status()
            samples.append(
                Sample(
                    time.monotonic(),
                    server.rss_mib(),
                    status["backlog"]["bytes"] / (1 << 20),
                    status["indexed"]["spans"],
                    status["indexer_error"],
                )
            )
        except Exception as exc:  # the server is too busy to answer: that is a finding too
            samples.append(Sample(time.monotonic(), server.rss_mib(), -1, -1, f"status: {exc}"))
        halt.wait(1.0)


def soak(args, *, label: str, backfill: bool, duration: float, every: float) -> SoakResult:
    with tempfile.TemporaryDirectory(prefix="junjo-soak-") as tmp:
        server = Server(Path(tmp) / "data")
        try:
            return _soak(
                server, args, label=label, backfill=backfill, duration=duration, every=every
            )
        finally:
            server.stop()


def _soak(server: Server, args, *, label: str, backfill: bool, duration: float, every: float):
    procs, out, start_at = start_clients(
        server, args.rate, args.batch, args.clients, duration, backfill=backfill
    )
    samples: list[Sample] = []
    halt = threading.Event()
    sampler = threading.Thread(target=sample_loop, args=(server, samples, halt), daemon=True)
    while time.monotonic() < start_at:
        time.sleep(0.01)
    sampler.start()
    _print_rows(label, samples, start_at, duration, every)
    reports = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join()
    drain_from = time.monotonic()
    server.wait_drained(timeout=args.drain_timeout)
    drain_s = time.monotonic() - drain_from
    halt.set()
    sampler.join()
    status = server.status()
    errors = [s.error for s in samples if s.error]
    return SoakResult(
        label=label,
        rate=args.rate,
        duration=duration,
        acked=sum(spans for r in reports for _, spans, _ in r.acks),
        sent=sum(r.sent for r in reports) * (args.batch // SPANS_PER_TRACE * SPANS_PER_TRACE),
        refused=refusals(reports),
        indexed=status["indexed"]["spans"],
        duplicates=status["indexed"]["duplicate_spans"],
        quarantined=status["quarantined"]["spans"],
        error_seconds=len(errors),
        first_error=errors[0] if errors else None,
        drain_s=drain_s,
        samples=samples,
        peak_rss_hwm_mib=sum(_proc_status(p, "VmHWM") for p in _process_tree(server.proc.pid))
        / 1024,
    )


def _print_rows(label: str, samples: list[Sample], start: float, duration: float, every: float):
    """One row every ``every`` s while the load runs (from the sampler's latest sample)."""
    print(f"\n[{label}]  {'t s':>5} {'indexed':>10} {'spans/s':>8} {'backlog MiB':>11} "
          f"{'RSS MiB':>8}  indexer error", flush=True)  # fmt: skip
    previous = (start, 0)
    next_row = start + every
    while True:
        now = time.monotonic()
        if now >= start + duration + 0.5:
            return
        if now < next_row or not samples:
            time.sleep(0.2)
            continue
        last = samples[-1]
        rate = (last.indexed - previous[1]) / max(1e-9, last.t - previous[0])
        previous = (last.t, last.indexed)
        print(
            f"[{label}]  {last.t - start:5.0f} {last.indexed:10,} {rate:8,.0f} "
            f"{last.backlog_mib:11.1f} {last.rss_mib:8.0f}  {(last.error or '')[:70]}",
            flush=True,
        )
        next_row += every


def print_summary(results: list[SoakResult]) -> None:
    print("\nJunjo soak: open-loop OTLP/gRPC load, then drained")
    header = ["", *(r.label for r in results)]
    rows: list[list[str]] = [
        ["offered spans/s x seconds", *(f"{r.rate:,.0f} x {r.duration:.0f}" for r in results)],
        ["spans acknowledged", *(f"{r.acked:,}" for r in results)],
        ["spans indexed (after drain)", *(f"{r.indexed:,}" for r in results)],
        ["acknowledged but not indexed", *(f"{r.lost:,}" for r in results)],
        ["duplicates / quarantined spans", *(f"{r.duplicates} / {r.quarantined}" for r in results)],
        ["seconds with an indexer error", *(str(r.error_seconds) for r in results)],
        ["refused exports (retryable)", *(_refused(r) for r in results)],
        ["drain after the load, s", *(f"{r.drain_s:.1f}" for r in results)],
        ["RSS MiB median (1/s samples)", *(f"{_rss(r, statistics.median):.0f}" for r in results)],
        ["RSS MiB max (1/s samples)", *(f"{_rss(r, max):.0f}" for r in results)],
        ["peak RSS MiB (VmHWM, sum)", *(f"{r.peak_rss_hwm_mib:.0f}" for r in results)],
        ["backlog MiB max", *(f"{max(s.backlog_mib for s in r.samples):.1f}" for r in results)],
    ]
    if len(results) > 1:
        base = _rss(results[0], statistics.median)
        ratios = [f"{_rss(r, statistics.median) / base:.2f}" for r in results]
        rows.append([f"RSS median / {results[0].label}", *ratios])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                        for i, cell in enumerate(row)))  # fmt: skip
    for r in results:
        if r.first_error:
            print(f"{r.label}: first indexer error: {r.first_error}")


def _rss(result: SoakResult, fn) -> float:
    values = [s.rss_mib for s in result.samples]
    return fn(values) if values else float("nan")


def _refused(result: SoakResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(result.refused.items())) or "0"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=5000, help="offered spans/s in total")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--clock", choices=("current", "backfill", "both"), default="both")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--batch", type=int, default=256, help="spans per export request")
    parser.add_argument("--every", type=float, default=30, help="seconds between printed rows")
    parser.add_argument("--drain-timeout", type=float, default=600)
    args = parser.parse_args()
    results = []
    clocks = ("current", "backfill") if args.clock == "both" else (args.clock,)
    for clock in clocks:
        results.append(
            soak(
                args, label=clock, backfill=clock == "backfill", duration=args.duration,
                every=args.every,
            )
        )  # fmt: skip
    print_summary(results)
    failed = any(r.lost or r.error_seconds for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
