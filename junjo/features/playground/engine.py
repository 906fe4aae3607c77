"""Calling a model through LiteLLM, and what comes back in Junjo AI Studio's OpenAI-style
shape (``{id, object, created, model, choices, usage, reasoning_content}``) plus ``run``:
latency, cost, and the trace this run was recorded as.

LiteLLM is imported on the first call, not before: ``import litellm`` takes seconds and
about 200 MB, which neither ``junjo --help`` nor an idle ``junjo serve`` should pay. The
offline switches are set first, so it reads its bundled price map and catalogs instead of
fetching them. Provider errors become ``Unreachable`` (502, with the provider's message)
and timeouts ``UpstreamTimeout`` (504): a playground call never answers 500.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from junjo.features.llm_cost import call_cost
from junjo.kernel.errors import Busy, JunjoError, Unreachable, UpstreamTimeout

from .providers import Provider
from .requests import GenerateRequest

log = logging.getLogger("junjo.playground")

# LiteLLM's switches for its bundled copies (no fetch at import or on first use).
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true",
    "LITELLM_LOCAL_BLOG_POSTS": "true",
}
_import_lock = threading.Lock()


def load_litellm() -> Any:
    """``litellm``, imported once with its offline switches and its chatter off."""
    with _import_lock:
        os.environ.update(OFFLINE_ENV)
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.drop_params = True  # a parameter a provider does not take is left out
        logging.getLogger("LiteLLM").setLevel(logging.WARNING)
        return litellm


async def _litellm() -> Any:
    try:
        return await run_in_threadpool(load_litellm)
    except Exception as exc:  # a broken install: say so rather than answer 500
        raise Busy(f"the playground cannot load LiteLLM: {exc}", retry_after=60) from exc


@dataclass
class Outcome:
    """One finished call: the response (None on error), the error, what was measured."""

    request: GenerateRequest
    started_ns: int
    ended_ns: int = 0
    response: dict[str, Any] | None = None
    error: JunjoError | None = None
    reasoning: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        return (self.ended_ns - self.started_ns) / 1e6


def litellm_arguments(
    request: GenerateRequest, provider: Provider, timeout_s: float, *, stream: bool
) -> dict[str, Any]:
    """``litellm.acompletion``'s keyword arguments (the key given explicitly: LiteLLM must
    never fall back to a variable of its own, e.g. send OPENAI_API_KEY to a local server)."""
    args: dict[str, Any] = {
        "model": _litellm_model(request),
        "messages": request.messages,
        "api_key": provider.api_key or "none",
        "timeout": timeout_s,
        "max_retries": 0,  # the user is waiting; they press Run again
        **request.params,
    }
    if provider.name == "openai_compatible":
        args["api_base"] = provider.base_url
    if request.tools:
        args["tools"] = request.tools
    if request.json_schema is not None:
        args["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "response_schema",
                "strict": True,
                "schema": request.json_schema,
            },
        }
    elif request.json_mode:
        args["response_format"] = {"type": "json_object"}
    if stream:
        args["stream"] = True
        args["stream_options"] = {"include_usage": True}
    return args


def _litellm_model(request: GenerateRequest) -> str:
    # An OpenAI-compatible server is LiteLLM's "openai" provider with another api_base.
    prefix = "openai" if request.provider == "openai_compatible" else request.provider
    return f"{prefix}/{request.model_name}"


async def generate(request: GenerateRequest, provider: Provider, timeout_s: float) -> Outcome:
    """One call, waited for; the outcome holds the response or the error."""
    litellm = await _litellm()
    outcome = Outcome(request, time.time_ns())  # after the import: the call's own latency
    try:
        args = litellm_arguments(request, provider, timeout_s, stream=False)
        raw = await asyncio.wait_for(litellm.acompletion(**args), timeout_s + 5)
        outcome.ended_ns = time.time_ns()
        outcome.response = studio_response(_as_dict(raw), request)
    except Exception as exc:
        outcome.ended_ns = time.time_ns()
        outcome.error = provider_error(exc, provider, timeout_s)
    return outcome


async def open_stream(
    request: GenerateRequest, provider: Provider, timeout_s: float
) -> tuple[Outcome, AsyncIterator[Any] | None]:
    """Start a streamed call: connection and HTTP errors come here, before the first
    chunk, so they can still be an HTTP status (502, 504)."""
    litellm = await _litellm()
    outcome = Outcome(request, time.time_ns())
    try:
        args = litellm_arguments(request, provider, timeout_s, stream=True)
        chunks = await asyncio.wait_for(litellm.acompletion(**args), timeout_s + 5)
    except Exception as exc:
        outcome.ended_ns = time.time_ns()
        outcome.error = provider_error(exc, provider, timeout_s)
        return outcome, None
    return outcome, chunks.__aiter__()


async def stream_deltas(
    outcome: Outcome, chunks: AsyncIterator[Any], provider: Provider, timeout_s: float
) -> AsyncIterator[dict[str, str]]:
    """``{"content": ...}`` / ``{"reasoning": ...}`` pieces as they come; at the end the
    outcome holds the whole response (or the error that cut it short)."""
    content: list[str] = []
    reasoning: list[str] = []
    acc: dict[str, Any] = {"usage": None, "finish_reason": None, "id": "", "model": "", "tools": {}}
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            try:
                chunk = _as_dict(await asyncio.wait_for(chunks.__anext__(), left))
            except StopAsyncIteration:
                break
            for kind, piece in _chunk_pieces(chunk, acc):
                (content if kind == "content" else reasoning).append(piece)
                yield {kind: piece}
    except Exception as exc:
        outcome.error = provider_error(exc, provider, timeout_s)
    outcome.ended_ns = time.time_ns()
    if outcome.error is None:
        outcome.response = _streamed_response(outcome.request, content, reasoning, acc)


def _chunk_pieces(chunk: dict[str, Any], acc: dict[str, Any]) -> list[tuple[str, str]]:
    acc["id"] = acc["id"] or chunk.get("id") or ""
    acc["model"] = acc["model"] or chunk.get("model") or ""
    if chunk.get("usage"):
        acc["usage"] = chunk["usage"]
    pieces: list[tuple[str, str]] = []
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if choice.get("finish_reason"):
            acc["finish_reason"] = choice["finish_reason"]
        if delta.get("reasoning_content"):
            pieces.append(("reasoning", str(delta["reasoning_content"])))
        if delta.get("content"):
            pieces.append(("content", str(delta["content"])))
        for call in delta.get("tool_calls") or []:
            _merge_tool_call(acc["tools"], call)
    return pieces


def _merge_tool_call(tools: dict[int, dict[str, Any]], call: dict[str, Any]) -> None:
    """Streamed tool calls come in pieces: an id and a name, then the arguments in parts."""
    index = call.get("index") or 0
    into = tools.setdefault(
        index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
    )
    into["id"] = into["id"] or call.get("id") or ""
    function = call.get("function") or {}
    into["function"]["name"] += function.get("name") or ""
    into["function"]["arguments"] += function.get("arguments") or ""


def _streamed_response(
    request: GenerateRequest, content: list[str], reasoning: list[str], acc: dict[str, Any]
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if acc["tools"]:
        message["tool_calls"] = [acc["tools"][i] for i in sorted(acc["tools"])]
    raw = {
        "id": acc["id"],
        "created": int(time.time()),
        "model": acc["model"] or request.model_name,
        "choices": [{"index": 0, "message": message, "finish_reason": acc["finish_reason"]}],
        "usage": acc["usage"],
        "reasoning_content": "".join(reasoning) or None,
    }
    return studio_response(raw, request)


def studio_response(raw: dict[str, Any], request: GenerateRequest) -> dict[str, Any]:
    """The Studio's shape of a completion: the first choice's message (content never null),
    usage, and ``reasoning_content`` (the message's, else its thinking blocks joined)."""
    choices = []
    reasoning = raw.get("reasoning_content")
    for index, choice in enumerate(raw.get("choices") or []):
        message = choice.get("message") or {}
        out: dict[str, Any] = {"role": message.get("role") or "assistant"}
        out["content"] = message.get("content") or ""
        if message.get("tool_calls"):
            out["tool_calls"] = [_tool_call(call) for call in message["tool_calls"]]
        reasoning = reasoning or message.get("reasoning_content") or _thinking(message)
        choices.append(
            {"index": choice.get("index", index), "message": out,
             "finish_reason": choice.get("finish_reason")}
        )  # fmt: skip
    return {
        "id": raw.get("id") or "",
        "object": "chat.completion",
        "created": int(raw.get("created") or time.time()),
        "model": raw.get("model") or request.model_name,
        "choices": choices,
        "usage": _usage(raw.get("usage")),
        "reasoning_content": reasoning or None,
    }


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": function.get("arguments") or "",
        },
    }


