"""`junjo traces` and `junjo services` in all three modes: through the local server on the
same data dir, against a remote server with a read key, and on the files directly. In-process,
but for `tail`, whose point is how a real process ends on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.cli import CliResult, invoke, run_cli
from tests.support.export import grpc_exporter, tracer_provider
from tests.support.server import clean_env, junjo_command
from tests.support.wait import wait_until
from tests.traces.conftest import Seeded, Stored

pytestmark = pytest.mark.slow


def remote(seeded: Seeded, *args: str, key: str | None = None) -> CliResult:
    return invoke(*args, "--server", seeded.server.url, "--api-key", key or seeded.read_key)


def listed(result: CliResult) -> list[str]:
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
    unreachable = invoke("traces", "list", "--server", "http://127.0.0.1:9", "--api-key", "x")
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
    seeded_services = {"junjo-e2e", "svc-b", "svc/a"}  # the tail test may have added one
    assert seeded_services <= {s["service_name"] for s in local}
    assert json.loads(remote(seeded, "services", "--json").stdout) == local


FOLLOWING = "Following new traces; Ctrl-C to stop.\n"  # on stderr, once it follows
# Ctrl-C ends tail within milliseconds; the bound leaves room for a loaded machine (the old
# tail never ended when started with SIGINT ignored).
PROMPT_EXIT_S = 5


class Tail:
    """``junjo traces tail ARGS`` in the background; its output lines collected as they come,
    so a test waits for a line instead of sleeping."""

    def __init__(self, *args: str, sigint_ignored: bool = False) -> None:
        command = junjo_command("traces", "tail", *args)
        if sigint_ignored:  # as a script's `cmd &` starts it (a test run started so too)
            command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_following(self) -> None:
        wait_until(lambda: FOLLOWING in self.err, timeout=30, message=self._explain)

    def wait_for_output(self, text: str) -> None:
        wait_until(lambda: text in "".join(self.out), timeout=30, message=self._explain)

    def ctrl_c(self) -> float:
        """Send SIGINT; the seconds tail took to exit."""
        self.proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        wait_until(
            lambda: self.proc.poll() is not None,
            timeout=30,
            message=lambda: f"tail still running after SIGINT: {self._explain()}",
        )
        return time.monotonic() - sent

    def _explain(self) -> str:
        return f"stdout={self.out!r} stderr={self.err!r}"

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:  # a failed test: leave no process behind
            self.proc.kill()
        self.proc.wait(10)
        for reader in self._readers:  # every line read, then the pipes closed
            reader.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def _send_one_trace(seeded: Seeded, name: str) -> None:
    exporter = grpc_exporter(seeded.server.grpc_target, seeded.ingest_key)
    provider = tracer_provider("tailed", exporter)
    with provider.get_tracer("t").start_as_current_span(name):
        pass
    provider.shutdown()


def test_tail_prints_new_traces_and_stops_on_ctrl_c(seeded: Seeded):
    with Tail("--json", "--interval", "0.2", "--data-dir", str(seeded.data_dir)) as tail:
        tail.wait_following()  # only traces indexed from now on are printed
        _send_one_trace(seeded, "fresh-trace")
        tail.wait_for_output('"fresh-trace"')
        assert tail.ctrl_c() < PROMPT_EXIT_S
    assert tail.proc.returncode == 0
    assert [json.loads(line)["root_name"] for line in tail.out] == ["fresh-trace"]
    assert tail.err == [FOLLOWING]  # no traceback, no "Aborted!"


def test_tail_stops_on_ctrl_c_when_started_with_sigint_ignored(seeded: Seeded):
    """A shell script's `junjo traces tail &` (or a test run started that way) starts tail
    with SIGINT ignored; it must still stop on it, as it has no other way to end."""
    with Tail("--data-dir", str(seeded.data_dir), sigint_ignored=True) as tail:
        tail.wait_following()
        assert tail.ctrl_c() < PROMPT_EXIT_S
    assert tail.proc.returncode == 0 and tail.err == [FOLLOWING]


def test_tail_stops_on_ctrl_c_while_its_request_hangs(tmp_path):
    """A server that accepts the request and never answers: tail is inside the HTTP call."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with Tail("--server", url, "--api-key", "k", "--data-dir", str(tmp_path)) as tail:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30)
                assert conn.recv(65536).startswith(b"GET /api/v1/traces")  # it waits for us
                assert tail.ctrl_c() < PROMPT_EXIT_S
    assert tail.proc.returncode == 0 and tail.err == [FOLLOWING]


def test_files_directly_when_no_server_runs(seeded: Seeded, tmp_path):
    """On a copy of the data dir as the stopped server left it, so the module's other tests
    keep their server whatever order they run in."""
    before = listed(seeded.cli("traces", "list", "--json", "--limit", "50"))
    files = seeded.stopped_copy(tmp_path / "data")
    assert not (files / "server.json").exists()
    assert listed(run_cli(files, "traces", "list", "--json", "--limit", "50")) == before
    shown = run_cli(files, "traces", "show", seeded.traces["error"], "--json")
    assert [s["name"] for s in json.loads(shown.stdout)["spans"]] == ["nightly-job", "fetch"]
    _delete_one_state_change_and_see_the_gap(seeded, files)


