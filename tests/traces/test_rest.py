"""The trace query REST API over data that went through real ingestion."""

import json
import re

import httpx
import pytest

from tests.traces.conftest import Seeded

pytestmark = pytest.mark.slow

OBS = "/api/v1/observability"


def test_services_include_names_with_slashes(seeded: Seeded):
    assert seeded.get(f"{OBS}/services").json() == ["junjo-e2e", "svc-b", "svc/a"]
    spans = seeded.get(f"{OBS}/services/svc/a/spans").json()
    assert {s["name"] for s in spans} == {"chat-request", "chat gpt-test"}
    assert all(s["service_name"] == "svc/a" for s in spans)


def test_span_shape_matches_studio(seeded: Seeded):
    spans = seeded.get(f"{OBS}/traces/{seeded.traces['llm']}/spans").json()
    assert [s["name"] for s in spans] == ["chat gpt-test", "chat-request"]  # newest first
    llm, root = spans
    assert root["kind"] == "INTERNAL" and llm["kind"] == "CLIENT"
    assert root["parent_span_id"] is None and llm["parent_span_id"] == root["span_id"]
    assert root["status_code"] == "0"
    assert root["start_time"].endswith("+00:00") and "T" in root["start_time"]
    assert root["attributes_json"]["customer.tier"] == "gold"
    assert root["resource_attributes_json"]["service.name"] == "svc/a"
    assert llm["llm_prompt_tokens"] == 11 and llm["llm_completion_tokens"] == 7
    assert llm["is_llm"] is True


def test_event_times_are_numbers_on_studio_routes_and_exact_strings_on_ours(seeded: Seeded):
    """The Studio frontends validate timeUnixNano as a JSON number (and silently drop a
    set_state event given a string); our own API and the CLI keep the exact decimal."""
    trace_id = seeded.traces["error"]
    spans = seeded.get(f"{OBS}/traces/{trace_id}/spans").json()
    fetch = next(s for s in spans if s["name"] == "fetch")
    event = fetch["events_json"][0]
    assert event["name"] == "exception"
    assert type(event["timeUnixNano"]) is int and event["timeUnixNano"] > 1_700_000_000 * 10**9
    assert event["attributes"]["exception.message"] == "upstream took too long"
    assert fetch["status_code"] == "2" and fetch["status_message"] == "upstream took too long"
    one = seeded.get(f"{OBS}/traces/{trace_id}/spans/{fetch['span_id']}").json()
    assert one["events_json"] == fetch["events_json"]

    ours = seeded.get(f"/api/v1/traces/{trace_id}").json()
    (our_fetch,) = (s for s in ours["spans"] if s["name"] == "fetch")
    assert our_fetch["events_json"][0]["timeUnixNano"] == str(event["timeUnixNano"])
    shown = json.loads(seeded.cli("traces", "show", trace_id, "--json").stdout)
    assert f'"timeUnixNano": "{event["timeUnixNano"]}"' in json.dumps(shown)


def test_studio_routes_give_set_state_event_times_as_numbers(seeded: Seeded):
    """What the Studio's state step-through reads: every set_state event of a workflow."""
    workflow = seeded.get(f"{OBS}/services/junjo-e2e/workflows").json()[0]
    spans = seeded.get(f"{OBS}/traces/{workflow['trace_id']}/spans").json()
    set_states = [e for s in spans for e in s["events_json"] if e["name"] == "set_state"]
    assert set_states and all(type(e["timeUnixNano"]) is int for e in set_states)


def test_root_spans_and_llm_filter(seeded: Seeded):
    roots = seeded.get(f"{OBS}/services/svc/a/spans/root").json()
    assert [s["name"] for s in roots] == ["chat-request"]
    with_llm = seeded.get(f"{OBS}/services/junjo-e2e/spans/root", has_llm="true").json()
    assert {s["name"] for s in with_llm} == {"Support Ticket Triage"}
    assert seeded.get(f"{OBS}/services/svc-b/spans/root", has_llm="true").json() == []


def test_workflow_spans(seeded: Seeded):
    found = seeded.get(f"{OBS}/services/junjo-e2e/workflows").json()
    assert {s["name"] for s in found} == {"Support Ticket Triage", "Order Enrichment"}


def test_single_span_and_unknowns(seeded: Seeded):
    trace = seeded.traces["llm"]
    root = seeded.get(f"{OBS}/traces/{trace}/spans").json()[-1]
    assert seeded.get(f"{OBS}/traces/{trace}/spans/{root['span_id']}").json() == root
    missing = seeded.get(f"{OBS}/traces/{trace}/spans/{'0' * 15}1")
    assert missing.status_code == 200 and missing.json() is None
    assert seeded.get(f"{OBS}/traces/not-hex/spans").status_code == 422
    assert seeded.get(f"/api/v1/traces/{'ab' * 16}").status_code == 404
    assert seeded.get("/api/v1/traces/xyz").status_code == 422


