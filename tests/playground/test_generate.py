"""The playground's API against a real ``junjo serve``, which calls an OpenAI-compatible
server on loopback (tests/support/fake_llm.py) through LiteLLM over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from junjo.features.llm_cost.prices import MAP_FILE, _map_path
from tests.playground.conftest import TIMEOUT_S
from tests.support.fake_llm import ERROR_MESSAGE, FakeLLM
from tests.support.wait import wait_until
from tests.support.web import WebServer

pytestmark = pytest.mark.slow
USER = [{"role": "user", "content": "What is 2 + 2?"}]
SECRET = "sk-fake-compatible-secret"


def ask(session: httpx.Client, model: str, **body: Any) -> httpx.Response:
    return session.post("/llm/generate", json={"model": model, "messages": USER, **body})


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_generate_answers_in_the_studio_shape(session: httpx.Client, fake_llm: FakeLLM):
    response = ask(session, "openai_compatible/gpt-4o-mini", temperature=0.3, max_tokens=50)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "reasoning_content",
    }
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["message"] == {"role": "assistant", "content": "gpt-4o-mini says: What is 2 + 2?"}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 14, "total_tokens": 17}
    assert body["reasoning_content"] is None
    sent = fake_llm.requests[-1]
    assert sent["temperature"] == 0.3
    assert sent["max_tokens"] == 50
    assert sent["_authorization"] == f"Bearer {SECRET}"


def test_cost_comes_from_the_bundled_price_map(session: httpx.Client):
    body = ask(session, "openai_compatible/gpt-4o-mini").json()
    prices = json.loads(_map_path().read_bytes())["gpt-4o-mini"]  # type: ignore[union-attr]
    expected = 3 * prices["input_cost_per_token"] + 14 * prices["output_cost_per_token"]
    cost = body["run"]["cost"]
    assert cost["priced_as"] == "gpt-4o-mini"
    assert cost["usd"] == pytest.approx(expected)
    assert body["run"]["latency_ms"] > 0
    # A model the map does not know has no cost, rather than a wrong one.
    assert ask(session, "openai_compatible/fake-small").json()["run"]["cost"] is None
    assert _map_path().name == MAP_FILE  # type: ignore[union-attr]


def test_reasoning_content_is_returned(session: httpx.Client):
    body = ask(session, "openai_compatible/fake-reasoner", reasoning_effort="low").json()
    assert body["reasoning_content"] == "Let me think about it."
    assert body["choices"][0]["message"]["content"] == "fake-reasoner says: What is 2 + 2?"


def test_json_mode_asks_for_a_json_object(session: httpx.Client, fake_llm: FakeLLM):
    body = ask(session, "openai_compatible/fake-small", json_mode=True).json()
    assert fake_llm.requests[-1]["response_format"] == {"type": "json_object"}
    assert json.loads(body["choices"][0]["message"]["content"]) == {
        "echo": "fake-small says: What is 2 + 2?"
    }


def test_json_schema_is_sent_strict(session: httpx.Client, fake_llm: FakeLLM):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "why": {"type": "string"}},
        "required": ["answer", "why"],
        "additionalProperties": False,
    }
    body = ask(session, "openai_compatible/fake-small", json_mode=True, json_schema=schema).json()
    assert fake_llm.requests[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response_schema", "strict": True, "schema": schema},
    }
    assert json.loads(body["choices"][0]["message"]["content"]) == {"answer": "x", "why": "x"}


def test_stream_sends_pieces_then_the_whole_response(session: httpx.Client):
    request = {"model": "openai_compatible/fake-reasoner", "messages": USER}
    with session.stream("POST", "/api/v1/llm/generate/stream", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"delta"}
    content = "".join(data.get("content", "") for name, data in events if name == "delta")
    reasoning = "".join(data.get("reasoning", "") for name, data in events if name == "delta")
    assert content == "fake-reasoner says: What is 2 + 2?"
    assert reasoning == "Let me think about it."
    done = events[-1][1]
    assert done["choices"][0]["message"]["content"] == content
    assert done["choices"][0]["finish_reason"] == "stop"
    assert done["usage"]["prompt_tokens"] == 3
    assert done["reasoning_content"] == reasoning
    assert done["run"]["service"] == "junjo-playground"


def test_provider_error_is_a_502_with_its_message(session: httpx.Client):
    response = ask(session, "openai_compatible/fake-error")
    assert response.status_code == 502
    assert ERROR_MESSAGE in response.json()["detail"]
    stream = session.post(
        "/api/v1/llm/generate/stream",
        json={"model": "openai_compatible/fake-error", "messages": USER},
    )
    assert stream.status_code == 502
    assert ERROR_MESSAGE in stream.json()["detail"]


def test_timeout_is_a_504(session: httpx.Client):
    response = ask(session, "openai_compatible/fake-slow")
    assert response.status_code == 504
    assert f"did not answer within {TIMEOUT_S} s" in response.json()["detail"]
    stream = session.post(
        "/api/v1/llm/generate/stream",
        json={"model": "openai_compatible/fake-slow", "messages": USER},
    )
    assert stream.status_code == 504


def test_unconfigured_provider_says_how_to_configure_it(session: httpx.Client):
    response = ask(session, "openai/gpt-4o-mini")
    assert response.status_code == 400
    assert "OpenAI is not configured" in response.json()["detail"]
    assert "OPENAI_API_KEY" in response.json()["detail"]
    models = session.get("/llm/providers/anthropic/models")
    assert models.status_code == 400
    assert "ANTHROPIC_API_KEY" in models.json()["detail"]


def test_providers_say_which_are_configured_never_the_key(
    session: httpx.Client, llm_web: WebServer
):
    response = session.get("/api/v1/llm/providers")
    assert response.status_code == 200
    providers = {p["provider"]: p for p in response.json()["providers"]}
    assert set(providers) == {"openai", "anthropic", "gemini", "openai_compatible"}
    assert providers["openai_compatible"]["configured"] is True
    assert providers["openai"]["configured"] is False
    assert "OPENAI_API_KEY" in providers["openai"]["how_to_configure"]
    assert SECRET not in response.text
    ask(session, "openai_compatible/fake-error")
    assert SECRET not in llm_web.server.log


def test_model_list_in_the_studio_shape(session: httpx.Client, fake_llm: FakeLLM):
    asked = fake_llm.model_lists
    response = session.get("/llm/providers/openai_compatible/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["models"]}
    assert models["openai_compatible/gpt-4o-mini"] == {
        "id": "openai_compatible/gpt-4o-mini",
        "provider": "openai_compatible",
        "display_name": "gpt-4o-mini",
        "supports_reasoning": False,
        "supports_vision": False,
        "max_tokens": 16384,
    }
    assert session.get("/llm/providers/openai_compatible/models").json() == response.json()
    after_gets = fake_llm.model_lists
    assert after_gets - asked <= 1  # kept: the provider was asked once at most
    refreshed = session.post("/llm/providers/openai_compatible/models/refresh")
    assert refreshed.status_code == 200
    assert refreshed.json() == response.json()
    assert fake_llm.model_lists == after_gets + 1  # asked again
    assert session.get("/llm/providers/mistral/models").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "gpt-4o", "messages": USER}, "model"),
        ({"model": "openai_compatible/x", "messages": []}, "messages"),
        ({"model": "openai_compatible/x", "messages": USER, "temperature": 3}, "temperature"),
        ({"model": "openai_compatible/x", "messages": USER, "stop": list("abcde")}, "stop"),
        (
            {"model": "openai_compatible/x", "messages": USER, "reasoning_effort": "max"},
            "reasoning",
        ),
    ],
)
def test_bad_requests_are_422(session: httpx.Client, body: dict[str, Any], field: str):
    response = session.post("/llm/generate", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_every_route_needs_a_session(llm_web: WebServer):
    read_key = {"Authorization": f"Bearer {llm_web.keys.read}"}
    body = {"model": "openai_compatible/fake-small", "messages": USER}
    calls = [
        ("POST", "/llm/generate"),
        ("POST", "/api/v1/llm/generate/stream"),
        ("GET", "/llm/providers/openai_compatible/models"),
        ("POST", "/llm/providers/openai_compatible/models/refresh"),
        ("GET", "/api/v1/llm/providers"),
    ]
    for method, path in calls:
        for headers in ({}, read_key):
            response = httpx.request(
                method, llm_web.url + path, json=body, timeout=10,
                headers={"Origin": llm_web.url, **headers},
            )  # fmt: skip
            assert response.status_code == 401, (method, path, headers)


def test_a_run_is_a_trace_of_junjo_playground(session: httpx.Client, llm_web: WebServer):
    source = {"trace_id": "ab" * 16, "span_id": "cd" * 8, "comparison": "c1"}
    body = ask(session, "openai_compatible/gpt-4o-mini", temperature=0.5, source=source).json()
    run = body["run"]
    assert run["recorded"] is True
    trace_id = run["trace_id"]

    def found() -> Any:
        response = session.get(f"/api/v1/traces/{trace_id}")
        return response.json() if response.status_code == 200 else None

    trace = wait_until(found, timeout=30)
    assert trace["summary"]["service_name"] == "junjo-playground"
    assert trace["summary"]["llm_call_count"] == 1
    [span] = trace["spans"]
    attrs = span["attributes_json"]
    assert span["span_id"] == run["span_id"]
    assert span["name"] == "chat gpt-4o-mini"
    assert span["llm_model_name"] == "gpt-4o-mini"
    assert (span["llm_prompt_tokens"], span["llm_completion_tokens"]) == (3, 14)
    assert attrs["llm.input_messages.0.message.content"] == "What is 2 + 2?"
    assert attrs["llm.output_messages.0.message.content"] == "gpt-4o-mini says: What is 2 + 2?"
    assert json.loads(attrs["llm.invocation_parameters"])["temperature"] == 0.5
    assert attrs["junjo.playground.source.trace_id"] == "ab" * 16
    assert attrs["junjo.playground.user"] == llm_web.email
    listed = session.get("/api/v1/traces", params={"service": "junjo-playground"}).json()
    assert trace_id in {t["trace_id"] for t in listed["traces"]}


def test_a_failed_run_is_recorded_as_an_error(session: httpx.Client):
    ask(session, "openai_compatible/fake-error")
    listed = wait_until(
        lambda: session.get(
            "/api/v1/traces", params={"service": "junjo-playground", "errors": "true"}
        ).json()["traces"],
        timeout=30,
    )
    assert listed[0]["root_name"] == "chat fake-error"


def test_costs_of_calls_for_the_trace_view(session: httpx.Client, llm_web: WebServer):
    calls = [
        {"model": "gpt-4o-mini", "prompt_tokens": 1000, "completion_tokens": 100},
        {"model": "my-local-model", "prompt_tokens": 5, "completion_tokens": 5},
    ]
    response = session.post("/api/v1/llm/costs", json={"calls": calls})
    assert response.status_code == 200
    body = response.json()
    assert body["costs"][0]["priced_as"] == "gpt-4o-mini"
    assert body["costs"][1] is None
    assert body["total_usd"] == pytest.approx(body["costs"][0]["usd"])
    # A read key may ask (it spends nothing); bad counts are a 422.
    read = httpx.post(
        llm_web.url + "/api/v1/llm/costs",
        json={"calls": calls},
        headers={"Authorization": f"Bearer {llm_web.keys.read}"},
    )
    assert read.status_code == 200
    bad = session.post("/api/v1/llm/costs", json={"calls": [{"model": "x", "prompt_tokens": -1}]})
    assert bad.status_code == 422


def test_a_stream_left_early_is_recorded_as_stopped(session: httpx.Client):
    request = {"model": "openai_compatible/fake-drip", "messages": USER}
    with session.stream("POST", "/api/v1/llm/generate/stream", json=request) as response:
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
        assert json.loads(first.removeprefix("data: ")) == {"content": "fake-drip"}

    def stopped() -> Any:
        listed = session.get(
            "/api/v1/traces",
            params={"service": "junjo-playground", "name": "chat fake-drip", "errors": "true"},
        ).json()["traces"]
        return listed or None

    [trace] = wait_until(stopped, timeout=30)
    [span] = session.get(f"/api/v1/traces/{trace['trace_id']}").json()["spans"]
    assert span["status_message"] == "stopped before the end of the answer"
