"""Token costs from LiteLLM's bundled price map, read as a file."""

from __future__ import annotations

import json

import pytest

from junjo.features.llm_cost import call_cost, price_of, span_cost, trace_cost
from junjo.features.llm_cost.prices import _map_path

MAP = json.loads(_map_path().read_bytes())  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4o-mini", "gpt-4o-mini"),
        ("gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash"),
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("openai_compatible/gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_models_are_found_by_any_usual_name(model: str, key: str):
    price = price_of(model)
    assert price is not None
    assert price.key == key
    assert price.input_per_token == MAP[key]["input_cost_per_token"]


def test_unknown_models_have_no_price():
    assert price_of("openai_compatible/llama3.2:3b") is None
    assert price_of("") is None
    assert price_of(None) is None
    assert call_cost("llama3.2:3b", 10, 10) is None


def test_a_call_costs_its_tokens_at_the_map_prices():
    entry = MAP["gpt-4o"]
    cost = call_cost("gpt-4o", 1000, 200)
    assert cost is not None
    assert cost["input_usd"] == pytest.approx(1000 * entry["input_cost_per_token"])
    assert cost["output_usd"] == pytest.approx(200 * entry["output_cost_per_token"])
    assert cost["usd"] == pytest.approx(cost["input_usd"] + cost["output_usd"])
    assert call_cost("gpt-4o", None, None) is None


def test_reasoning_tokens_are_charged_at_their_price():
    entry = MAP["gemini/gemini-2.5-flash"]
    cost = call_cost("gemini/gemini-2.5-flash", 0, 100, reasoning_tokens=40)
    assert cost is not None
    expected = 60 * entry["output_cost_per_token"] + 40 * entry["output_cost_per_reasoning_token"]
    assert cost["output_usd"] == pytest.approx(expected)


def test_span_and_trace_costs_from_the_stored_columns():
    priced = {"is_llm": True, "llm_model_name": "gpt-4o-mini", "llm_prompt_tokens": 100,
              "llm_completion_tokens": 10}  # fmt: skip
    unknown = {"is_llm": True, "llm_model_name": "my-local-model", "llm_prompt_tokens": 5,
               "llm_completion_tokens": 5}  # fmt: skip
    plain = {"is_llm": False, "name": "step"}
    one = span_cost(priced)
    assert one is not None
    assert span_cost(plain) is None
    total = trace_cost([priced, priced, unknown, plain])
    assert total == {"usd": pytest.approx(2 * one["usd"]), "priced_spans": 2, "unpriced_spans": 1}
    assert trace_cost([unknown])["usd"] is None


def test_the_trace_views_llm_call_has_its_cost():
    from junjo.features.traces.llm_messages import llm_call

    span = {"is_llm": True, "attributes_json": {}, "llm_model_name": "gpt-4o-mini",
            "llm_prompt_tokens": 100, "llm_completion_tokens": 10}  # fmt: skip
    assert llm_call(span)["cost"] == call_cost("gpt-4o-mini", 100, 10)
    assert llm_call({**span, "llm_model_name": "my-local-model"})["cost"] is None
