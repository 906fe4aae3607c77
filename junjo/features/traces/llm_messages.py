"""The messages of one LLM call (what was sent, what came back), read from its span in any of
the shapes instrumentations write them:

* OTel GenAI semantic conventions (current): the ``gen_ai.system_instructions``,
  ``gen_ai.input.messages`` and ``gen_ai.output.messages`` attributes, on the span or on its
  ``gen_ai.client.inference.operation.details`` event; each a JSON list of
  ``{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call", ...}, ...]}``;
* OTel GenAI (before 1.37): one event per message, ``gen_ai.{system,user,assistant,tool}.message``
  and ``gen_ai.choice``, with ``content`` (or ``message``) attributes; older still,
  ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` events and the indexed
  ``gen_ai.prompt.N.role`` / ``gen_ai.prompt.N.content`` (``gen_ai.completion.N.*``) attributes;
* OpenInference: ``llm.input_messages.N.message.role`` / ``.content`` / ``.contents.M.*``
  / ``.tool_calls.M.*`` (``llm.output_messages.N.*``), else ``input.value`` / ``output.value``.

``llm_call`` gives the whole call (model, provider, parameters, tokens, latency, messages):
what the web UI's conversation view shows, so the browser re-implements none of this.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    role: str
    text: str
    output: bool  # came back from the model


_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def llm_messages(span: dict[str, Any]) -> list[Message]:
    """The call's messages, inputs first, in the first shape the span has."""
    attrs = span.get("attributes_json") or {}
    events = span.get("events_json") or []
    for source in (attrs, *_details_events(events)):
        found = _semconv(source)
        if found:
            return found
    return (
        _per_message_events(events)
        or _indexed(attrs, "gen_ai.prompt.", "gen_ai.completion.", "")
        or _indexed(attrs, "llm.input_messages.", "llm.output_messages.", "message.")
        or _values(attrs)
    )


def _details_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e.get("attributes") or {} for e in events if e.get("name") == _DETAILS_EVENT]


def _semconv(attrs: dict[str, Any]) -> list[Message]:
    out = []
    instructions = _json(attrs.get("gen_ai.system_instructions"))
    if instructions:
        out.append(Message("system", _parts_text(instructions), output=False))
    for key, output in (("gen_ai.input.messages", False), ("gen_ai.output.messages", True)):
        for message in _as_list(_json(attrs.get(key))):
            if isinstance(message, dict):
                role = str(message.get("role") or ("assistant" if output else "?"))
                out.append(Message(role, _message_text(message), output))
    return out


def _message_text(message: dict[str, Any]) -> str:
    # "content": the shape before parts.
    parts = message.get("parts", message.get("content"))
    text = _parts_text(parts) if "parts" in message else _text(parts)
    reason = message.get("finish_reason")
    return f"{text} [{reason}]" if reason and reason != "stop" else text


def _parts_text(parts: Any) -> str:
    """A message's parts as text: text parts as they are, the others (tool calls, their
    responses, media) in brackets."""
    pieces = []
    for part in _as_list(parts):
        if not isinstance(part, dict):
            pieces.append(_text(part))
        elif part.get("type") == "text" or ("content" in part and "type" not in part):
            pieces.append(_text(part.get("content")))
        elif part.get("type") == "tool_call":
            pieces.append(f"[tool call {part.get('name', '?')}({_text(part.get('arguments'))})]")
        elif part.get("type") == "tool_call_response":
            pieces.append(f"[tool response {_text(part.get('response'))}]")
        else:
            pieces.append(f"[{part.get('type', '?')}]")
    return "\n".join(piece for piece in pieces if piece)


def _per_message_events(events: list[dict[str, Any]]) -> list[Message]:
    out = []
    for event in events:
        name, attrs = event.get("name"), event.get("attributes") or {}
        if name in _MESSAGE_EVENTS:
            out.append(Message(_MESSAGE_EVENTS[name], _text(attrs.get("content")), output=False))
        elif name == "gen_ai.choice":
            message = _json(attrs.get("message"))
            content = message.get("content") if isinstance(message, dict) else message
            role = message.get("role", "assistant") if isinstance(message, dict) else "assistant"
            out.append(Message(str(role), _text(content or attrs.get("content")), output=True))
        elif name == "gen_ai.content.prompt":
            out.append(Message("prompt", _text(attrs.get("gen_ai.prompt")), output=False))
        elif name == "gen_ai.content.completion":
            out.append(Message("completion", _text(attrs.get("gen_ai.completion")), output=True))
    return out


