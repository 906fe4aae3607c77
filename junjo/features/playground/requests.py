"""The body of ``POST /llm/generate``: Junjo AI Studio's ``GenerateRequest`` (model as
``provider/name``, messages, temperature, max tokens, top_p, stop, reasoning effort, JSON
mode and schema), checked as its pydantic model checks it, plus what our playground adds:
messages of any chat role with tool calls, tool definitions, and where the call came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from junjo.kernel.errors import InvalidInput

from .providers import PROVIDERS

ROLES = ("system", "developer", "user", "assistant", "tool")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
MAX_MESSAGES = 1000
MAX_STOP = 4
_MODEL = re.compile(r"^([a-z_]+)/(\S[^\n]*)$")
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class GenerateRequest:
    provider: str
    model_name: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, ...
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    # The span this run replays (recorded on the run's own span), and a label of the
    # comparison it belongs to: what lets a user find what they tried.
    source: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return f"{self.provider}/{self.model_name}"


def parse_request(body: dict[str, Any]) -> GenerateRequest:
    provider, name = _model(body.get("model"))
    return GenerateRequest(
        provider=provider,
        model_name=name,
        messages=_messages(body.get("messages")),
        params=_params(body),
        json_mode=_bool(body, "json_mode"),
        json_schema=_schema(body.get("json_schema")),
        tools=_tools(body.get("tools")),
        source=_source(body.get("source")),
    )


def _model(value: Any) -> tuple[str, str]:
    match = _MODEL.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidInput('model: write it as "provider/name", e.g. "openai/gpt-4o-mini"')
    if match[1] not in PROVIDERS:
        raise InvalidInput(f"model: unknown provider {match[1]!r}; one of {', '.join(PROVIDERS)}")
    return match[1], match[2].strip()


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("messages: a non-empty list of {role, content}")
    if len(value) > MAX_MESSAGES:
        raise InvalidInput(f"messages: at most {MAX_MESSAGES}")
    return [_message(i, message) for i, message in enumerate(value)]


def _message(index: int, message: Any) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise InvalidInput(f"{where}: an object with role and content")
    role = message.get("role")
    if role not in ROLES:
        raise InvalidInput(f"{where}.role: one of {', '.join(ROLES)}")
    content = message.get("content")
    tool_calls = message.get("tool_calls")
    if content is None and not (role == "assistant" and tool_calls):
        content = ""
    if content is not None and not isinstance(content, str | list):
        raise InvalidInput(f"{where}.content: a string")
    out: dict[str, Any] = {"role": role, "content": content}
    if tool_calls is not None:
        if role != "assistant" or not isinstance(tool_calls, list):
            raise InvalidInput(f"{where}.tool_calls: a list, on an assistant message")
        out["tool_calls"] = tool_calls
    for key in ("tool_call_id", "name"):
        if message.get(key) is not None:
            if not isinstance(message[key], str):
                raise InvalidInput(f"{where}.{key}: a string")
            out[key] = message[key]
    return out


def _params(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        if body.get(key) is not None:
            params[key] = _number(body[key], key, low, high)
    for key in ("max_tokens", "max_completion_tokens"):
        if body.get(key) is not None:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidInput(f"{key}: a whole number above 0")
            params[key] = value
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidInput("stop: a list of strings")
        if len(stop) > MAX_STOP:
            raise InvalidInput(f"stop: at most {MAX_STOP} sequences")
        if stop:
            params["stop"] = stop
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in REASONING_EFFORTS:
            raise InvalidInput(f"reasoning_effort: one of {', '.join(REASONING_EFFORTS)}")
        params["reasoning_effort"] = effort
    return params


def _number(value: Any, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"{key}: a number from {low} to {high}")
    return float(value)


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key}: true or false")
    return value


def _schema(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("json_schema: a JSON Schema object")
    return value


def _tools(value: Any) -> list[dict[str, Any]] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InvalidInput("tools: a list of tool definitions")
    for index, tool in enumerate(value):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidInput(f'tools[{index}]: {{"type": "function", "function": {{...}}}}')
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidInput(f"tools[{index}].function.name: a name")
    return value


def _source(value: Any) -> dict[str, str]:
    """``{"trace_id", "span_id", "comparison"}``, each optional."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("source: an object")
    out: dict[str, str] = {}
    for key, length in (("trace_id", 32), ("span_id", 16)):
        item = value.get(key)
        if item is not None:
            if not isinstance(item, str) or len(item) != length or not _HEX.match(item):
                raise InvalidInput(f"source.{key}: {length} lowercase hex characters")
            out[key] = item
    comparison = value.get("comparison")
    if comparison is not None:
        if not isinstance(comparison, str) or len(comparison) > 100:
            raise InvalidInput("source.comparison: a string of up to 100 characters")
        out["comparison"] = comparison
    return out
