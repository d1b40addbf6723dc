"""A fake OpenAI Chat Completions server that plays a ``Script``, faithful enough for the official SDK.

``POST /v1/chat/completions`` streams SSE chunks the way OpenAI does (a role chunk, content deltas,
tool-call deltas whose JSON arguments are split across chunks, a finish chunk, a usage chunk when
``stream_options.include_usage`` asks for it, then ``data: [DONE]``) or answers with one JSON
completion when ``stream`` is false. Errors use OpenAI's ``{"error": {message, type, code}}`` body.
``GET /v1/models`` lists the one model so clients that probe it are satisfied. Set
``accepts_stream_options=False`` to behave like an older OpenAI-compatible server that rejects
``stream_options``, and ``accepts_max_tokens=False`` like a reasoning model that wants
``max_completion_tokens``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import RecordedRequest, Reply, Script, ScriptedError, ScriptedHandler, split_evenly

OVERFLOW_MESSAGE = ("This model's maximum context length is 128000 tokens. However, your messages resulted in "
                    "131072 tokens. Please reduce the length of the messages.")
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 429: "rate_limit_error"}
FINISH_REASONS = {"end": "stop", "max_tokens": "length"}


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class FakeOpenAIServer(ScriptedModelServer):
    """The fake OpenAI API; ``base_url`` ends in ``/v1`` as the ``openai`` SDK expects."""

    url_suffix = "/v1"
    server_error_type = "server_error"
    malformed_chunks = ('data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oops\n\n',
                        "data: this is not json at all\n\n")

    def __init__(self, script: Script | None = None, *, accepts_stream_options: bool = True,
                 accepts_max_tokens: bool = True, model: str = "fake-gpt") -> None:
        super().__init__(script)
        self.accepts_stream_options = accepts_stream_options
        self.accepts_max_tokens = accepts_max_tokens
        self.model = model

    def route(self, handler: ScriptedHandler, request: RecordedRequest) -> None:
        if request.method == "GET" and request.path == "/v1/models":
            handler.send_json(200, {"object": "list", "data": [{"id": self.model, "object": "model",
                                                                "created": 0, "owned_by": "fake"}]})
        elif request.method == "POST" and request.path == "/v1/chat/completions":
            self._complete(handler, request)
        else:
            handler.send_json(404, error_body(f"Unknown path {request.method} {request.path}", "invalid_request_error"))

    def _complete(self, handler: ScriptedHandler, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        if not self.accepts_stream_options and "stream_options" in body:
            handler.send_json(400, error_body("Unrecognized request argument supplied: stream_options",
                                              "invalid_request_error", param="stream_options"))
            return
        if not self.accepts_max_tokens and "max_tokens" in body:
            handler.send_json(400, error_body("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                              "Use 'max_completion_tokens' instead.", "invalid_request_error",
                                              "unsupported_parameter", "max_tokens"))
            return
        self.play(handler, request)

    def error_body(self, message: str, type: str) -> dict[str, Any]:
        return error_body(message, type)

    def send_overflow(self, handler: ScriptedHandler) -> None:
        handler.send_json(400, error_body(OVERFLOW_MESSAGE, "invalid_request_error", "context_length_exceeded",
                                          "messages"))

    def error_event(self, error: ScriptedError) -> str:
        # as OpenAI sends when a stream fails server-side
        kind = error.type or ERROR_TYPES.get(error.status, "server_error")
        return f"data: {json.dumps(error_body(error.message, kind, error.code))}\n\n"

    def send_error(self, handler: ScriptedHandler, error: ScriptedError) -> None:
        kind = error.type or ERROR_TYPES.get(error.status, "server_error")
        handler.send_json(error.status, error_body(error.message, kind, error.code), headers=self.error_headers(error))

    def _usage(self, request: RecordedRequest, reply: Reply) -> dict[str, int]:
        prompt, completion = self.token_counts(request, reply)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        return [(call.id or f"call_{secrets.token_hex(12)}", call.name, call.arguments_json)
                for call in reply.tool_calls]

    def _finish_reason(self, reply: Reply) -> str:
        return "tool_calls" if reply.tool_calls else FINISH_REASONS[reply.stop]

    def send_whole(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        if reply.failure == "malformed":
            data = b'{"id": "chatcmpl-broken", "choices": [{"message": '
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.write_raw(data)
            return
        if reply.failure == "cut":
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", "1000")
            handler.end_headers()
            handler.write_raw(b'{"id": "chatcmpl-cut", ')
            handler.drop_connection()
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                                     for cid, name, args in self._calls(reply)]
        handler.send_json(200, {
            "id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": request.model or self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish_reason(reply),
                         "logprobs": None}],
            "usage": self._usage(request, reply)})

    def send_stream(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        base = {"id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request.model or self.model}

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            payload = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                                            "logprobs": None}]}
            return f"data: {json.dumps(payload)}\n\n"

        handler.start_stream()
        handler.send_chunk(chunk({"role": "assistant", "content": ""}))
        handler.send_pieces(self._stream_pieces(reply, chunk), reply.delay)
        if self.end_in_failure(handler, reply):
            return
        if reply.delay:
            handler.pause(reply.delay)
        handler.send_chunk(chunk({}, self._finish_reason(reply)))
        options = request.body.get("stream_options") or {}
        if options.get("include_usage"):
            handler.send_chunk(f"data: {json.dumps({**base, 'choices': [], 'usage': self._usage(request, reply)})}\n\n")
        handler.send_chunk("data: [DONE]\n\n")
        handler.end_stream()

    def _stream_pieces(self, reply: Reply, chunk: Any) -> Iterator[tuple[str, bool]]:
        for piece in reply.text_pieces():
            yield chunk({"content": piece}), True
        if reply.error is not None or reply.failure is not None:
            return
        for index, (cid, name, args) in enumerate(self._calls(reply)):
            yield chunk({"tool_calls": [{"index": index, "id": cid, "type": "function",
                                         "function": {"name": name, "arguments": ""}}]}), False
            for piece in split_evenly(args, reply.argument_pieces):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}), True


@contextlib.contextmanager
def scripted_openai(script: Script | None = None, *, accepts_stream_options: bool = True,
                    accepts_max_tokens: bool = True) -> Iterator[FakeOpenAIServer]:
    """Run a fake OpenAI server for the block: ``with scripted_openai(Script().text("Hi")) as server: ...``."""
    server = FakeOpenAIServer(script, accepts_stream_options=accepts_stream_options,
                              accepts_max_tokens=accepts_max_tokens)
    with server:
        yield server
