"""`junjo traces` and `junjo services` in all three modes: through the local server on the
same data dir, against a remote server with a read key, and on the files directly."""

import json
import signal
import subprocess
import time

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.server import clean_env, junjo_command, run_cli
from tests.traces.conftest import Seeded

pytestmark = pytest.mark.slow


def remote(seeded: Seeded, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        junjo_command(*args, "--server", seeded.server.url, "--api-key", key or seeded.read_key),
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )


def listed(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [t["trace_id"] for t in json.loads(result.stdout)["traces"]]


def test_list_via_the_local_server_matches_the_api(seeded: Seeded):
    api = [t["trace_id"] for t in seeded.get("/api/v1/traces", limit="20").json()["traces"]]
    assert listed(seeded.cli("traces", "list", "--json")) == api
    assert listed(seeded.cli("traces", "list", "--json", "--errors")) == [
        t
        for t in api
        if t in {seeded.traces["error"], *seeded.manifest["summary"]["trace_ids"]}
        and seeded.get(f"/api/v1/traces/{t}").json()["summary"]["error_count"]
    ]


def test_list_remote_with_a_read_key(seeded: Seeded):
    found = listed(remote(seeded, "traces", "list", "--json", "--service", "svc/a"))
    assert found == [seeded.traces["llm"]]
    refused = remote(seeded, "traces", "list", key=seeded.ingest_key)
    assert refused.returncode == 3 and "refused" in refused.stderr
    unreachable = subprocess.run(
        junjo_command("traces", "list", "--server", "http://127.0.0.1:9", "--api-key", "x"),
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert unreachable.returncode == 3


def test_table_and_tree_output(seeded: Seeded):
    table = seeded.cli("traces", "list", "--since", "1h")
    assert table.returncode == 0 and "nightly-job" in table.stdout
    shown = seeded.cli("traces", "show", seeded.traces["error"])
    assert shown.returncode == 0
    assert "nightly-job" in shown.stdout and "fetch" in shown.stdout
    assert "upstream took too long" in shown.stdout and "█" in shown.stdout
    llm = seeded.cli("traces", "show", seeded.traces["llm"][:10])  # a unique prefix
    assert "gpt-test" in llm.stdout and "18 tokens" in llm.stdout


def test_exit_codes(seeded: Seeded):
    assert seeded.cli("traces", "show", "ab" * 16).returncode == 1
    assert seeded.cli("traces", "show", "zz").returncode == 2
    assert seeded.cli("traces", "list", "--since", "yesterday").returncode == 2


def test_services_everywhere(seeded: Seeded):
    local = json.loads(seeded.cli("services", "--json").stdout)
    assert {s["service_name"] for s in local} == {"junjo-e2e", "svc-b", "svc/a"}
    assert json.loads(remote(seeded, "services", "--json").stdout) == local


def test_tail_prints_new_traces_and_stops_on_ctrl_c(seeded: Seeded):
    tail = subprocess.Popen(
        junjo_command(
            "traces", "tail", "--json", "--interval", "0.2", "--data-dir", str(seeded.data_dir)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    time.sleep(2)  # let it start polling before the trace is sent
    provider = TracerProvider(resource=Resource.create({"service.name": "tailed"}))
    exporter = OTLPSpanExporter(
        endpoint=seeded.server.grpc_target,
        insecure=True,
        headers=(("x-junjo-api-key", seeded.ingest_key),),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("fresh-trace"):
        pass
    provider.shutdown()
    time.sleep(2)
    tail.send_signal(signal.SIGINT)
    out, err = tail.communicate(timeout=10)
    assert tail.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["root_name"] for line in lines] == ["fresh-trace"]


def test_files_directly_when_no_server_runs(seeded: Seeded):
    """Last in this module: stops the server, then reads the DuckDB file itself."""
    before = listed(seeded.cli("traces", "list", "--json", "--limit", "50"))
    seeded.server.stop()
    assert not (seeded.data_dir / "server.json").exists()
    assert listed(seeded.cli("traces", "list", "--json", "--limit", "50")) == before
    shown = seeded.cli("traces", "show", seeded.traces["error"], "--json")
    assert [s["name"] for s in json.loads(shown.stdout)["spans"]] == ["nightly-job", "fetch"]
    _delete_one_state_change_and_see_the_gap(seeded)


def _delete_one_state_change_and_see_the_gap(seeded: Seeded) -> None:
    import duckdb

    workflow = next(s for s in seeded.manifest["spans"] if s["name"] == "Support Ticket Triage")
    store_id = workflow["attributes"]["junjo.workflow.store.id"]
    conn = duckdb.connect(str(seeded.data_dir / "spans.duckdb"))
    rows = conn.execute(
        "SELECT span_id, events_json FROM spans WHERE trace_id = ?", [workflow["trace_id"]]
    ).fetchall()
    for span_id, events_json in rows:
        events = json.loads(events_json)
        kept = [
            e for e in events
            if not (e["attributes"].get("junjo.store.id") == store_id
                    and e["attributes"].get("junjo.store.transition.sequence") == 2)
        ]  # fmt: skip
        if len(kept) != len(events):
            conn.execute(
                "UPDATE spans SET events_json = ? WHERE span_id = ?", [json.dumps(kept), span_id]
            )
    conn.close()
    shown = seeded.cli("traces", "show", workflow["trace_id"], "--state", "--json")
    executions = json.loads(shown.stdout)["workflows"]
    integrity = next(e for e in executions if e["span"]["name"] == workflow["name"])["integrity"]
    assert integrity["verdict"] == "partial"
    gap = next(r for r in integrity["reasons"] if r["code"] == "sequence_gap")
    assert gap["missing"] == [2]


def test_empty_data_dir(tmp_path):
    result = run_cli(tmp_path / "new", "traces", "list")
    assert result.returncode == 0 and "No traces yet" in result.stdout
