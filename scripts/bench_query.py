"""Query benchmark: trace search, whole traces, workflow execution, `junjo traces list`.

Builds (once, cached under .cache/) a span store of ``--spans`` spans (default 1,000,000) in
realistic junjo traces (a workflow, ~17 nodes with set_state events, an LLM child span;
five services; a week of timestamps; 3% failing), through the real converter and the real
bulk writer. Then times each query ``--runs`` times and prints a table of median and p95
with the issue's bar, and each figure's ratio to a baseline measured in the same run: the
newest-traces page computed naively, by aggregating every span (no summary table).

    .venv/bin/python scripts/bench_query.py [--spans 1000000] [--runs 30] [--regenerate]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from junjo.features.spans.convert import convert_request  # noqa: E402
from junjo.features.spans.store import SERVER_MEMORY_LIMIT, SpanStore  # noqa: E402
from junjo.features.traces import queries  # noqa: E402
from junjo.kernel.principal import Principal  # noqa: E402
from tests.support import otlp_builders as b  # noqa: E402

SERVICES = ["checkout", "support-bot", "search/rerank", "billing", "onboarding"]
WEEK_NS = 7 * 24 * 3600 * 1_000_000_000
OPERATOR = Principal.operator()


# -- data ---------------------------------------------------------------------------------


def _workflow_trace(start_ns: int, nodes: int, fail: bool, store_id: str) -> list:
    """A junjo workflow trace: owner span, nodes each with a set_state, an LLM call."""
    trace_id = b.new_trace_id()
    state: dict[str, object] = {}
    spans, workflow_id = [], b.new_span_id()
    for index in range(nodes):
        node_start = start_ns + (index + 1) * b.MS
        value = f"value {index} " + "x" * 40
        patch = [{"op": "add", "path": f"/field{index}", "value": value}]
        state[f"field{index}"] = value
        event = b.set_state_event(
            store_id=store_id,
            sequence=index + 1,
            action=f"set_field{index}",
            patch=patch,
            time_ns=node_start + b.MS // 2,
            event_id=f"evt-{index}",
        )
        node_span_id = b.new_span_id()
        spans.append(
            b.junjo_node_span(
                trace_id=trace_id,
                span_id=node_span_id,
                parent_span_id=workflow_id,
                node_id=f"node-{index}",
                name=f"Node{index}",
                start_ns=node_start,
                end_ns=node_start + b.MS,
                events=[event],
            )
        )
        if index == 1:
            spans.append(
                b.llm_span(trace_id=trace_id, parent_span_id=node_span_id, start_ns=node_start)
            )
    spans.append(
        b.junjo_workflow_span(
            trace_id=trace_id,
            span_id=workflow_id,
            store_id=store_id,
            state_end=state,
            transitions=nodes,
            start_ns=start_ns,
            end_ns=start_ns + (nodes + 2) * b.MS,
            status_code=2 if fail else 0,
            status_message="node failed" if fail else "",
        )
    )
    return spans


def generate(path: Path, total_spans: int) -> dict[str, str]:
    """Write the store; returns the ids of the special traces the benchmark reads."""
    store = SpanStore.open(path)
    now = time.time_ns()
    written, seq, chunk = 0, 0, []
    specials: dict[str, str] = {}
    trace_number = 0

    def flush() -> None:
        nonlocal seq, chunk
        seq += 1
        payload = b.make_request([b.make_resource_spans(s, service_name=svc) for svc, s in chunk])
        batch = convert_request(payload.SerializeToString(), seq=seq, indexed_at_ns=now)
        store.write_batches([batch], seq)
        chunk = []

    big = _workflow_trace(now - WEEK_NS // 2, 199, False, "store-big")  # 200+ spans
    specials["trace_200"] = big[0].trace_id.hex()
    wf = _workflow_trace(now - WEEK_NS // 3, 100, False, "store-100")
    specials["workflow_100"] = (wf[-1].trace_id.hex(), wf[-1].span_id.hex())
    chunk += [(SERVICES[0], big), (SERVICES[0], wf)]
    written += len(big) + len(wf)
    while written < total_spans:
        trace_number += 1
        start = now - WEEK_NS + int(WEEK_NS * written / total_spans)
        spans = _workflow_trace(start, 17, trace_number % 33 == 0, f"store-{trace_number}")
        chunk.append((SERVICES[trace_number % len(SERVICES)], spans))
        written += len(spans)
        if sum(len(s) for _, s in chunk) >= 20_000:
            flush()
    if chunk:
        flush()
    store.close()
    return specials


def ensure_store(total: int, regenerate: bool) -> tuple[Path, dict]:
    cache = REPO / ".cache" / f"bench_query_{total}"
    path, meta = cache / "spans.duckdb", cache / "specials.json"
    if regenerate or not meta.exists():
        cache.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        specials = generate(path, total)
        meta.write_text(json.dumps(specials))
        print(
            f"generated {total:,} spans in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
    return cache, json.loads(meta.read_text())


# -- timing -------------------------------------------------------------------------------


def timed(run: Callable[[], object], runs: int) -> list[float]:
    run()  # warm caches, as a server that has been up for a while has
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cli_list_ms(data_dir: Path, runs: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNJO_")}
    command = [sys.executable, "-m", "junjo", "traces", "list", "--data-dir", str(data_dir)]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=tempfile.gettempdir())
        samples.append((time.perf_counter() - started) * 1000)
    return samples


# What a trace list costs without the per-trace summary table: aggregate every span.
_NAIVE_LIST = """
SELECT trace_id, min(start_time_ns) AS started, count(*), count(*) FILTER (WHERE is_error)
FROM spans GROUP BY trace_id ORDER BY started DESC LIMIT 50
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--memory-limit",
        default=SERVER_MEMORY_LIMIT,
        help=f"DuckDB's memory limit (default: the server's, {SERVER_MEMORY_LIMIT})",
    )
    args = parser.parse_args()
    data_dir, specials = ensure_store(args.spans, args.regenerate)
    store = SpanStore.open_readonly(data_dir / "spans.duckdb", memory_limit=args.memory_limit)
    conn = store.cursor()
    (count,) = conn.execute("SELECT count(*) FROM spans").fetchone()
    first_page = queries.search_traces(conn, OPERATOR, queries.TraceFilters())
    wf_trace, wf_span = specials["workflow_100"]
    last_hour = time.time_ns() - 3600 * 10**9
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("baseline: naive list (GROUP BY)", lambda: conn.execute(_NAIVE_LIST).fetchall(), None),
        ("search: newest page", lambda: queries.search_traces(
            conn, OPERATOR, queries.TraceFilters()), 50),
        ("search: one service", lambda: queries.search_traces(
            conn, OPERATOR, queries.TraceFilters(service="billing")), 50),
        ("search: errors only", lambda: queries.search_traces(
            conn, OPERATOR, queries.TraceFilters(errors_only=True)), 50),
        ("search: LLM only, last hour", lambda: queries.search_traces(
            conn, OPERATOR, queries.TraceFilters(llm_only=True, since_ns=last_hour)), 50),
        ("search: second page (cursor)", lambda: queries.search_traces(
            conn, OPERATOR, queries.TraceFilters(cursor=first_page["next_cursor"])), 50),
        ("whole trace, 200 spans", lambda: queries.trace_detail(
            conn, OPERATOR, specials["trace_200"]), 100),
        ("workflow execution, 100 transitions", lambda: queries.workflow_execution(
            conn, OPERATOR, wf_trace, wf_span), 150),
    ]  # fmt: skip
    results = [(name, timed(run, args.runs), bar) for name, run, bar in cases]
    conn.close()
    store.close()
    results.append(("`junjo traces list` wall time", cli_list_ms(data_dir, 5), 1000))
    baseline = statistics.median(results[0][1])
    print(f"\n{count:,} spans; median and p95 of {args.runs} runs (CLI: 5 runs), ms\n")
    print(f"{'query':40} {'median':>9} {'p95':>9} {'bar p95':>8} {'vs base':>8}  ok")
    for name, samples, bar in results:
        median, high = statistics.median(samples), p95(samples)
        verdict = "" if bar is None else ("yes" if high <= bar else "NO")
        bar_text = "" if bar is None else f"{bar:.0f}"
        ratio = median / baseline
        print(f"{name:40} {median:9.1f} {high:9.1f} {bar_text:>8} {ratio:7.1f}x  {verdict}")


if __name__ == "__main__":
    main()