def test_search_summaries(seeded: Seeded):
    page = seeded.get("/api/v1/traces", service="svc/a").json()
    (summary,) = page["traces"]
    assert summary["trace_id"] == seeded.traces["llm"]
    assert summary["root_name"] == "chat-request"
    assert (summary["span_count"], summary["error_count"], summary["llm_call_count"]) == (2, 0, 1)
    assert summary["tokens"]["prompt"] == 11 and summary["tokens"]["completion"] == 7
    assert summary["duration_ns"] > 0 and page["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"errors": "true", "service": "svc-b"}, {"error"}),
        ({"service": "svc-b"}, {"error", "rootless"}),
        ({"llm": "true", "service": "svc/a"}, {"llm"}),
        ({"name": "fetch"}, {"error"}),
        ({"attr": "customer.tier=gold"}, {"llm"}),
        ({"attr": "customer.tier=silver"}, set()),
    ],
)
def test_search_filters(seeded: Seeded, params, expected):
    found = {t["trace_id"] for t in seeded.get("/api/v1/traces", **params).json()["traces"]}
    assert found == {seeded.traces[label] for label in expected}


def test_search_by_prefix_and_time(seeded: Seeded):
    trace = seeded.traces["error"]
    found = seeded.get("/api/v1/traces", trace_id_prefix=trace[:6]).json()["traces"]
    assert [t["trace_id"] for t in found] == [trace]
    assert seeded.get("/api/v1/traces", since="1h").json()["traces"]
    assert seeded.get("/api/v1/traces", until="2000-01-01T00:00:00Z").json()["traces"] == []


def test_cursor_pagination_walks_every_trace_once(seeded: Seeded):
    everything = [t["trace_id"] for t in seeded.get("/api/v1/traces").json()["traces"]]
    walked, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = seeded.get("/api/v1/traces", **params).json()
        walked += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == everything and len(set(walked)) == len(walked) >= 4


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "x"}, {"since": "yesterday"}, {"cursor": "bogus"}, {"attr": "k"},
     {"limit": "10001"}, {"min_duration": "long"}, {"sort": "name"}, {"order": "up"},
     {"updated_after": "now"}],
)  # fmt: skip
def test_search_rejects_bad_parameters(seeded: Seeded, params):
    response = seeded.get("/api/v1/traces", **params)
    name = next(iter(params))
    assert response.status_code == 422 and response.json()["detail"].startswith(f"{name}:")


def test_search_sorted_with_a_total_pages_both_ways(seeded: Seeded):
    longest = seeded.get("/api/v1/traces", sort="duration", total="true").json()
    durations = [t["duration_ns"] for t in longest["traces"]]
    assert durations == sorted(durations, reverse=True) and longest["total"] == len(durations)
    first = seeded.get("/api/v1/traces", sort="duration", limit="2").json()
    second = seeded.get("/api/v1/traces", sort="duration", limit="2", cursor=first["next_cursor"])
    back = seeded.get(
        "/api/v1/traces", sort="duration", limit="2", cursor=second.json()["prev_cursor"]
    ).json()
    assert back["traces"] == first["traces"] and back["prev_cursor"] is None
    other_sort = seeded.get("/api/v1/traces", limit="2", cursor=first["next_cursor"])
    assert other_sort.status_code == 422
    assert other_sort.json()["detail"].startswith("cursor: it belongs to a list sorted another")
    assert seeded.get("/api/v1/traces", updated_after=longest["as_of"]).json()["traces"] == []


def test_a_trace_whose_root_is_elsewhere_is_listed(seeded: Seeded):
    trace = seeded.traces["rootless"]
    (summary,) = seeded.get("/api/v1/traces", trace_id_prefix=trace[:8]).json()["traces"]
    assert summary["root_name"] == "handle-webhook" and summary["root_is_complete"] is False
    detail = seeded.get(f"/api/v1/traces/{trace}").json()
    assert [s["name"] for s in detail["spans"]] == ["handle-webhook"]


def test_trace_detail_is_whole_when_children_arrived_first(seeded: Seeded):
    """Each span was its own export, the child before its parent."""
    detail = seeded.get(f"/api/v1/traces/{seeded.traces['error']}").json()
    assert [s["name"] for s in detail["spans"]] == ["nightly-job", "fetch"]
    assert detail["summary"]["root_name"] == "nightly-job"
    assert detail["summary"]["error_count"] == 1


