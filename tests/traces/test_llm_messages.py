"""The messages of an LLM call, from each shape instrumentations write them in (spans in the
REST API's shape: attributes_json and events_json decoded)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from junjo.features.traces.llm_messages import Message, llm_call, llm_messages


def span(attributes: dict[str, Any] | None = None, events: list | None = None) -> dict:
    return {"attributes_json": attributes or {}, "events_json": events or []}


def event(name: str, **attributes: Any) -> dict:
    return {"name": name, "timeUnixNano": "1", "attributes": attributes}


EXPECTED = [
    Message("system", "Be brief.", output=False),
    Message("user", "Where is my order?", output=False),
    Message("assistant", "On its way.", output=True),
]

SEMCONV = {
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "On its way."}],
                "finish_reason": "stop",
            }
        ]
    ),
}


@pytest.mark.parametrize(
    "shape",
    [
        span(SEMCONV),  # current conventions, JSON strings on the span
        span({k: json.loads(v) for k, v in SEMCONV.items()}),  # structured values
        span(events=[event("gen_ai.client.inference.operation.details", **SEMCONV)]),
        span(  # one event per message (GenAI conventions before 1.37)
            events=[
                event("gen_ai.system.message", content="Be brief."),
                event("gen_ai.user.message", content="Where is my order?"),
                event("gen_ai.choice", message=json.dumps({"content": "On its way."})),
            ]
        ),
        span(  # indexed attributes (OpenLLMetry)
            {
                "gen_ai.prompt.1.role": "user",
                "gen_ai.prompt.1.content": "Where is my order?",
                "gen_ai.prompt.0.role": "system",
                "gen_ai.prompt.0.content": "Be brief.",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "On its way.",
            }
        ),
        span(  # OpenInference
            {
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "Be brief.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "Where is my order?",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "On its way.",
            }
        ),
    ],
    ids=["semconv", "structured", "details-event", "message-events", "indexed", "openinference"],
)
def test_each_shape_gives_the_same_messages(shape: dict):
    assert llm_messages(shape) == EXPECTED


def test_tool_calls_and_unusual_endings_are_named():
    output = [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me look."},
                {"type": "tool_call", "name": "find_order", "arguments": {"id": 7}},
            ],
            "finish_reason": "tool_call",
        }
    ]
    (message,) = llm_messages(span({"gen_ai.output.messages": json.dumps(output)}))
    assert message.text == 'Let me look.\n[tool call find_order({"id": 7})] [tool_call]'


def test_input_and_output_values_when_nothing_else():
    found = llm_messages(span({"input.value": "hi", "output.value": "hello"}))
    assert found == [Message("input", "hi", output=False), Message("output", "hello", output=True)]
    assert llm_messages(span({"gen_ai.request.model": "m"})) == []


CALL = "llm.output_messages.0.message.tool_calls.0.tool_call.function"


def test_openinference_content_parts_and_tool_calls():
    found = llm_messages(
        span(
            {
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.contents.0.message_content.type": "text",
                "llm.input_messages.0.message.contents.0.message_content.text": "Weather?",
                "llm.input_messages.0.message.contents.1.message_content.type": "image",
                "llm.output_messages.0.message.role": "assistant",
                f"{CALL}.name": "weather",
                f"{CALL}.arguments": '{"city": "Oslo"}',
                "llm.input_messages.1.message.role": "tool",
                "llm.input_messages.1.message.content": "12 °C",
            }
        )
    )
    assert found == [
        Message("user", "Weather?\n[image]", output=False),
        Message("tool", "12 °C", output=False),
        Message("assistant", '[tool call weather({"city": "Oslo"})]', output=True),
    ]


def test_an_llm_call_has_model_parameters_tokens_and_messages():
    genai = {
        **span({**SEMCONV, "gen_ai.request.model": "m-1", "gen_ai.provider.name": "acme",
                "gen_ai.operation.name": "chat", "gen_ai.request.temperature": 0.2,
                "gen_ai.request.max_tokens": 100,
                "gen_ai.response.finish_reasons": ["stop"]}),
        "llm_model_name": "m-1", "llm_prompt_tokens": 3, "llm_completion_tokens": 4,
        "llm_total_tokens": 7, "duration_ns": 1500,
    }  # fmt: skip
    call = llm_call(genai)
    assert call["model"] == "m-1" and call["provider"] == "acme" and call["operation"] == "chat"
    assert call["parameters"] == {"temperature": 0.2, "max_tokens": 100}
    assert call["tokens"] == {"prompt": 3, "completion": 4, "total": 7}
    assert call["latency_ns"] == 1500 and call["finish_reasons"] == ["stop"]
    assert [m["role"] for m in call["messages"]] == ["system", "user", "assistant"]
    openinference = span({"llm.invocation_parameters": '{"temperature": 0}', "input.value": "hi"})
    call = llm_call(openinference)
    assert call["parameters"] == {"temperature": 0} and call["model"] is None
    assert call["messages"] == [{"role": "input", "text": "hi", "output": False}]
    assert llm_call(span({"llm.invocation_parameters": "not json"}))["parameters"] == {
        "llm.invocation_parameters": "not json"
    }