def _thinking(message: dict[str, Any]) -> str:
    blocks = message.get("thinking_blocks") or []
    return "\n".join(
        str(b.get("thinking")) for b in blocks if isinstance(b, dict) and b.get("thinking")
    )


def _usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict) or usage.get("prompt_tokens") is None:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }
    details = usage.get("completion_tokens_details") or {}
    if isinstance(details, dict) and details.get("reasoning_tokens"):
        out["reasoning_tokens"] = int(details["reasoning_tokens"])
    return out


def run_cost(request: GenerateRequest, response: Mapping[str, Any] | None) -> dict[str, Any] | None:
    usage = (response or {}).get("usage")
    if not usage:
        return None
    return call_cost(
        request.model,
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        usage.get("reasoning_tokens"),
    )


def provider_error(exc: BaseException, provider: Provider, timeout_s: float) -> JunjoError:
    """What the user is told: a timeout (504), or the provider's own words (502). The key
    is cut out of any message, in case a provider or a library echoes it."""
    if isinstance(exc, JunjoError):
        return exc
    if isinstance(exc, TimeoutError) or type(exc).__name__ in ("Timeout", "APITimeoutError"):
        return UpstreamTimeout(
            f"{provider.label} did not answer within {timeout_s:g} s"
            " (llm_timeout_seconds in junjo.toml)"
        )
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    message = message.removeprefix("litellm.").strip()
    if provider.api_key and len(provider.api_key) >= 4:
        message = message.replace(provider.api_key, "[key]")
    log.warning("playground call to %s failed: %s", provider.name, type(exc).__name__)
    where = f" ({status})" if isinstance(status, int) else ""
    return Unreachable(f"{provider.label} refused the call{where}: {message}")


def _as_dict(value: Any) -> dict[str, Any]:
    """LiteLLM's pydantic objects as plain dicts."""
    if isinstance(value, dict):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        result = dump()
        if isinstance(result, dict):
            return result
    return dict(value)