def _indexed(attrs: dict[str, Any], inputs: str, outputs: str, infix: str) -> list[Message]:
    """``PREFIX.N.[infix]role`` / ``PREFIX.N.[infix]content`` attributes, by N (and, in
    OpenInference, ``contents.M.message_content.text`` and ``tool_calls.M.tool_call.*``)."""
    out = []
    for prefix, output in ((inputs, False), (outputs, True)):
        pattern = re.compile(rf"{re.escape(prefix)}(\d+)\.{re.escape(infix)}(.+)$")
        found: dict[int, dict[str, Any]] = {}
        for key, value in attrs.items():
            match = pattern.match(key)
            if match:
                found.setdefault(int(match[1]), {})[match[2]] = value
        for _, message in sorted(found.items()):
            if "role" not in message and "content" not in message and not _has_parts(message):
                continue
            default = "assistant" if output else "?"
            out.append(Message(str(message.get("role") or default), _fields_text(message), output))
    return out


_PART = re.compile(r"(contents|tool_calls)\.(\d+)\.(.+)$")


def _has_parts(fields: dict[str, Any]) -> bool:
    return any(_PART.match(key) for key in fields)


def _fields_text(fields: dict[str, Any]) -> str:
    """One indexed message's text: its content, else its content parts, then its tool calls
    in brackets (as ``_parts_text`` writes them)."""
    parts: dict[tuple[str, int], dict[str, Any]] = {}
    for key, value in fields.items():
        match = _PART.match(key)
        if match:
            parts.setdefault((match[1], int(match[2])), {})[match[3]] = value
    pieces = [_text(fields.get("content"))]
    for (kind, _), part in sorted(parts.items()):
        if kind == "contents" and not fields.get("content"):
            kind_of = part.get("message_content.type", "text")
            text = part.get("message_content.text")
            pieces.append(_text(text) if text is not None else f"[{kind_of}]")
        elif kind == "tool_calls":
            name = part.get("tool_call.function.name", "?")
            arguments = _text(part.get("tool_call.function.arguments"))
            pieces.append(f"[tool call {name}({arguments})]")
    return "\n".join(piece for piece in pieces if piece)


def _values(attrs: dict[str, Any]) -> list[Message]:
    out = []
    for key, role, output in (("input.value", "input", False), ("output.value", "output", True)):
        if attrs.get(key) not in (None, ""):
            out.append(Message(role, _text(attrs[key]), output))
    return out


def _json(value: Any) -> Any:
    """A JSON-encoded attribute decoded (SDKs send these as strings); else as it is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# -- the whole call -----------------------------------------------------------------------

_PROVIDER_KEYS = ("llm.provider", "gen_ai.provider.name", "gen_ai.system", "llm.system")
_MODEL_KEYS = ("llm.model_name", "gen_ai.response.model", "gen_ai.request.model")
_REQUEST_PREFIX = "gen_ai.request."


def llm_call(span: dict[str, Any]) -> dict[str, Any]:
    """An LLM call as the UI shows it: ``model``, ``provider``, ``operation``, ``parameters``
    (OpenInference's ``llm.invocation_parameters``, or GenAI's ``gen_ai.request.*`` but the
    model), ``tokens`` {prompt, completion, total}, ``latency_ns``, ``finish_reasons`` and
    ``messages`` [{role, text, output}]. Works on any span: missing parts are null or empty."""
    attrs = span.get("attributes_json") or {}
    return {
        "model": span.get("llm_model_name") or _first_text(attrs, _MODEL_KEYS),
        "provider": _first_text(attrs, _PROVIDER_KEYS),
        "operation": _first_text(attrs, ("gen_ai.operation.name", "openinference.span.kind")),
        "parameters": _parameters(attrs),
        "tokens": {
            "prompt": span.get("llm_prompt_tokens"),
            "completion": span.get("llm_completion_tokens"),
            "total": span.get("llm_total_tokens"),
        },
        "latency_ns": span.get("duration_ns"),
        "finish_reasons": [
            _text(r) for r in _as_list(_json(attrs.get("gen_ai.response.finish_reasons")))
        ],
        "messages": [
            {"role": m.role, "text": m.text, "output": m.output} for m in llm_messages(span)
        ],
    }


def _parameters(attrs: dict[str, Any]) -> dict[str, Any]:
    invocation = _json(attrs.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        return invocation
    found = {
        key.removeprefix(_REQUEST_PREFIX): value
        for key, value in attrs.items()
        if key.startswith(_REQUEST_PREFIX) and key != "gen_ai.request.model"
    }
    if invocation not in (None, ""):  # not a JSON object: shown as it is
        found["llm.invocation_parameters"] = invocation
    return found


def _first_text(attrs: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return _text(value)
    return None
