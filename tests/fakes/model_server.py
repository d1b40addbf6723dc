"""What the fake OpenAI and Anthropic servers share: playing a script's next reply.

A subclass says how its API shapes each answer (an error body, an overflow refusal, a whole reply, a
stream); the order of the checks (an exhausted script, a slow first byte, an overflow, an error before
the body, streamed or whole) is the same for both, so it is written once here.
"""

from __future__ import annotations

import abc
import json
from typing import Any

from tests.fakes.script import FakeServer, RecordedRequest, Reply, ScriptedError, ScriptedHandler, estimate_tokens


class ScriptedModelServer(FakeServer, abc.ABC):
    """A fake model API that answers each model request with the script's next reply."""

    server_error_type = "api_error"  # the error type of a 500 in this API's bodies
    malformed_chunks: tuple[str, ...] = ()  # a broken event, then one that is not JSON at all

    def play(self, handler: ScriptedHandler, request: RecordedRequest) -> None:
        reply = self.script.next_reply(request)
        if reply is None:
            handler.send_json(500, self.error_body(f"fake server: script exhausted after {self.script.served} replies "
                                                   f"(request #{len(self.model_requests)})", self.server_error_type),
                              headers={"x-should-retry": "false"})
            return
        if reply.first_delay:
            handler.pause(reply.first_delay)
        if reply.overflow:
            self.send_overflow(handler)
        elif reply.error is not None and not reply.error.mid_stream:
            self.send_error(handler, reply.error)
        elif request.stream:
            self.send_stream(handler, request, reply)
        else:
            self.send_whole(handler, request, reply)

    @staticmethod
    def token_counts(request: RecordedRequest, reply: Reply) -> tuple[int, int]:
        """(input, output) tokens: the script's, or an estimate from the request and the reply."""
        if reply.usage is not None:
            return reply.usage
        return (estimate_tokens(json.dumps(request.body)),
                estimate_tokens(reply.text + "".join(c.arguments_json for c in reply.tool_calls)))

    @staticmethod
    def error_headers(error: ScriptedError) -> dict[str, str]:
        headers = {}
        if error.retry_after is not None:
            headers["retry-after"] = f"{error.retry_after:g}"
        if error.should_retry is not None:
            headers["x-should-retry"] = "true" if error.should_retry else "false"
        return headers

    def end_in_failure(self, handler: ScriptedHandler, reply: Reply) -> bool:
        """After the streamed pieces, the scripted ways a stream goes wrong; True when it ended so."""
        if reply.failure == "malformed":
            for chunk in self.malformed_chunks:
                handler.send_chunk(chunk)
            handler.end_stream()
            return True
        if reply.failure == "cut":
            handler.drop_connection()
            return True
        if reply.error is not None:
            handler.send_chunk(self.error_event(reply.error))
            handler.end_stream()
            return True
        return False

    @abc.abstractmethod
    def error_event(self, error: ScriptedError) -> str:
        """An error inside a stream that has begun, as this API sends it."""

    @abc.abstractmethod
    def error_body(self, message: str, type: str) -> dict[str, Any]:
        """This API's error body."""

    @abc.abstractmethod
    def send_overflow(self, handler: ScriptedHandler) -> None:
        """Refuse the request as too long for the model's context, as this API does."""

    @abc.abstractmethod
    def send_error(self, handler: ScriptedHandler, error: ScriptedError) -> None:
        """An HTTP error before any body."""

    @abc.abstractmethod
    def send_stream(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        """The reply as this API streams it."""

    @abc.abstractmethod
    def send_whole(self, handler: ScriptedHandler, request: RecordedRequest, reply: Reply) -> None:
        """The reply as one JSON answer (``stream`` false)."""
