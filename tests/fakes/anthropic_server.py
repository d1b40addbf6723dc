"""A fake Anthropic Messages server that plays a ``Script``, faithful enough for the official SDK.

``POST /v1/messages`` streams the real event sequence (``message_start``, ``content_block_start`` /
``content_block_delta`` / ``content_block_stop`` for text and for ``tool_use`` blocks whose
``input_json_delta`` pieces split the arguments, a ``ping``, ``message_delta`` with the stop reason and
usage, ``message_stop``) or answers with one JSON message when ``stream`` is false. Errors use
Anthropic's ``{"type": "error", "error": {type, message}}`` body, and a mid-stream failure is an
``event: error`` as the real API sends for overloads. ``base_url`` has no ``/v1``: the SDK adds it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from typing import Any

from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import RecordedRequest, Reply, Script, ScriptedError, ScriptedHandler, split_evenly

OVERFLOW_MESSAGE = "prompt is too long: 210000 tokens > 200000 maximum"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
STOP_REASONS = {"end": "end_turn", "max_tokens": "max_tokens"}


def error_body(message: str, type: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type, "message": message},
            "request_id": f"req_{secrets.token_hex(8)}"}


def _event(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n"


class FakeAnthropicServer(ScriptedModelServer):
    """The fake Anthropic API; ``base_url`` is the origin (the ``anthropic`` SDK appends ``/v1/messages``)."""

    malformed_chunks = ('event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "del\n\n',
                        "event: content_block_delta\ndata: this is not json at all\n\n")

    def __init__(self, script: Script | None = None, *, model: str = "fake-claude") -> None:
        super().__init__(script)
        self.model = model

    def route(self, handler: ScriptedHandler, request: RecordedRequest) -> None:
        if request.method == "POST" and request.path == "/v1/messages":
            self.play(handler, request)
        else:
            handler.send_json(404, error_body(f"Unknown path {request.method} {request.path}", "not_found_error"))

    def error_body(self, message: str, type: str) -> dict[str, Any]:
        return error_body(message, type)

    def send_overflow(self, handler: ScriptedHandler) -> None:
        handler.send_json(400, error_body(OVERFLOW_MESSAGE, "invalid_request_error"))

    def error_event(self, error: ScriptedError) -> str:
        # Anthropic reports overloads that happen mid-stream as an error event
        return _event("error", error_body(error.message, error.type or ERROR_TYPES.get(error.status, "api_error")))

    def send_error(self, handler: ScriptedHandler, error: ScriptedError) -> None:
        headers = {"request-id": f"req_{secrets.token_hex(8)}", **self.error_headers(error)}
        kind = error.type or ERROR_TYPES.get(error.status, "api_error")
        handler.send_json(error.status, error_body(error.message, kind), headers=headers)

    def _calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        return [(call.id or f"toolu_{secrets.token_hex(12)}", call.name, call.arguments_json)
                for call in reply.tool_calls]

    def _stop_reason(self, reply: Reply) -> str:
        return "tool_use" if reply.tool_calls else STOP_REASONS[reply.stop]

    def _message(self, request: RecordedRequest, content: list[dict[str, Any]], stop_reason: str | None,
                 usage: tuple[int, int]) -> dict[str, Any]:
        return {"id": f"msg_{secrets.token_hex(12)}", "type": "message", "role": "assistant",
                "model": request.model or self.model, "content": content, "stop_reason": stop_reason,
                "stop_sequence": None, "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}

    def send_whole(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        if reply.failure is not None:
            data = b'{"id": "msg_broken", "content": [{"type": "text", '
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data) if reply.failure == "malformed" else 1000))
            handler.end_headers()
            handler.write_raw(data)
            if reply.failure == "cut":
                handler.drop_connection()
            return
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        for cid, name, args in self._calls(reply):
            try:
                arguments = json.loads(args)
            except ValueError:
                arguments = {}
            content.append({"type": "tool_use", "id": cid, "name": name, "input": arguments})
        usage = self.token_counts(request, reply)
        handler.send_json(200, self._message(request, content, self._stop_reason(reply), usage))

    def send_stream(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        input_tokens, output_tokens = self.token_counts(request, reply)
        handler.start_stream()
        handler.send_chunk(_event("message_start", {"type": "message_start", "message": self._message(
            request, [], None, (input_tokens, 1))}))
        handler.send_pieces(self._stream_pieces(reply), reply.delay)
        if self.end_in_failure(handler, reply):
            return
        if reply.delay:
            handler.pause(reply.delay)
        handler.send_chunk(_event("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": output_tokens}}))
        handler.send_chunk(_event("message_stop", {"type": "message_stop"}))
        handler.end_stream()

    def _stream_pieces(self, reply: Reply) -> Iterator[tuple[str, bool]]:
        index = 0
        pieces = reply.text_pieces()
        if pieces:
            yield _event("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}}), False
            yield _event("ping", {"type": "ping"}), False
            for piece in pieces:
                yield _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "text_delta", "text": piece}}), True
            if reply.error is not None or reply.failure is not None:
                return
            yield _event("content_block_stop", {"type": "content_block_stop", "index": 0}), False
            index = 1
        if reply.error is not None or reply.failure is not None:
            return
        for offset, (cid, name, args) in enumerate(self._calls(reply)):
            block = index + offset
            yield _event("content_block_start", {"type": "content_block_start", "index": block,
                                                 "content_block": {"type": "tool_use", "id": cid, "name": name,
                                                                   "input": {}}}), False
            for piece in ["", *split_evenly(args, reply.argument_pieces)]:
                delta = {"type": "input_json_delta", "partial_json": piece}
                yield _event("content_block_delta", {"type": "content_block_delta", "index": block,
                                                     "delta": delta}), bool(piece)
            yield _event("content_block_stop", {"type": "content_block_stop", "index": block}), False


@contextlib.contextmanager
def scripted_anthropic(script: Script | None = None) -> Iterator[FakeAnthropicServer]:
    """Run a fake Anthropic server for the block: ``with scripted_anthropic(Script().text("Hi")) as server: ...``."""
    server = FakeAnthropicServer(script)
    with server:
        yield server
