#!/usr/bin/env python3
"""Ingestion benchmark: a real ``junjo serve`` fed by concurrent OTLP/gRPC clients.

    .venv/bin/python scripts/bench_ingest.py               # 3 runs a converter, 20 s phases
    .venv/bin/python scripts/bench_ingest.py --runs 1 --duration 10
    .venv/bin/python scripts/bench_ingest.py --converter native --group-mb 4,8,16

``--converter native|python|both`` (default both) sets the servers' ``converter`` setting
(``JUNJO_CONVERTER``); with both, runs alternate between the two and the table has a column
for each and their ratio. ``--group-mb`` runs servers whose indexer reads groups of that many
MB of WAL (the indexer's ``_READ_MAX_BYTES``, patched in the benchmark's server only), one
column per size.

Each client is a separate process that replays pre-built Junjo-shaped export requests
(about 1 KB per span: contract-v2 attributes, ``set_state`` events, workflow spans with
state and graph snapshots). Before each send it overwrites the trace ids and store ids in
place, so every span is new to the server at almost no CPU cost. The load generator shares
the machine with the server, so its own CPU use is reported beside the results.

Phases of one run, on a fresh data dir:
  idle       RSS after start-up and a few warm-up exports
  steady     open loop at --steady-rate spans/s: export p50/p99, ack-to-queryable p50/p95
  max        closed loop, as fast as the server acks: spans/s acked and spans/s indexed
  overload   open loop at --overload x --steady-rate (10): peak RSS, refusals (backpressure)

"Queryable" is read from ``GET /api/v1/ingest/status``: a batch counts as queryable once
the indexed span count reaches the number of spans acknowledged up to and including it
(the indexer works in WAL order, which is ack order up to one group commit).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BARS = {  # issue 16's, for the native path (the python path is the fallback)
    "max_indexed_spans_s": (">=", 10_000),
    "max_server_cpu_us_per_span": ("<=", 60),
    "steady_p99_ms": ("<=", 30),
    "ack_to_queryable_p95_ms": ("<=", 1_000),
    "idle_rss_mib": ("<=", 110),
    "overload_peak_rss_mib": ("<=", 300),
}
# The native path end to end, against the python path in the same run.
NATIVE_OVER_PYTHON_BAR = 1.4

# -- Junjo-shaped spans -----------------------------------------------------------------------

SPANS_PER_TRACE = 16  # workflow, run_concurrent, 12 nodes, 2 LLM calls


def _nanoid(rng: random.Random) -> str:
    return "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(21)
    )


def _attrs(span, values: dict) -> None:
    for key, value in values.items():
        attribute = span.attributes.add()
        attribute.key = key
        if isinstance(value, bool):
            attribute.value.bool_value = value
        elif isinstance(value, int):
            attribute.value.int_value = value
        else:
            attribute.value.string_value = value


def build_template(batch_spans: int, seed: int):
    """A request of ``batch_spans`` spans plus the marker byte strings to rewrite per send."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _attrs(resource_spans.resource, {"service.name": "bench-app", "service.namespace": "bench"})
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "junjo"
    markers: list[bytes] = []
    now = time.time_ns()
    for _ in range(max(1, batch_spans // SPANS_PER_TRACE)):
        trace_id, store_id = rng.randbytes(16), _nanoid(rng)
        markers += [trace_id, store_id.encode()]
        _add_trace(scope_spans, rng, trace_id, store_id, now)
    return request.SerializeToString(), markers


def _add_trace(scope_spans, rng: random.Random, trace_id: bytes, store_id: str, now: int) -> None:
    state = {
        "ticket": {"id": _nanoid(rng), "text": "My order arrived broken " * 10},
        "summary": None,
    }
    graph = {
        "v": 2,
        "graphStructuralId": "graph_" + rng.randbytes(16).hex(),
        "nodes": [
            {
                "nodeRuntimeId": _nanoid(rng),
                "nodeStructuralId": "node_" + rng.randbytes(16).hex(),
                "nodeType": f"Node{i}",
                "nodeLabel": f"Node{i}",
            }
            for i in range(12)
        ],
        "edges": [],
    }
    root_id = rng.randbytes(8)
    workflow = scope_spans.spans.add()
    workflow.trace_id, workflow.span_id, workflow.name = trace_id, root_id, "SupportWorkflow"
    workflow.kind, workflow.start_time_unix_nano, workflow.end_time_unix_nano = (
        1,
        now,
        now + 9_000_000,
    )
    _attrs(
        workflow,
        {
            "junjo.telemetry.contract_version": 2,
            "junjo.span_type": "workflow",
            "junjo.executable_definition_id": _nanoid(rng),
            "junjo.executable_runtime_id": _nanoid(rng),
            "junjo.executable_structural_id": graph["graphStructuralId"],
            "junjo.workflow.store.id": store_id,
            "junjo.workflow.state.start": json.dumps(state),
            "junjo.workflow.state.start.mode": "full",
            "junjo.workflow.state.end": json.dumps({**state, "summary": "refund"}),
            "junjo.workflow.state.end.mode": "full",
            "junjo.workflow.execution_graph_snapshot": json.dumps(graph),
            "junjo.store.revision.start": 0,
            "junjo.store.revision.end": 12,
            "junjo.store.transition.count": 12,
            "junjo.store.reconstructable": True,
            "junjo.workflow.node.count": 12,
        },
    )
    group_id = rng.randbytes(8)
    group = scope_spans.spans.add()
    group.trace_id, group.span_id, group.parent_span_id = trace_id, group_id, root_id
    group.name, group.kind = "Analyze", 1
    group.start_time_unix_nano, group.end_time_unix_nano = now + 1000, now + 8_000_000
    _attrs(
        group,
        {
            "junjo.telemetry.contract_version": 2,
            "junjo.span_type": "run_concurrent",
            "junjo.executable_definition_id": _nanoid(rng),
        },
    )
    for number in range(12):
        node = scope_spans.spans.add()
        node.trace_id, node.span_id = trace_id, rng.randbytes(8)
        node.parent_span_id = group_id if number < 4 else root_id
        node.name, node.kind = f"Node{number}", 1
        node.start_time_unix_nano = now + 2000 + number * 500_000
        node.end_time_unix_nano = node.start_time_unix_nano + 400_000
        _attrs(
            node,
            {
                "junjo.telemetry.contract_version": 2,
                "junjo.span_type": "node",
                "junjo.executable_definition_id": _nanoid(rng),
                "junjo.executable_runtime_id": _nanoid(rng),
                "junjo.executable_structural_id": "node_" + rng.randbytes(16).hex(),
                "junjo.parent_executable_runtime_id": _nanoid(rng),
            },
        )
        event = node.events.add()
        event.name, event.time_unix_nano = "set_state", node.start_time_unix_nano + 100
        _attrs(
            event,
            {
                "id": _nanoid(rng),
                "junjo.store.name": "TicketStore",
                "junjo.store.id": store_id,
                "junjo.store.action": "set_summary",
                "junjo.store.transition.sequence": number + 1,
                "junjo.store.revision.before": number,
                "junjo.store.revision.after": number + 1,
                "junjo.state_json_patch": json.dumps(
                    [{"op": "replace", "path": "/summary", "value": f"step {number} " * 8}]
                ),
                "junjo.state_json_patch.mode": "full",
            },
        )
        if number in (5, 9):
            llm = scope_spans.spans.add()
            llm.trace_id, llm.span_id, llm.parent_span_id = trace_id, rng.randbytes(8), node.span_id
            llm.name, llm.kind = "ChatCompletion", 3
            llm.start_time_unix_nano = node.start_time_unix_nano + 1000
            llm.end_time_unix_nano = node.end_time_unix_nano - 1000
            _attrs(
                llm,
                {
                    "openinference.span.kind": "LLM",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.operation.name": "chat",
                    "llm.model_name": "gpt-4o-mini",
                    "llm.token_count.prompt": 812,
                    "llm.token_count.completion": 64,
                    "input.value": "Summarize the customer's complaint: " + "text " * 40,
                    "output.value": "The customer received a damaged item and wants a refund.",
                },
            )


BACKFILL_AGE_NS = 2 * 24 * 3600 * 10**9


class Replayer:
    """Rewrites a template in place so each send carries new ids and current timestamps.

    Timestamps move with the clock as a real app's do. ``backfill`` freezes them instead, two
    days in the past: every request then carries new trace ids and the same start times, as
    a backfill or a replay of old traces does (``scripts/soak.py --clock backfill``)."""

    def __init__(self, template: bytes, markers: list[bytes], *, backfill: bool = False) -> None:
        self.buf = bytearray(template)
        self.slots: list[tuple[int, bool, list[int]]] = []
        for marker in markers:
            self.slots.append((len(marker), len(marker) == 16, _offsets(self.buf, marker)))
        self.times = _time_slots(template)
        # The latest time lands at now: spans arrive ended, as from a real exporter.
        self.built_at = max((value for _, value in self.times), default=0)
        self.fixed_shift = time.time_ns() - self.built_at - BACKFILL_AGE_NS if backfill else None

    def next(self) -> bytes:
        for length, binary, offsets in self.slots:
            value = os.urandom(length) if binary else base64.b32encode(os.urandom(15))[:length]
            for at in offsets:
                self.buf[at : at + length] = value
        shift = self.fixed_shift
        if shift is None:
            shift = time.time_ns() - self.built_at
        for at, value in self.times:
            struct.pack_into("<Q", self.buf, at, value + shift)
        return bytes(self.buf)


def _offsets(buf: bytearray, marker: bytes) -> list[int]:
    offsets, at = [], buf.find(marker)
    while at >= 0:
        offsets.append(at)
        at = buf.find(marker, at + 1)
    return offsets


def _time_slots(template: bytes) -> list[tuple[int, int]]:
    """(offset, value) of every span and event timestamp (fixed64) in the template."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(template)
    values = {
        value
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
        for value in (
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            *(event.time_unix_nano for event in span.events),
        )
    }
    buf = bytearray(template)
    return [(at, v) for v in values for at in _offsets(buf, struct.pack("<Q", v))]


# -- load generator processes ----------------------------------------------------------------


@dataclass
class ClientReport:
    acks: list[tuple[float, int, float]] = field(default_factory=list)  # (t_ack, spans, latency)
    refused: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    sent: int = 0


def client_main(
    target: str,
    api_key: str,
    batch_spans: int,
    rate: float | None,
    duration: float,
    start_at: float,
    seed: int,
    out: mp.Queue,
    backfill: bool = False,
) -> None:
    """Send for ``duration`` s: open loop at ``rate`` spans/s, or closed loop when None."""
    import grpc

    replayer = Replayer(*build_template(batch_spans, seed), backfill=backfill)
    spans = batch_spans // SPANS_PER_TRACE * SPANS_PER_TRACE
    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)])
    export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    metadata = (("x-junjo-api-key", api_key),)
    report = ClientReport()
    lock = threading.Lock()
    in_flight = threading.Semaphore(16 if rate else 2)
    cpu0 = time.process_time()

    def done(future, sent_at: float) -> None:
        now = time.monotonic()
        with lock:
            if future.code() == grpc.StatusCode.OK:
                report.acks.append((now, spans, now - sent_at))
            else:
                name = future.code().name
                report.refused[name] = report.refused.get(name, 0) + 1
        in_flight.release()

    interval = spans / rate if rate else 0.0
    next_send = start_at
    while time.monotonic() < start_at:
        time.sleep(0.001)
    end = start_at + duration
    while time.monotonic() < end:
        if rate:
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_send += interval
        if not in_flight.acquire(timeout=1):
            continue
        payload = replayer.next()
        sent_at = time.monotonic()
        future = export.future(payload, metadata=metadata, timeout=30)
        report.sent += 1
        future.add_done_callback(lambda f, t=sent_at: done(f, t))
    for _ in range(16 if rate else 2):  # wait for the tail
        in_flight.acquire(timeout=35)
    report.cpu_s = time.process_time() - cpu0
    channel.close()
    out.put(report)


# -- the server under test ----------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ``python -m junjo serve``, with the indexer's group size set first (--group-mb).
_SERVE_WITH_GROUP = (
    "import sys; import junjo.features.spans.indexer as indexer;"
    " indexer._READ_MAX_BYTES = int(sys.argv.pop(1)); from junjo.cli import main; main()"
)


class Server:
    def __init__(
        self, data_dir: Path, *, converter: str = "auto", group_bytes: int | None = None
    ) -> None:
        from junjo.features.api_keys.service import create_key
        from junjo.kernel.control_db import ControlDB
        from junjo.kernel.principal import Principal

        data_dir.mkdir(parents=True, exist_ok=True)
        control = ControlDB(data_dir / "junjo.db")
        self.ingest_key = create_key(control.db, Principal.operator(), "bench", "ingest").key
        self.read_key = create_key(control.db, Principal.operator(), "bench-r", "read").key
        self.port, self.grpc_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUNJO_")}
        env["JUNJO_CONVERTER"] = converter
        self._log_file = (data_dir / "server.log").open("w")
        launch = (
            ["-m", "junjo"] if group_bytes is None else ["-c", _SERVE_WITH_GROUP, str(group_bytes)]
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *launch,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--grpc-port",
                str(self.grpc_port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            env=env,
            cwd=REPO,
        )
        import httpx

        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=10,
            headers={"Authorization": f"Bearer {self.read_key}"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "server.log").read_text())
            time.sleep(0.1)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def status(self) -> dict:
        return self.http.get("/api/v1/ingest/status").json()

    def rss_mib(self) -> float:
        """The server and any child processes, together."""
        return sum(_proc_status(pid, "VmRSS") for pid in _process_tree(self.proc.pid)) / 1024

    def cpu_s(self) -> float:
        total = 0
        for pid in _process_tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def wait_drained(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.status()["backlog"]["batches"] and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc's children lists."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return pids


def _proc_status(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # a worker that has just exited
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """Polls the server's RSS and indexed span count while a phase runs."""

    def __init__(self, server: Server, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.indexed: list[tuple[float, int]] = []
        self.rss_peak = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.rss_peak = max(self.rss_peak, self.server.rss_mib())
            try:
                indexed = self.server.status()["indexed"]["spans"]
                self.indexed.append((time.monotonic(), indexed))
            except Exception:
                pass
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# -- phases ------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    duration: float
    acks: list[tuple[float, int, float]]
    refused: dict[str, int]
    client_cpu_s: float
    server_cpu_s: float
    rss_peak: float
    indexed: list[tuple[float, int]]
    indexed_base: int

    @property
    def acked_spans(self) -> int:
        return sum(a[1] for a in self.acks)


def start_clients(
    server: Server,
    rate: float | None,
    batch: int,
    clients: int,
    duration: float,
    *,
    backfill: bool = False,
) -> tuple[list, mp.Queue, float]:
    """Client processes sending for ``duration`` s from the returned start time (leaving
    them 3 s to build their requests); each puts its ClientReport on the queue."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.monotonic() + 3.0
    per_client = rate / clients if rate else None
    procs = [
        ctx.Process(
            target=client_main,
            args=(
                server.target,
                server.ingest_key,
                batch,
                per_client,
                duration,
                start_at,
                random.randrange(1 << 30),
                out,
                backfill,
            ),
        )
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    return procs, out, start_at


def refusals(reports: list[ClientReport]) -> dict[str, int]:
    """Refused exports of all clients, by gRPC status."""
    refused: dict[str, int] = {}
    for report in reports:
        for name, count in report.refused.items():
            refused[name] = refused.get(name, 0) + count
    return refused


def run_phase(
    server: Server,
    args,
    *,
    rate: float | None,
    batch: int,
    clients: int,
    duration: float,
    wait_index: bool,
) -> PhaseResult:
    procs, out, start_at = start_clients(server, rate, batch, clients, duration)
    while time.monotonic() < start_at - 0.05:
        time.sleep(0.01)
    base = server.status()["indexed"]["spans"]
    sampler = Sampler(server)
    cpu0 = server.cpu_s()
    sampler.start()
    reports = [out.get(timeout=duration + 120) for _ in procs]
    server_cpu = server.cpu_s() - cpu0
    for proc in procs:
        proc.join()
    if wait_index:
        server.wait_drained()
        time.sleep(0.1)
    sampler.stop()
    return PhaseResult(
        duration=duration,
        acks=sorted(a for r in reports for a in r.acks),
        refused=refusals(reports),
        client_cpu_s=sum(r.cpu_s for r in reports),
        server_cpu_s=server_cpu,
        rss_peak=sampler.rss_peak,
        indexed=sampler.indexed,
        indexed_base=base,
    )


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def ack_to_queryable(phase: PhaseResult) -> list[float]:
    """Per batch: first status sample showing all spans acked so far as indexed, minus ack."""
    delays, cumulative, at = [], 0, 0
    samples = phase.indexed
    for t_ack, spans, _ in phase.acks:
        cumulative += spans
        while at < len(samples) and (
            samples[at][0] < t_ack or samples[at][1] - phase.indexed_base < cumulative
        ):
            at += 1
        if at == len(samples):
            break
        delays.append(samples[at][0] - t_ack)
    return delays


def indexed_rate(phase: PhaseResult, start: float, end: float) -> float:
    inside = [(t, n) for t, n in phase.indexed if start <= t <= end]
    if len(inside) < 2:
        return float("nan")
    (t0, n0), (t1, n1) = inside[0], inside[-1]
    return (n1 - n0) / (t1 - t0)


@dataclass(frozen=True)
class Variant:
    converter: str
    group_mb: int | None = None

    @property
    def label(self) -> str:
        return self.converter + (f" {self.group_mb} MB" if self.group_mb else "")


def variants(args) -> list[Variant]:
    converters = ["native", "python"] if args.converter == "both" else [args.converter]
    sizes = [int(mb) for mb in args.group_mb.split(",")] if args.group_mb else [None]
    return [Variant(c, mb) for mb in sizes for c in converters]


def one_run(args, number: int, variant: Variant) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="junjo-bench-") as tmp:
        group = variant.group_mb << 20 if variant.group_mb else None
        server = Server(Path(tmp) / "data", converter=variant.converter, group_bytes=group)
        _log(number, f"{variant.label}: server pid {server.proc.pid}")
        try:
            return _measure(server, args, number)
        finally:
            server.stop()


def _measure(server: Server, args, number: int) -> dict[str, float]:
    out: dict[str, float] = {}

    def phase(rate: float | None, batch: int, clients: int, wait_index: bool) -> PhaseResult:
        return run_phase(
            server,
            args,
            rate=rate,
            batch=batch,
            clients=clients,
            duration=args.duration,
            wait_index=wait_index,
        )

    run_phase(server, args, rate=500, batch=args.batch, clients=1, duration=2, wait_index=True)
    time.sleep(2)
    out["idle_rss_mib"] = server.rss_mib()
    _log(number, f"idle RSS {out['idle_rss_mib']:.0f} MiB")

    steady = phase(args.steady_rate, args.steady_batch, args.clients, wait_index=True)
    latencies = [a[2] * 1000 for a in steady.acks]
    delays = [d * 1000 for d in ack_to_queryable(steady)]
    out["steady_acked_spans_s"] = steady.acked_spans / steady.duration
    out["steady_p50_ms"] = percentile(latencies, 50)
    out["steady_p99_ms"] = percentile(latencies, 99)
    out["ack_to_queryable_p50_ms"] = percentile(delays, 50)
    out["ack_to_queryable_p95_ms"] = percentile(delays, 95)
    out["steady_server_cpu_pct"] = 100 * steady.server_cpu_s / steady.duration
    out["steady_loadgen_cpu_pct"] = 100 * steady.client_cpu_s / steady.duration
    out["steady_refused"] = sum(steady.refused.values())
    _log(
        number,
        f"steady {out['steady_acked_spans_s']:.0f} spans/s, p99 {out['steady_p99_ms']:.1f} ms",
    )

    peak = phase(None, args.batch, args.clients, wait_index=True)
    t0 = peak.acks[0][0] if peak.acks else 0
    out["max_acked_spans_s"] = peak.acked_spans / peak.duration
    out["max_indexed_spans_s"] = indexed_rate(peak, t0 + 2, t0 + peak.duration)
    out["max_server_cpu_pct"] = 100 * peak.server_cpu_s / peak.duration
    indexed = [n for t, n in peak.indexed if t <= t0 + peak.duration]
    if indexed and indexed[-1] > peak.indexed_base:
        spans = indexed[-1] - peak.indexed_base
        out["max_server_cpu_us_per_span"] = peak.server_cpu_s / spans * 1e6
    out["max_loadgen_cpu_pct"] = 100 * peak.client_cpu_s / peak.duration
    out["max_refused"] = sum(peak.refused.values())
    _log(
        number,
        f"max acked {out['max_acked_spans_s']:.0f}/s indexed {out['max_indexed_spans_s']:.0f}/s",
    )

    over = phase(args.overload * args.steady_rate, args.batch, args.clients * 2, wait_index=False)
    out["overload_acked_spans_s"] = over.acked_spans / over.duration
    out["overload_peak_rss_mib"] = over.rss_peak
    out["overload_refused"] = sum(over.refused.values())
    out["overload_loadgen_cpu_pct"] = 100 * over.client_cpu_s / over.duration
    _log(number, f"overload peak RSS {over.rss_peak:.0f} MiB, refused {over.refused}")
    server.wait_drained()
    time.sleep(3)
    out["idle_after_load_rss_mib"] = server.rss_mib()
    # Sum of each process's own peak: an upper bound on the peak of the whole.
    out["peak_rss_mib"] = (
        sum(_proc_status(p, "VmHWM") for p in _process_tree(server.proc.pid)) / 1024
    )
    return out


def _log(number: int, text: str) -> None:
    print(f"[run {number}] {text}", file=sys.stderr, flush=True)


ROWS = [
    ("max_acked_spans_s", "sustained spans/s acknowledged (closed loop)", "{:,.0f}"),
    ("max_indexed_spans_s", "sustained spans/s indexed (closed loop)", "{:,.0f}"),
    ("max_server_cpu_pct", "  server CPU % (of one core) at max", "{:.0f}"),
    ("max_server_cpu_us_per_span", "  server CPU µs per indexed span at max", "{:.0f}"),
    ("max_loadgen_cpu_pct", "  load generator CPU % at max", "{:.0f}"),
    ("steady_acked_spans_s", "steady: spans/s acknowledged", "{:,.0f}"),
    ("steady_p50_ms", "steady: export latency p50 ms", "{:.1f}"),
    ("steady_p99_ms", "steady: export latency p99 ms", "{:.1f}"),
    ("ack_to_queryable_p50_ms", "steady: ack to queryable p50 ms", "{:.0f}"),
    ("ack_to_queryable_p95_ms", "steady: ack to queryable p95 ms", "{:.0f}"),
    ("steady_server_cpu_pct", "  server CPU % at steady", "{:.0f}"),
    ("steady_loadgen_cpu_pct", "  load generator CPU % at steady", "{:.0f}"),
    ("steady_refused", "  refused exports at steady", "{:.0f}"),
    ("idle_rss_mib", "idle RSS MiB (after start-up)", "{:.0f}"),
    ("idle_after_load_rss_mib", "idle RSS MiB (after the load)", "{:.0f}"),
    ("peak_rss_mib", "peak RSS MiB (whole run, VmHWM)", "{:.0f}"),
    ("overload_peak_rss_mib", "overload (--overload x steady): peak RSS MiB", "{:.0f}"),
    ("overload_acked_spans_s", "overload: spans/s acknowledged", "{:,.0f}"),
    ("overload_refused", "overload: refused exports (retryable)", "{:.0f}"),
    ("overload_loadgen_cpu_pct", "  load generator CPU % at overload", "{:.0f}"),
]


def print_table(results: dict[str, list[dict[str, float]]], args) -> None:
    """One column per variant (median of its runs); with native and python, their ratio."""
    labels = list(results)
    runs = len(next(iter(results.values())))
    print(
        f"\nJunjo ingestion benchmark: {runs} run(s) of each of {', '.join(labels)},"
        f" {args.duration:.0f} s phases, {args.clients} client processes, steady"
        f" {args.steady_rate:,.0f} spans/s in {args.steady_batch}-span batches, max/overload in"
        f" {args.batch}-span batches, {os.cpu_count()} CPUs"
    )
    pair = _native_python_pair(labels)
    head = "".join(f" {label:>13}" for label in labels)
    print(f"{'metric':<46}{head}{'  ratio' if pair else ''}  {'bar':>10}  ok    runs")
    for key, label, fmt in ROWS:
        medians = {}
        for variant, variant_runs in results.items():
            values = [run[key] for run in variant_runs if key in run]
            if values:
                medians[variant] = (statistics.median(values), values)
        if not medians:
            continue
        cells = "".join(
            f" {fmt.format(medians[v][0]) if v in medians else '-':>13}" for v in labels
        )
        ratio = ""
        if pair:
            native, python = (medians.get(v, (float("nan"),))[0] for v in pair)
            ratio = f" {native / python:>6.2f}" if python else "      -"
        bar, ok = "", ""
        if key in BARS:
            op, limit = BARS[key]
            bar = f"{op} {limit:,}"
            ok = "/".join(
                ("yes" if (m >= limit if op == ">=" else m <= limit) else "NO")
                for m, _ in medians.values()
            )
        shown = "; ".join(
            ", ".join(fmt.format(v) for v in values) for _, values in medians.values()
        )
        print(f"{label:<46}{cells}{ratio}  {bar:>10}  {ok:<5} {shown}")
    if pair:
        native, python = (
            statistics.median(r["max_indexed_spans_s"] for r in results[v]) for v in pair
        )
        verdict = "yes" if native / python >= NATIVE_OVER_PYTHON_BAR else "NO"
        print(
            f"native / python indexed spans/s at max: {native / python:.2f}x"
            f" (bar >= {NATIVE_OVER_PYTHON_BAR}x: {verdict})"
        )


def _native_python_pair(labels: list[str]) -> tuple[str, str] | None:
    """The labels of a native and a python variant of one group size, if there are only two."""
    if len(labels) == 2 and labels[0].startswith("native") and labels[1].startswith("python"):
        return labels[0], labels[1]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--batch", type=int, default=512, help="spans per export (max, overload)")
    parser.add_argument("--steady-batch", type=int, default=128, help="spans per export (steady)")
    parser.add_argument("--steady-rate", type=float, default=2000, help="offered spans/s")
    parser.add_argument(
        "--overload", type=float, default=10, help="overload phase: this many times steady"
    )
    parser.add_argument(
        "--converter",
        choices=("native", "python", "both"),
        default="both",
        help="the servers' span converter (both: alternate runs, a column each)",
    )
    parser.add_argument(
        "--group-mb", help="comma-separated indexer group sizes in MB (default: as shipped)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    template, _ = build_template(args.batch, 1)
    print(
        f"request: {args.batch // SPANS_PER_TRACE * SPANS_PER_TRACE} spans, {len(template):,} "
        f"bytes ({len(template) / (args.batch // SPANS_PER_TRACE * SPANS_PER_TRACE):.0f} B/span)",
        file=sys.stderr,
    )
    results: dict[str, list[dict[str, float]]] = {v.label: [] for v in variants(args)}
    for number in range(args.runs):  # interleaved, so a busy moment hits every variant
        for variant in variants(args):
            results[variant.label].append(one_run(args, number + 1, variant))
    print_table(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
