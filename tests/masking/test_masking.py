"""Masking rules in a junjo.toml, on a real ``junjo serve`` fed by the real OTel exporters:
what the rules name is masked before anything is stored (the REST API shows the masks, no
file of the data dir holds a secret), the counts show in the ingest status, a server
without rules leaves every value alone, bad rules stop the start, and a catastrophic regex
of one's own costs a bounded time.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from junjo.config import load_settings
from tests.support.export import grpc_exporter, http_exporter
from tests.support.keys import Keys, make_keys
from tests.support.server import REPO, ServerProcess, clean_env, free_port, junjo_command
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

EMAIL = "jane.doe@example.com"
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
BEARER = "Bearer abcdefghijklmnopqrstuvwxyz0123456789"
PASSWORD = "hunter2-correct-horse"
ACME_ID = "ACME-12345678"
SECRETS = (EMAIL, OPENAI_KEY, BEARER, PASSWORD, ACME_ID, "owner@corp.example")

RULES = """
[masking]
regex_timeout_ms = 50

[[masking.rules]]
attribute_keys = ["user.email", "*.password"]
value_patterns = ["email", "api_key", "ACME-[0-9]{8}"]

[[masking.rules]]
value_patterns = ["(a|aa)+$"]
replacement = "[redacted:{kind}]"
"""


def config_file(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "junjo.toml"
    path.write_text(text)
    return path


def send_spans(server: ServerProcess, keys: Keys, service: str, *, over: str) -> str:
    """One trace of two spans, with secrets everywhere a rule looks; its trace id."""
    resource = Resource.create({"service.name": service, "team.contact": "owner@corp.example"})
    exporter = (
        grpc_exporter(server.grpc_target, keys.ingest)
        if over == "grpc"
        else http_exporter(server.url, keys.ingest)
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("masking-test")
    with tracer.start_as_current_span(f"signup {EMAIL}") as root:
        root.set_attribute("user.email", EMAIL)
        root.set_attribute("db.password", PASSWORD)
        root.set_attribute("user.id", "u-42")
        root.set_attribute("prompt", f"Write to {EMAIL} with key {OPENAI_KEY}, order {ACME_ID}")
        root.set_attribute("emails", [EMAIL, "not an address"])
        with tracer.start_as_current_span("call llm") as child:
            child.add_event("request", {"http.authorization": BEARER, "attempt": 1})
            child.set_status(Status(StatusCode.ERROR, f"key {OPENAI_KEY} was refused"))
    provider.shutdown()
    return f"{root.get_span_context().trace_id:032x}"


def stored_trace(server: ServerProcess, keys: Keys, trace_id: str) -> dict | None:
    response = httpx.get(
        f"{server.url}/api/v1/traces/{trace_id}",
        headers={"Authorization": f"Bearer {keys.read}"},
        timeout=10,
    )
    if response.status_code != 200 or len(response.json()["spans"]) < 2:
        return None
    return response.json()


def spans_by_name(trace: dict) -> dict[str, dict]:
    return {span["name"]: span for span in trace["spans"]}


@pytest.fixture(scope="module")
def masking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("masking")
    keys = make_keys(folder / "data")
    config = config_file(folder, RULES)
    with ServerProcess(folder / "data", "--config", str(config)) as server:
        yield server, keys


@pytest.mark.parametrize("over", ["grpc", "http"])
def test_what_the_rules_name_is_masked_before_it_is_stored(masking_server, over):
    server, keys = masking_server
    before = server.ingest_status(keys.read)["masked"]
    trace_id = send_spans(server, keys, f"masked-{over}", over=over)
    trace = wait_until(lambda: stored_trace(server, keys, trace_id), timeout=20)
    spans = spans_by_name(trace)
    root = spans["signup [masked:email]"]  # names too (span_names, on by default)
    attributes = root["attributes_json"]
    assert attributes["user.email"] == "[masked:key]"
    assert attributes["db.password"] == "[masked:key]"
    assert attributes["user.id"] == "u-42"
    assert attributes["prompt"] == (
        "Write to [masked:email] with key [masked:api_key], order [masked:pattern]"
    )
    assert attributes["emails"] == ["[masked:email]", "not an address"]
    assert root["resource_attributes_json"]["team.contact"] == "[masked:email]"
    child = spans["call llm"]
    (event,) = child["events_json"]
    assert event["attributes"] == {"http.authorization": "[masked:api_key]", "attempt": 1}
    assert child["status_message"] == "key [masked:api_key] was refused"
    masked = server.ingest_status(keys.read)["masked"]
    assert masked["rules"] == 2
    # Both spans (the resource's contact is masked in each). Values: the root's name,
    # user.email, db.password, prompt and one list item; the resource's contact in each of the two
    # exports (SimpleSpanProcessor sends each span alone); the event's; the status message.
    assert masked["spans"] - before["spans"] == 2
    assert masked["values"] - before["values"] == 9


def test_no_secret_reaches_a_file_and_none_is_logged(masking_server):
    server, keys = masking_server
    trace_id = send_spans(server, keys, "masked-files", over="grpc")
    wait_until(lambda: stored_trace(server, keys, trace_id), timeout=20)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret!r} in {path.name}"
    for secret in SECRETS:
        assert secret not in server.log
    assert "masking spans before they are stored: 2 rule(s)" in server.log
    assert "Masking          2 rule(s), applied before spans are stored" in server.log
    assert "ACME" not in server.log  # a regex may spell out what it masks: never logged


def test_a_catastrophic_regex_costs_a_bounded_time(masking_server):
    """(a|aa)+$ on a long run of a's backtracks for ever; with regex_timeout_ms = 50 the
    value is masked whole, counted, and logged without the value."""
    server, keys = masking_server
    before = server.ingest_status(keys.read)["masked"]
    exporter = grpc_exporter(server.grpc_target, keys.ingest)
    provider = TracerProvider(resource=Resource.create({"service.name": "masked-redos"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    started = time.monotonic()
    with provider.get_tracer("t").start_as_current_span("redos") as span:
        span.set_attribute("input", "a" * 80 + "!")
        span.set_attribute("other", "fine")
    provider.shutdown()
    assert time.monotonic() - started < 5
    trace_id = f"{span.get_span_context().trace_id:032x}"

    def stored() -> dict | None:
        response = httpx.get(
            f"{server.url}/api/v1/traces/{trace_id}",
            headers={"Authorization": f"Bearer {keys.read}"},
            timeout=10,
        )
        return response.json() if response.status_code == 200 else None

    trace = wait_until(stored, timeout=20)
    attributes = trace["spans"][0]["attributes_json"]
    assert attributes == {"input": "[redacted:timeout]", "other": "fine"}
    masked = server.ingest_status(keys.read)["masked"]
    assert masked["timed_out_values"] - before["timed_out_values"] == 1
    line = wait_until(
        lambda: re.search(r".*masking.rules\[1\]: a pattern did not finish.*", server.log),
        timeout=10,
    )
    assert "81-character value of attributes 'input'" in line.group(0)
    assert "aaaa" not in line.group(0)


def test_without_rules_nothing_is_masked(tmp_path: Path):
    keys = make_keys(tmp_path / "data")
    with ServerProcess(tmp_path / "data") as server:
        trace_id = send_spans(server, keys, "unmasked", over="grpc")
        trace = wait_until(lambda: stored_trace(server, keys, trace_id), timeout=20)
        root = spans_by_name(trace)[f"signup {EMAIL}"]
        assert root["attributes_json"]["user.email"] == EMAIL
        assert OPENAI_KEY in root["attributes_json"]["prompt"]
        masked = server.ingest_status(keys.read)["masked"]
    assert masked == {"rules": 0, "spans": 0, "values": 0, "timed_out_values": 0}


# -- rules junjo cannot use: one clear line, exit code 2, nothing bound ----------------------


def serve_fails(tmp_path: Path, config: str) -> str:
    port = free_port()
    done = subprocess.run(
        [
            *junjo_command("serve"),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
            "--grpc-port",
            str(free_port()),
            "--config",
            str(config_file(tmp_path, config)),
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Setup token" not in done.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing held the port
    return done.stderr.strip()


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (
            'value_patterns = ["email", "([a-z]+"]',
            "masking.rules[0].value_patterns[1]: not a valid regular expression",
        ),
        ('value_patterns = ["emial"]', "no named pattern 'emial'"),
        ('attribute_keys = "user.email"', "masking.rules[0]'.attribute_keys: must be a list"),
        ('value_patterns = ["x*"]', "the pattern matches the empty string"),
        ('keys = ["user.email"]', "unknown key(s) keys"),
        ("span_names = false", "give attribute_keys or value_patterns"),
    ],
)
def test_a_rule_junjo_cannot_use_stops_the_start(tmp_path: Path, rule: str, error: str):
    stderr = serve_fails(tmp_path, f"[[masking.rules]]\n{rule}\n")
    assert stderr.startswith("Error: setting")
    assert error in stderr


def test_the_example_files_masking_section_works_as_written(tmp_path: Path):
    """junjo.toml.example's [masking] block, uncommented, loads and compiles."""
    from junjo.features.ingest.masking import masker_for

    example = (REPO / "junjo.toml.example").read_text()
    block = example[example.index("# [masking]") :]
    toml = "\n".join(line.removeprefix("# ").removeprefix("#") for line in block.splitlines())
    settings = load_settings(env={}, config_file=config_file(tmp_path, toml))
    masker = masker_for(settings.masking)
    assert masker is not None and masker.describe() == (
        "1 rule(s): attribute keys + email, api_key, jwt + 1 regex(es)"
    )
