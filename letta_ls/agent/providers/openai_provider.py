"""The OpenAI Chat Completions provider, for OpenAI itself and any OpenAI-compatible server.

Owns the translation between the agent's ``Message`` records and the Chat Completions wire format
(assistant ``tool_calls``, ``role: "tool"`` results linked by ``tool_call_id``, a compaction summary
sent as a user message), and the reassembly of a streamed reply: text deltas are passed on as they
arrive, tool-call deltas are joined by index and parsed once the reply is complete (arguments that are
not a JSON object become ``arguments={}`` with ``raw_arguments`` kept, so the agent can tell the model).

Works through ``base_url`` with Ollama, LM Studio, vLLM and llama.cpp's server: it asks for usage with
``stream_options`` and drops the option for good if a server refuses it, sends ``max_tokens`` to
servers other than OpenAI's (which gets ``max_completion_tokens``, as does a server that asks for it),
and tolerates tool-call deltas without an index or id. Retries and error wording live in ``retry.py``;
this module never logs the key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

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
from letta_ls.agent.providers.retry import (
    TransientError,
    is_timeout,
    is_transport_error,
    looks_like_overflow,
    redact,
    sentence,
    server_message,
    status_error,
)
from letta_ls.agent.providers.sdk import SdkProvider

OPENAI_BASE_URL = "https://api.openai.com/v1"
INTERRUPTED_RESULT = "(no result: the call was interrupted before it finished)"


def pair_tool_results(messages: Sequence[Message]) -> list[Message]:
    """The history with every tool call answered right after it, as both APIs require.

    A call left without a result (a turn cancelled mid-tool) gets a stand-in result; a result whose
    call is gone (cut away by compaction) becomes a user note, so the request is never refused for it.
    """
    paired: list[Message] = []
    pending: dict[str, ToolCall] = {}

    def close_pending() -> None:
        for call in pending.values():
            paired.append(Message(role="tool", content=INTERRUPTED_RESULT, tool_call_id=call.id, name=call.name))
        pending.clear()

    for message in messages:
        if message.role == "tool":
            if message.tool_call_id is not None and message.tool_call_id in pending:
                pending.pop(message.tool_call_id)
                paired.append(message)
            else:
                paired.append(Message(role="user", content=f"[Result of an earlier {message.name or 'tool'} call]\n"
                                                           f"{message.content}"))
            continue
        close_pending()
        paired.append(message)
        if message.role == "assistant":
            pending = {call.id: call for call in message.tool_calls}
    close_pending()
    return paired


def parse_arguments(raw: str) -> tuple[dict[str, Any], str]:
    """``(arguments, raw_arguments)``: the parsed object, or ``{}`` and the raw text when it is not one."""
    if not raw.strip():
        return {}, ""
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, raw
    return (value, "") if isinstance(value, dict) else ({}, raw)


def to_openai_messages(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The Chat Completions ``messages`` for a system prompt and a history."""
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in pair_tool_results(messages):
        if message.kind == "summary" or message.role == "user":
            wire.append({"role": "user", "content": message.content})
        elif message.role == "tool":
            wire.append({"role": "tool", "tool_call_id": message.tool_call_id,
                         "content": message.content or "(no output)"})
        elif message.role == "assistant":
            if not message.content and not message.tool_calls:
                continue
            entry: dict[str, Any] = {"role": "assistant", "content": message.content or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
                    for call in message.tool_calls
                ]
            wire.append(entry)
        else:
            wire.append({"role": "system", "content": message.content})
    return wire


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": tool.name, "description": tool.description,
                                              "parameters": tool.parameters or {"type": "object", "properties": {}}}}
            for tool in tools]


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def finish(self) -> ToolCall:
        arguments, raw = parse_arguments("".join(self.arguments))
        return ToolCall(id=self.id or new_id("call"), name=self.name, arguments=arguments, raw_arguments=raw)


