"""Retention: the job in a real server deletes whole old traces and keeps new ones; a trace
across the cutoff stays whole; `junjo prune` (dry run, --older-than, on files); the disk
limit. Seeded through real ingestion, with span times in the past."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.maintenance.conftest import DAY, NOW, indexed, send, span_count, trace_request
from tests.support.cli import run_cli
from tests.support.keys import make_keys
from tests.support.server import ServerProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

FAST_RETENTION = {"JUNJO_RETENTION_QUIET_SECONDS": "0", "JUNJO_RETENTION_CHECK_SECONDS": "1"}


def test_the_job_deletes_whole_old_traces_and_keeps_the_rest(tmp_path: Path):
    data_dir = tmp_path / "data"
    keys = make_keys(data_dir)
    old, old_request = trace_request(NOW - 40 * DAY, NOW - 40 * DAY + 10**9, 5)
    # Begins before the 30-day cutoff and ends after it: kept, whole.
    across, across_request = trace_request(NOW - 31 * DAY, NOW - 29 * DAY, 6)
    new, new_request = trace_request(NOW - 10**9, NOW, 4)
    # An old trace sent in two requests: both parts go.
    split, split_request = trace_request(NOW - 35 * DAY, NOW - 35 * DAY + 10**9, 6)
    spans = list(split_request.resource_spans[0].scope_spans[0].spans)
    first, second = split_request.__class__(), split_request.__class__()
    first.CopyFrom(split_request)
    second.CopyFrom(split_request)
    del first.resource_spans[0].scope_spans[0].spans[3:]
    del second.resource_spans[0].scope_spans[0].spans[:3]
    assert len(spans) == 6
    with ServerProcess(data_dir, env=FAST_RETENTION) as server:
        send(server, keys.ingest, [old_request, across_request, first, new_request, second])
        indexed(server, keys.read, 21)

        def gone() -> bool:
            return span_count(server, keys.read, old) is None and (
                span_count(server, keys.read, split) is None
            )

        wait_until(gone, timeout=20, message=lambda: server.log)
        assert span_count(server, keys.read, across) == 6
        assert span_count(server, keys.read, new) == 4
        assert "retention deleted 2 traces (11 spans)" in server.log

        # A trace more than an hour old: shown by a dry run, deleted by a real one.
        shown = run_cli(data_dir, "prune", "--dry-run", "--older-than", "1h", "--json")
        assert shown.returncode == 0, shown.stderr
        report = json.loads(shown.stdout)
        assert (report["dry_run"], report["traces"], report["spans"]) == (True, 1, 6)
        assert report["trace_ids"] == [across]
        assert span_count(server, keys.read, across) == 6
        done = run_cli(data_dir, "prune", "--older-than", "1h")
        assert done.returncode == 0, done.stderr
        assert "deleted 1 traces (6 spans)" in done.stdout
        assert span_count(server, keys.read, across) is None
        assert span_count(server, keys.read, new) == 4
        # Spans sent again for a deleted trace are stored again (as a new trace), and the
        # next run deletes them too.
        send(server, keys.ingest, [old_request])
        indexed(server, keys.read, 26)
        wait_until(lambda: span_count(server, keys.read, old) is None, timeout=20)
    # No server: on the files.
    files = run_cli(
        data_dir, "prune", "--dry-run", "--older-than", "1s", "--json", env=FAST_RETENTION
    )
    assert files.returncode == 0, files.stderr
    assert json.loads(files.stdout)["trace_ids"] == [new]
    assert run_cli(data_dir, "prune", "--older-than", "1w").returncode == 0


def test_a_trace_whose_spans_still_arrive_waits_for_quiet(tmp_path: Path):
    data_dir = tmp_path / "data"
    keys = make_keys(data_dir)
    old, request = trace_request(NOW - 40 * DAY, NOW - 40 * DAY + 10**9, 3)
    env = FAST_RETENTION | {"JUNJO_RETENTION_QUIET_SECONDS": "3600"}
    with ServerProcess(data_dir, env=env) as server:
        send(server, keys.ingest, [request])
        indexed(server, keys.read, 3)
        report = json.loads(run_cli(data_dir, "prune", "--dry-run", "--json").stdout)
        assert report["traces"] == 0
        assert span_count(server, keys.read, old) == 3


def test_the_disk_limit_deletes_the_oldest_traces_first(tmp_path: Path):
    data_dir = tmp_path / "data"
    keys = make_keys(data_dir)
    ids, requests = [], []
    for n in range(60):  # oldest first, ~500 KB each, all within max_age_days
        start = NOW - (20 - n * 0.25) * DAY
        trace_id, request = trace_request(int(start), int(start) + 10**9, 50, pad=10_000)
        ids.append(trace_id)
        requests.append(request)
    with ServerProcess(
        data_dir, env=FAST_RETENTION | {"JUNJO_RETENTION_CHECK_SECONDS": "3600"}
    ) as server:
        send(server, keys.ingest, requests)
        indexed(server, keys.read, 60 * 50)
    before = json.loads(run_cli(data_dir, "prune", "--dry-run", "--json").stdout)
    assert before["traces"] == 0
    used = before["used_bytes_before"]
    limit_gb = used / 2 / 1e9
    env = {"JUNJO_RETENTION_MAX_DISK_GB": str(limit_gb), "JUNJO_RETENTION_QUIET_SECONDS": "0"}
    dry = json.loads(run_cli(data_dir, "prune", "--dry-run", "--json", env=env).stdout)
    assert 20 <= dry["traces"] <= 45, dry
    assert dry["trace_ids"] == ids[:20]
    result = run_cli(data_dir, "prune", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    print("disk prune:", {k: v for k, v in report.items() if k not in ("trace_ids",)})
    # Half the bytes, by the store's bytes per span: about half the traces, oldest first.
    assert 25 <= report["traces"] <= 40, report
    conn = duckdb.connect(str(data_dir / "spans.duckdb"), read_only=True)
    try:
        kept = {row[0] for row in conn.execute("SELECT DISTINCT trace_id FROM spans").fetchall()}
        counts = conn.execute("SELECT count(*), count(DISTINCT trace_id) FROM spans").fetchone()
        (summaries,) = conn.execute("SELECT count(*) FROM traces").fetchone()
    finally:
        conn.close()
    deleted = report["traces"]
    assert kept == set(ids[deleted:]), "the oldest go first, whole"
    assert counts == (50 * (60 - deleted), 60 - deleted) and summaries == 60 - deleted