def _delete_one_state_change_and_see_the_gap(seeded: Seeded, files: Path) -> None:
    import duckdb

    workflow = next(s for s in seeded.manifest["spans"] if s["name"] == "Support Ticket Triage")
    store_id = workflow["attributes"]["junjo.workflow.store.id"]
    conn = duckdb.connect(str(files / "spans.duckdb"))
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
    shown = run_cli(files, "traces", "show", workflow["trace_id"], "--state", "--json")
    executions = json.loads(shown.stdout)["workflows"]
    integrity = next(e for e in executions if e["span"]["name"] == workflow["name"])["integrity"]
    assert integrity["verdict"] == "partial"
    gap = next(r for r in integrity["reasons"] if r["code"] == "sequence_gap")
    assert gap["missing"] == [2]


def test_empty_data_dir(tmp_path):
    result = run_cli(tmp_path / "new", "traces", "list")
    assert result.returncode == 0
    assert result.stdout == f"No traces yet in data dir {tmp_path / 'new'}.\n"
    filtered = run_cli(tmp_path / "new", "traces", "list", "--errors")
    assert filtered.stdout == result.stdout  # nothing to filter: still "yet"


def test_a_filter_that_matches_nothing_says_so(stored: Stored):
    result = run_cli(stored.data_dir, "traces", "list", "--service", "no-such-service")
    assert result.returncode == 0
    assert result.stdout == f"No traces match these filters in data dir {stored.data_dir}.\n"


def test_list_takes_the_apis_filters_sort_and_cursor(stored: Stored):
    def ids(*args: str) -> list[str]:
        return listed(run_cli(stored.data_dir, "traces", "list", "--json", *args))

    by_id = {v: k for k, v in stored.ids.items()}
    longest = ids("--sort", "duration", "--min-duration", "4ms")
    assert [by_id[t] for t in longest] == ["checkout", "chat", "workflow"]
    assert [by_id[t] for t in ids("--sort", "duration", "--asc", "--min-duration", "4ms")] == [
        "workflow", "chat", "checkout"
    ]  # fmt: skip
    assert ids("--name", "charge-card") == ids("--attr", "customer.tier=gold")
    assert ids("--until", str(stored.newest_start_ns()), "--service", "tie") == []
    first = run_cli(stored.data_dir, "traces", "list", "--sort", "spans", "--limit", "2")
    assert first.returncode == 0 and "More: --cursor " in first.stderr
    cursor = first.stderr.split("--cursor ")[1].split()[0]
    rest = ids("--sort", "spans", "--limit", "100", "--cursor", cursor)
    assert len(rest) == len(stored.ids) - 2
    bad = run_cli(stored.data_dir, "traces", "list", "--min-duration", "soon")
    assert bad.returncode == 2 and "min_duration: use a length" in bad.stderr


def test_a_narrow_terminal_lists_whole_trace_ids(stored: Stored):
    table = run_cli(stored.data_dir, "traces", "list", env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    assert all(trace_id in table for trace_id in stored.ids.values())
    (orphan,) = [line for line in table.splitlines() if stored.ids["orphan"] in line]
    shown = run_cli(stored.data_dir, "traces", "show", stored.ids["orphan"][:8]).stdout
    assert "late-child" in orphan and "(root missing)" in shown.splitlines()[0]


def test_show_prints_each_llm_calls_messages_cut_unless_full(tmp_path):
    """A GenAI span as older instrumentations write it: no gen_ai.operation.name."""
    from junjo.config import Settings
    from junjo.features.spans.store import SpanStore
    from tests.support.otlp_builders import make_span, new_span_id, new_trace_id
    from tests.support.span_store import write_spans

    question = "Where is my order? " + "It was due last week. " * 20
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_data_dir()
    trace_id, root = new_trace_id(), new_span_id()
    call = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": question}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "On its way."}]}]
        ),
    }
    with SpanStore.open(settings.spans_db_path) as store:
        spans = [
            make_span(trace_id=trace_id, span_id=root, name="support"),
            make_span(trace_id=trace_id, parent_span_id=root, name="openai.chat", attributes=call),
        ]
        write_spans(store, 1, spans)
    listed = json.loads(run_cli(settings.data_dir, "traces", "list", "--llm", "--json").stdout)
    assert [t["llm_call_count"] for t in listed["traces"]] == [1]

    shown = run_cli(settings.data_dir, "traces", "show", trace_id.hex()).stdout
    assert "openai.chat  1.0ms  gpt-4o-mini 34 tokens" in shown
    (user,) = [line for line in shown.splitlines() if "user: Where is my order?" in line]
    assert user.endswith("…") and len(user) < 200
    assert "→ assistant: On its way." in shown
    assert "--full shows them whole" in shown
    full = run_cli(settings.data_dir, "traces", "show", trace_id.hex(), "--full").stdout
    assert question.strip() in " ".join(full.split()) and "--full shows" not in full
