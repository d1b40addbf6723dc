"""The Anthropic Messages provider.

Owns the translation between the agent's ``Message`` records and the Messages wire format (the system
prompt as ``system``; assistant text and ``tool_use`` blocks; tool results as ``tool_result`` blocks,
consecutive ones grouped into one user message; a compaction summary as user text; the alternation of
roles the API insists on), and the reassembly of a streamed reply from its events: ``text_delta`` pieces
are passed on as they arrive, ``input_json_delta`` pieces are joined per block and parsed when the block
stops (arguments that are not a JSON object become ``arguments={}`` with ``raw_arguments`` kept).

Retries and error wording live in ``retry.py``; an ``error`` event inside the stream (an overload, say)
counts as the HTTP error it names. This module never logs the key.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic

from letta_ls.agent.messages import Message, ToolCall, new_id
from letta_ls.agent.providers.base import (
    Done,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
)
from letta_ls.agent.providers.openai_provider import pair_tool_results, parse_arguments
from letta_ls.agent.providers.retry import (
    looks_like_overflow,
    server_message,
    status_error,
)
from letta_ls.agent.providers.sdk import SdkProvider

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
STOP_REASONS = {"tool_use": "tool_calls", "max_tokens": "max_tokens", "model_context_window_exceeded": "max_tokens"}
# The status an error event inside a 200 stream stands for.
ERROR_EVENT_STATUS = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429,
                      "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                      "not_found_error": 404, "request_too_large": 413, "timeout_error": 504}
_TOOL_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _tool_id(call_id: str | None) -> str:
    """A tool-use id Anthropic accepts (``[A-Za-z0-9_-]+``), stable for the same input."""
    return _TOOL_ID_UNSAFE.sub("_", call_id or "") or "toolu_missing"


def _text(content: str, placeholder: str) -> str:
    return content if content.strip() else placeholder  # the API refuses blank text blocks


def to_anthropic_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The Messages ``messages`` for a history: roles alternate and tool results follow their calls."""
    wire: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})

    for message in pair_tool_results(messages):
        if message.role == "tool" and message.kind != "summary":
            add("user", [{"type": "tool_result", "tool_use_id": _tool_id(message.tool_call_id),
                          "content": _text(message.content, "(no output)")}])
        elif message.role == "assistant" and message.kind != "summary":
            blocks: list[dict[str, Any]] = []
            if message.content.strip():
                blocks.append({"type": "text", "text": message.content})
            blocks += [{"type": "tool_use", "id": _tool_id(call.id), "name": call.name, "input": call.arguments}
                       for call in message.tool_calls]
            if blocks:
                add("assistant", blocks)
        else:  # user messages, summaries and stray system notes are all the user's side
            add("user", [{"type": "text", "text": _text(message.content, "(empty message)")}])
    if wire and wire[0]["role"] != "user":
        wire.insert(0, {"role": "user", "content": [{"type": "text", "text": "(The conversation continues.)"}]})
    return wire


def to_anthropic_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": tool.name, "description": tool.description,
             "input_schema": tool.parameters or {"type": "object", "properties": {}}} for tool in tools]


@dataclass
class _PartialCall:
    id: str
    name: str
    start_input: dict[str, Any]
    pieces: list[str] = field(default_factory=list)

    def finish(self) -> ToolCall:
        if self.pieces:
            arguments, raw = parse_arguments("".join(self.pieces))
        else:  # some proxies send the whole input in content_block_start
            arguments, raw = dict(self.start_input), ""
        return ToolCall(id=self.id or new_id("toolu"), name=self.name, arguments=arguments, raw_arguments=raw)


class AnthropicProvider(SdkProvider):
    """Streams Anthropic Messages with tools."""

    name = "anthropic"

    default_base_url = ANTHROPIC_BASE_URL
    default_context_window = 200_000
    default_key_env = "ANTHROPIC_API_KEY"

    def _service_name(self) -> str:
        return "Anthropic" if self.official else f"the Anthropic-compatible server at {self.base_url}"

    def _new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(api_key=self._api_key, base_url=self.base_url, max_retries=0,
                                        timeout=self.timeout)

    def _arguments(self, request: ModelRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {"model": self.model, "max_tokens": request.max_output_tokens,
                                     "messages": to_anthropic_messages(request.messages), "stream": True}
        if request.system:
            # Marked cacheable: the compiled memory prompt repeats on every turn of a conversation.
            arguments["system"] = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
        if request.tools:
            arguments["tools"] = to_anthropic_tools(request.tools)
        return arguments

    async def _attempt(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        stream = await self._sdk().messages.create(**self._arguments(request))
        calls: dict[int, _PartialCall] = {}
        emitted = 0
        stop_reason: str | None = None
        input_tokens: int | None = None
        output_tokens: int | None = None
        complete = False
        try:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    usage = event.message.usage
                    input_tokens = sum(getattr(usage, name, None) or 0 for name in (
                        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
                    output_tokens = getattr(usage, "output_tokens", None)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        calls[event.index] = _PartialCall(block.id, block.name, dict(block.input or {}))
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in calls:
                        calls[event.index].pieces.append(delta.partial_json or "")
                elif kind == "content_block_stop":
                    if event.index in calls:
                        emitted += 1
                        yield ToolCallEvent(calls.pop(event.index).finish())
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None and event.usage.output_tokens is not None:
                        output_tokens = event.usage.output_tokens
                elif kind == "message_stop":
                    complete = True
        finally:
            await stream.close()
        if not complete:
            raise self._incomplete()
        for key in sorted(calls):  # blocks the server never closed, at the end of a truncated reply
            emitted += 1
            yield ToolCallEvent(calls[key].finish())
        stop = STOP_REASONS.get(stop_reason or "", "end")
        if emitted and stop == "end":
            stop = "tool_calls"
        yield Done(stop, input_tokens, output_tokens)

    def _translate(self, exc: BaseException) -> ProviderError:
        if isinstance(exc, anthropic.APIStatusError):
            message = server_message(exc.body, exc.message)
            status = exc.status_code
            if status < 400:  # an error event inside a 200 stream
                kind = exc.body.get("error", {}).get("type") if isinstance(exc.body, dict) else None
                status = ERROR_EVENT_STATUS.get(str(kind), 500)
            overflow = status in (400, 413) and looks_like_overflow(message)
            return status_error(self.service, status, message, headers=exc.response.headers, key_env=self.api_key_env,
                                model=self.model, overflow=overflow, api_key=self._api_key)
        transport = self._translate_transport(exc, anthropic.APITimeoutError, anthropic.APIConnectionError)
        return transport or self._translate_other(exc)
