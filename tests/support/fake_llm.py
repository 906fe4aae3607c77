"""A small OpenAI-compatible server on loopback, for the playground's tests: LiteLLM calls
it over real HTTP as it would call Ollama or vLLM.

``GET /v1/models``; ``POST /v1/chat/completions``, plain or streamed (SSE, with a usage
chunk when ``stream_options.include_usage``). The model name picks the behaviour:

- ``fake-error``: 400 with an OpenAI-style error body (the provider's message);
- ``fake-slow``: waits ``slow_seconds`` before answering (timeouts);
- ``fake-reasoner``: also returns ``reasoning_content``;
- ``fake-drip``: streams one word every ``drip_seconds`` (a reader that leaves mid-way);
- any other: the reply is ``"<model> says: <last user message>"``; with
  ``response_format`` json_object, ``{"echo": ...}``; with a json_schema, an object with
  each required property of the schema set.

Usage is 3 prompt tokens per message and 2 completion tokens per word of the reply.
Every request body (and its Authorization header) is kept in ``requests``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ("gpt-4o-mini", "fake-small", "fake-reasoner", "fake-error", "fake-slow", "fake-drip")
ERROR_MESSAGE = "The fake provider refuses this prompt (quota exceeded)"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout under test) leaves a broken pipe: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeLLM:
    def __init__(self, slow_seconds: float = 5.0, drip_seconds: float = 0.5) -> None:
        self.slow_seconds = slow_seconds
        self.drip_seconds = drip_seconds
        self.requests: list[dict[str, Any]] = []
        self.model_lists = 0  # GET /v1/models answered
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reply_text(body: dict[str, Any]) -> str:
    model = body.get("model", "?")
    last = next(
        (m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
        "",
    )
    text = f"{model} says: {last}"
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        return json.dumps({"echo": text})
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"]["schema"]
        return json.dumps({name: "x" for name in schema.get("required", [])})
    return text


def usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = 3 * len(body.get("messages", []))
    completion = 2 * len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/v1/models":
                return self._json(404, {"error": {"message": "no such path"}})
            fake.model_lists += 1
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in MODELS]
            self._json(200, {"object": "list", "data": data})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({**body, "_authorization": self.headers.get("Authorization")})
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._json(404, {"error": {"message": "no such path"}})
            model = body.get("model", "")
            if model == "fake-error":
                error = {"message": ERROR_MESSAGE, "type": "invalid_request_error", "code": "quota"}
                return self._json(400, {"error": error})
            if model == "fake-slow":
                time.sleep(fake.slow_seconds)
            text = reply_text(body)
            if body.get("stream"):
                return self._stream(body, text)
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if model == "fake-reasoner":
                message["reasoning_content"] = "Let me think about it."
            self._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage(body, text),
            })  # fmt: skip

        def _stream(self, body: dict[str, Any], text: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            model = body.get("model", "")
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": model}  # fmt: skip

            def send(choices: list[dict[str, Any]], **extra: Any) -> None:
                chunk = {**base, "choices": choices, **extra}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
            if model == "fake-reasoner":
                send([{"index": 0, "delta": {"reasoning_content": "Let me think about it."}}])
            words = text.split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                send([{"index": 0, "delta": {"content": piece}}])
                if model == "fake-drip":
                    time.sleep(fake.drip_seconds)
            send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
            if (body.get("stream_options") or {}).get("include_usage"):
                send([], usage=usage(body, text))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