def test_service_summaries(seeded: Seeded):
    summaries = {s["service_name"]: s for s in seeded.get("/api/v1/services").json()}
    assert summaries["svc-b"]["trace_count"] == 2  # the failed job and the webhook
    assert summaries["svc-b"]["error_rate"] == 0.5
    assert summaries["svc/a"]["span_count"] == 2 and summaries["svc/a"]["error_rate"] == 0.0
    assert summaries["svc/a"]["last_seen"]


ROUTES = [
    f"{OBS}/services",
    f"{OBS}/services/svc-b/spans",
    f"{OBS}/services/svc-b/spans/root",
    f"{OBS}/services/svc-b/workflows",
    f"{OBS}/traces/{'ab' * 16}/spans",
    f"{OBS}/traces/{'ab' * 16}/spans/{'ab' * 8}",
    "/api/v1/traces",
    f"/api/v1/traces/{'ab' * 16}",
    f"/api/v1/traces/{'ab' * 16}/outline",
    f"/api/v1/traces/{'ab' * 16}/spans/{'ab' * 8}",
    f"/api/v1/traces/{'ab' * 16}/matches?q=x",
    f"/api/v1/traces/{'ab' * 16}/otlp",
    "/api/v1/services",
    "/api/v1/workflows",
    f"/api/v1/traces/{'ab' * 16}/workflows/{'ab' * 8}/run",
    f"/api/v1/traces/{'ab' * 16}/workflows/{'ab' * 8}/change",
    f"/api/v1/traces/{'ab' * 16}/workflows/{'ab' * 8}/state",
]


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_needs_credentials(seeded: Seeded, path):
    url = seeded.server.url + path
    assert httpx.get(url + "?limit=zero").status_code == 401  # 401 before 422
    ingest_only = {"Authorization": f"Bearer {seeded.ingest_key}"}
    assert httpx.get(url, headers=ingest_only).status_code == 403
    assert seeded.get(path).status_code in (200, 404)


def _operations(seeded: Seeded):
    document = httpx.get(seeded.server.url + "/openapi.json", timeout=10).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "get" and {"bearer": []} in operation["security"]:
                yield path, operation


MALFORMED = {"integer": ["abc", "1.5", "1_0", " 5", "٣"], "boolean": ["maybe", "2"]}


def test_every_query_parameter_refuses_empty_and_malformed_values(seeded: Seeded):
    """``limit=`` silently meant the default, ``limit=1_0`` meant 10 and ``errors=`` false."""
    checked = 0
    for path, operation in _operations(seeded):
        url = path.replace("{service_name}", "svc-b").replace("{trace_id}", "ab" * 16)
        url = url.replace("{span_id}", "ab" * 8)
        for param in (p for p in operation.get("parameters", []) if p["in"] == "query"):
            name, schema = param["name"], param["schema"]
            samples = ["", *MALFORMED.get(schema.get("type"), [])]
            if "pattern" in schema:
                samples.append("=no=match=")
            for value in samples:
                response = seeded.get(url, **{name: value})
                assert response.status_code == 422, (path, name, value, response.text)
                assert response.json()["detail"].startswith(f"{name}:"), (path, name, value)
                checked += 1
            assert "422" in operation["responses"], path
    assert checked >= 35


ID_SAMPLES = {
    "trace_id": ("ab" * 16, ["AB" * 16, "ab" * 15 + "a", "ab" * 16 + "a", "g" * 32]),
    "span_id": ("ab" * 8, ["AB" * 8, "ab" * 7 + "a", "ab" * 8 + "a", "g" * 16]),
}


def test_id_path_parameters_accept_exactly_their_documented_pattern(seeded: Seeded):
    checked = 0
    for path, operation in _operations(seeded):
        params = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        for name, (good, bad_values) in ID_SAMPLES.items():
            if name not in params:
                continue
            assert re.fullmatch(params[name]["pattern"].strip("^$"), good)
            others = {n: s for n, (s, _) in ID_SAMPLES.items() if n != name}
            for bad in bad_values:
                assert not re.fullmatch(params[name]["pattern"].strip("^$"), bad)
                url = path.replace("{" + name + "}", bad)
                for other, value in others.items():
                    url = url.replace("{" + other + "}", value)
                response = seeded.get(url)
                assert response.status_code == 422, (path, name, bad, response.text)
                checked += 1
            url = path.replace("{trace_id}", ID_SAMPLES["trace_id"][0])
            url = url.replace("{span_id}", ID_SAMPLES["span_id"][0])
            assert seeded.get(url).status_code in (200, 404), path
    assert checked == 68  # 17 id parameters (11 trace_id, 6 span_id), 4 bad values each
