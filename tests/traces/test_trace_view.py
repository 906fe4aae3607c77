"""The trace view's routes (outline, one span whole with its LLM call, search within a trace,
OTLP/JSON export) over data that went through real ingestion; the export goes back in
through ``POST /v1/traces`` of a second server and comes out the same."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.keys import Keys, make_keys
from tests.support.server import ServerProcess
from tests.support.wait import wait_until
from tests.traces.conftest import Seeded

pytestmark = pytest.mark.slow


def _outline(seeded: Seeded, label: str) -> dict:
    response = seeded.get(f"/api/v1/traces/{seeded.traces[label]}/outline")
    assert response.status_code == 200, response.text
    return response.json()


def _by_name(spans: list[dict]) -> dict[str, dict]:
    return {span["name"]: span for span in spans}


def _workflow_trace(seeded: Seeded, name: str) -> str:
    found = seeded.get("/api/v1/traces", service="junjo-e2e").json()["traces"]
    return next(t["trace_id"] for t in found if t["root_name"] == name)


def test_the_outline_has_the_tree_timing_and_flags(seeded: Seeded):
    outline = _outline(seeded, "error")
    spans = _by_name(outline["spans"])
    root, fetch = spans["nightly-job"], spans["fetch"]
    assert root["parent"] is None and fetch["parent"] == root["id"]
    assert root["start"] == 0 and 0 <= fetch["start"] <= root["duration"]
    assert fetch["error"] and fetch["exception"] and fetch["status"] == 2
    assert not root["error"] and not root["exception"] and not root["llm"]
    assert root["kind"] == "INTERNAL" and root["service"] == "svc-b"
    assert int(outline["start_time_ns"]) == outline["summary"]["start_time_ns"]
    assert set(fetch) == {
        "id", "parent", "name", "start", "duration", "status", "error", "exception", "llm",
        "kind", "service", "type",
    }  # fmt: skip
    assert _by_name(_outline(seeded, "llm")["spans"])["chat gpt-test"]["llm"] is True


def test_the_outline_of_a_junjo_workflow_names_span_types(seeded: Seeded):
    trace_id = _workflow_trace(seeded, "Support Ticket Triage")
    spans = seeded.get(f"/api/v1/traces/{trace_id}/outline").json()["spans"]
    types = {span["name"]: span["type"] for span in spans}
    assert types["Support Ticket Triage"] == "workflow"
    assert types["Analyze"] == "run_concurrent"
    assert types["fake_llm.generate_content"] is None


def test_one_span_is_whole_with_its_genai_llm_call(seeded: Seeded):
    trace_id = seeded.traces["llm"]
    llm = _by_name(_outline(seeded, "llm")["spans"])["chat gpt-test"]
    span = seeded.get(f"/api/v1/traces/{trace_id}/spans/{llm['id']}").json()
    assert span["name"] == "chat gpt-test" and span["kind"] == "CLIENT"
    assert span["scope_name"] == "tests" and span["scope_attributes_json"] == {}
    assert span["resource_attributes_json"]["service.name"] == "svc/a"
    call = span["llm"]
    assert call["model"] == "gpt-test" and call["provider"] == "openai"
    assert call["operation"] == "chat"
    assert call["tokens"] == {"prompt": 11, "completion": 7, "total": 18}
    assert call["latency_ns"] == span["duration_ns"] > 0
    root = _by_name(_outline(seeded, "llm")["spans"])["chat-request"]
    assert seeded.get(f"/api/v1/traces/{trace_id}/spans/{root['id']}").json()["llm"] is None


def test_an_openinference_call_has_its_messages_and_parameters(seeded: Seeded):
    trace_id = _workflow_trace(seeded, "Support Ticket Triage")
    spans = seeded.get(f"/api/v1/traces/{trace_id}/outline").json()["spans"]
    (llm,) = (s for s in spans if s["name"] == "fake_llm.generate_content")
    call = seeded.get(f"/api/v1/traces/{trace_id}/spans/{llm['id']}").json()["llm"]
    assert call["model"] == "fake-sentiment-1" and call["provider"] == "fake-provider"
    assert call["parameters"] == {"temperature": 0.0}
    roles = [(m["role"], m["output"]) for m in call["messages"]]
    assert roles == [("input", False), ("output", True)]
    assert call["messages"][0]["text"].startswith("Classify the sentiment of:")
    assert call["messages"][1]["text"] in ("negative", "positive")


def test_an_unknown_span_is_404_and_ids_are_checked(seeded: Seeded):
    trace_id = seeded.traces["llm"]
    assert seeded.get(f"/api/v1/traces/{trace_id}/spans/{'0' * 15}1").status_code == 404
    assert seeded.get(f"/api/v1/traces/{'ab' * 16}/outline").status_code == 404
    assert seeded.get(f"/api/v1/traces/{trace_id}/spans/XYZ").status_code == 422


@pytest.mark.parametrize(
    ("label", "text", "expected"),
    [
        ("error", "upstream took", {"fetch"}),  # status message and exception event
        ("error", "TIMEOUTERROR", {"fetch"}),  # the exception's type, ignoring case
        ("error", "NIGHTLY", {"nightly-job"}),  # the name
        ("llm", "gold", {"chat-request"}),  # an attribute value
        ("llm", "gen_ai.usage", {"chat gpt-test"}),  # an attribute key
        ("llm", 'a "quoted" word', set()),
        ("llm", "no such text", set()),
    ],
)
def test_search_within_a_trace(seeded: Seeded, label: str, text: str, expected: set[str]):
    names = {span["id"]: span["name"] for span in _outline(seeded, label)["spans"]}
    found = seeded.get(f"/api/v1/traces/{seeded.traces[label]}/matches", q=text).json()
    assert found["q"] == text
    assert {names[span_id] for span_id in found["span_ids"]} == expected


def test_search_by_span_id_and_without_text(seeded: Seeded):
    trace_id = seeded.traces["error"]
    fetch = _by_name(_outline(seeded, "error")["spans"])["fetch"]
    found = seeded.get(f"/api/v1/traces/{trace_id}/matches", q=fetch["id"]).json()
    assert found["span_ids"] == [fetch["id"]]
    assert seeded.get(f"/api/v1/traces/{trace_id}/matches").json()["span_ids"] == []


def test_the_otlp_export_is_a_download_when_asked(seeded: Seeded):
    trace_id = seeded.traces["error"]
    plain = seeded.get(f"/api/v1/traces/{trace_id}/otlp")
    assert plain.status_code == 200 and "content-disposition" not in plain.headers
    download = seeded.get(f"/api/v1/traces/{trace_id}/otlp", download="1")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="trace-{trace_id}.otlp.json"'
    )
    assert download.json() == plain.json()
    (resource,) = plain.json()["resourceSpans"]
    (scope,) = resource["scopeSpans"]
    assert scope["scope"]["name"] == "tests"
    spans = {span["name"]: span for span in scope["spans"]}
    assert spans["fetch"]["parentSpanId"] == spans["nightly-job"]["spanId"]
    assert "parentSpanId" not in spans["nightly-job"]
    assert spans["fetch"]["status"] == {"code": 2, "message": "upstream took too long"}
    assert spans["fetch"]["events"][0]["name"] == "exception"
    assert isinstance(spans["fetch"]["startTimeUnixNano"], str)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Keys]]:
    data_dir = tmp_path_factory.mktemp("second") / "data"
    keys = make_keys(data_dir)
    server = ServerProcess(data_dir).start()
    yield server, keys
    server.stop()
    server.kill()


def test_the_otlp_export_goes_back_in_through_ingestion_unchanged(
    seeded: Seeded, second: tuple[ServerProcess, Keys]
):
    """Each seeded trace (OTel SDK, a Junjo workflow with set_state events, an LLM call, a
    trace whose root is elsewhere) posted as OTLP/JSON to another server exports the same."""
    server, keys = second
    trace_ids = [*seeded.traces.values(), _workflow_trace(seeded, "Support Ticket Triage")]
    exported = {t: seeded.get(f"/api/v1/traces/{t}/otlp").json() for t in trace_ids}
    for document in exported.values():
        response = httpx.post(
            server.url + "/v1/traces",
            json=document,
            headers={"x-junjo-api-key": keys.ingest},
            timeout=10,
        )
        assert response.status_code == 200 and response.json() == {}, response.text
    read = {"Authorization": f"Bearer {keys.read}"}

    def again(trace_id: str) -> dict | None:
        response = httpx.get(f"{server.url}/api/v1/traces/{trace_id}/otlp", headers=read)
        return response.json() if response.status_code == 200 else None

    for trace_id, document in exported.items():
        assert wait_until(lambda t=trace_id: again(t), 30) == document


def test_the_cli_exports_the_same_otlp_json(seeded: Seeded):
    trace_id = seeded.traces["error"]
    exported = seeded.cli("traces", "export", trace_id[:10])
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == seeded.get(f"/api/v1/traces/{trace_id}/otlp").json()
