"""The messages of an LLM call, from each shape instrumentations write them in (spans in the
REST API's shape: attributes_json and events_json decoded)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from junjo.features.traces.llm_messages import Message, llm_messages


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