class OpenAIProvider(SdkProvider):
    """Streams Chat Completions with tools from OpenAI or an OpenAI-compatible server."""

    name = "openai"

    default_base_url = OPENAI_BASE_URL
    default_context_window = 128_000
    default_key_env = "OPENAI_API_KEY"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        self._stream_options = True
        # OpenAI's newer models refuse max_tokens; most compatible servers only know it.
        self._max_tokens_key = "max_completion_tokens" if self.official else "max_tokens"

    def _service_name(self) -> str:
        return "OpenAI" if self.official else f"the model server at {self.base_url}"

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def _arguments(self, request: ModelRequest) -> dict[str, Any]:
        # The history goes in ``extra_body``: it is already plain JSON, and the SDK's own recursive
        # transform of a long ``messages`` list costs ~45 ms on the event loop per request.
        body: dict[str, Any] = {"messages": to_openai_messages(request.system, request.messages)}
        if request.tools:
            body["tools"] = to_openai_tools(request.tools)
        arguments: dict[str, Any] = {"model": self.model, "messages": [], "stream": True, "extra_body": body}
        arguments[self._max_tokens_key] = request.max_output_tokens
        if self._stream_options:
            arguments["stream_options"] = {"include_usage": True}
        return arguments

    async def _open(self, request: ModelRequest) -> Any:
        while True:
            arguments = self._arguments(request)
            try:
                return await self._sdk().chat.completions.create(**arguments)
            except openai.BadRequestError as exc:
                if not self._adapt(str(exc), arguments):
                    raise

    def _adapt(self, refusal: str, arguments: dict[str, Any]) -> bool:
        """Learn from a server refusing a parameter (each change happens once); whether to ask again."""
        if "stream_options" in arguments and "stream_options" in refusal:
            self._stream_options = False  # an older compatible server: ask without usage
            return True
        if "max_tokens" in arguments and "max_completion_tokens" in refusal:
            self._max_tokens_key = "max_completion_tokens"  # a reasoning model behind a compatible endpoint
            return True
        return False

    async def _attempt(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        stream = await self._open(request)
        calls: dict[int, _PartialCall] = {}
        finish: str | None = None
        usage: Any = None
        try:
            async for chunk in stream:
                if getattr(chunk, "usage", None):
                    usage = chunk.usage
                for choice in chunk.choices or []:
                    if choice.index not in (0, None):
                        continue
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            yield TextDelta(delta.content)
                        for piece in delta.tool_calls or []:
                            self._merge(calls, piece)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except Exception as exc:
            # After the finish reason only the usage chunk can be lost: the reply itself is whole.
            if finish is None or not (is_transport_error(exc) or is_timeout(exc)
                                      or isinstance(exc, openai.APIConnectionError)):
                raise
        finally:
            await stream.close()
        if finish is None:
            raise self._incomplete()
        finished = [calls[key].finish() for key in sorted(calls)]
        for call in finished:
            yield ToolCallEvent(call)
        stop = "tool_calls" if finished else "max_tokens" if finish == "length" else "end"
        yield Done(stop, getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))

    @staticmethod
    def _merge(calls: dict[int, _PartialCall], piece: Any) -> None:
        index = piece.index
        if index is None:  # some servers omit the index: match by id, else it is a new call
            index = next((key for key, call in calls.items() if piece.id and call.id == piece.id), len(calls))
        call = calls.setdefault(index, _PartialCall())
        if piece.id and not call.id:
            call.id = piece.id
        function = piece.function
        if function is None:
            return
        if function.name and function.name != call.name:
            call.name = call.name + function.name if call.name else function.name
        if function.arguments:
            arguments = function.arguments
            call.arguments.append(arguments if isinstance(arguments, str) else json.dumps(arguments))

    def _translate(self, exc: BaseException) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            message = server_message(exc.body, exc.message)
            code = getattr(exc, "code", None)
            overflow = exc.status_code in (400, 413, 422) and looks_like_overflow(message, code)
            return status_error(self.service, exc.status_code, message, headers=exc.response.headers,
                                key_env=self.api_key_env, model=self.model, overflow=overflow, api_key=self._api_key)
        transport = self._translate_transport(exc, openai.APITimeoutError, openai.APIConnectionError)
        if transport is not None:
            return transport
        if isinstance(exc, openai.APIError):  # an error event inside the stream
            message = redact(server_message(exc.body, exc.message), self._api_key)
            if looks_like_overflow(message, getattr(exc, "code", None)):
                return status_error(self.service, 400, message, key_env=self.api_key_env, model=self.model,
                                    overflow=True, api_key=self._api_key)
            return TransientError(sentence(f"{self.service} reported an error mid-stream: {message}."))
        return self._translate_other(exc)
