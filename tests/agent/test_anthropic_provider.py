"""The Anthropic provider through the real ``anthropic`` SDK against the scripted fake server."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.anthropic_provider import AnthropicProvider
from letta_ls.agent.providers.base import (
    ContextOverflowError,
    Done,
    ModelRequest,
    ProviderAuthError,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
)
from letta_ls.agent.providers.openai_provider import INTERRUPTED_RESULT
from letta_ls.agent.providers.retry import RetryPolicy
from tests.fakes import Script, scripted_anthropic
from tests.fakes.anthropic_server import FakeAnthropicServer

KEY = "sk-ant-test-0123456789abcdefghij"
FAST = RetryPolicy(base_delay=0.001, max_delay=1.0, jitter=0.0)
MEMORY_TOOL = ToolSpec("memory", "Edit memory files.", {"type": "object", "properties": {"command": {"type": "string"}},
                                                       "required": ["command"]})
OPENED: list[AnthropicProvider] = []


@pytest.fixture(autouse=True)
async def close_providers() -> AsyncIterator[None]:
    """Close every provider a test made, in its own loop, so no SDK client is left to the garbage collector."""
    yield
    while OPENED:
        await OPENED.pop().aclose()


def make_provider(server: FakeAnthropicServer, **options: Any) -> AnthropicProvider:
    options.setdefault("retry", FAST)
    options.setdefault("timeout", 5.0)
    provider = AnthropicProvider("claude-test", api_key=KEY, base_url=server.base_url, **options)
    OPENED.append(provider)
    return provider


def ask(text: str = "Hi") -> ModelRequest:
    return ModelRequest(system="You are a careful coding agent.", messages=[Message("user", text)], tools=[MEMORY_TOOL])


async def collect(provider: AnthropicProvider, request: ModelRequest | None = None) -> list[StreamEvent]:
    return [event async for event in provider.stream(request or ask())]


async def collect_until_error(provider: AnthropicProvider) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(ask()):
            events.append(event)
    return events, caught.value


def texts(events: list[StreamEvent]) -> list[str]:
    return [event.text for event in events if isinstance(event, TextDelta)]


def calls(events: list[StreamEvent]) -> list[ToolCall]:
    return [event.call for event in events if isinstance(event, ToolCallEvent)]


# -- streaming ------------------------------------------------------------------------------------------

async def test_streamed_text_arrives_in_pieces_and_ends_with_usage() -> None:
    with scripted_anthropic(Script().text("Hello big world", usage=(321, 9))) as server:
        events = await collect(make_provider(server))
    assert texts(events) == ["Hello ", "big ", "world"]
    assert events[-1] == Done("end", input_tokens=321, output_tokens=9)


async def test_tool_use_split_into_input_json_deltas_is_reassembled() -> None:
    arguments = {"command": "create", "file_path": "reference/api.md", "description": "The API, briefly.",
                 "file_text": "# API\n\n- `GET /x` → {\"a\": [1, 2]}\n", "reason": "remember the API"}
    with scripted_anthropic(Script().tool_call("memory", arguments, id="toolu_01abc")) as server:
        events = await collect(make_provider(server))
    assert calls(events) == [ToolCall("toolu_01abc", "memory", arguments)]
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "tool_calls"


async def test_text_then_several_tool_uses_in_one_reply() -> None:
    script = Script().tool_calls(("grep", {"pattern": "TODO"}), ("list_files", {}), text="Looking around.")
    with scripted_anthropic(script) as server:
        events = await collect(make_provider(server))
    assert "".join(texts(events)) == "Looking around."
    assert [(c.name, c.arguments) for c in calls(events)] == [("grep", {"pattern": "TODO"}), ("list_files", {})]
    assert isinstance(events[0], TextDelta) and isinstance(events[-1], Done)


async def test_input_that_is_not_json_is_kept_raw_for_the_agent() -> None:
    with scripted_anthropic(Script().tool_call("memory", '{"command": "vi')) as server:
        [event, done] = await collect(make_provider(server))
    assert isinstance(event, ToolCallEvent)
    assert (event.call.arguments, event.call.raw_arguments) == ({}, '{"command": "vi')
    assert isinstance(done, Done)


async def test_truncated_reply_stops_with_max_tokens() -> None:
    with scripted_anthropic(Script().text("Once upon", stop="max_tokens")) as server:
        events = await collect(make_provider(server))
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "max_tokens"


# -- what the server receives -----------------------------------------------------------------------------

async def test_request_carries_system_tools_and_grouped_tool_results() -> None:
    history = [
        Message("user", "Earlier: we fixed the parser.", kind="summary"),
        Message("user", "Look at both files."),
        Message("assistant", "Reading.", tool_calls=[ToolCall("toolu_1", "read_file", {"path": "a.py"}),
                                                      ToolCall("toolu_2", "read_file", {"path": "b.py"})]),
        Message("tool", "contents of a", tool_call_id="toolu_1", name="read_file"),
        Message("tool", "contents of b", tool_call_id="toolu_2", name="read_file"),
        Message("user", "And?"),
    ]
    with scripted_anthropic(Script().text("Both look fine.")) as server:
        await collect(make_provider(server), ModelRequest("SYSTEM PROMPT", history, [MEMORY_TOOL], 777))
    sent = server.last_request
    assert sent.path == "/v1/messages"
    assert KEY in (sent.header("x-api-key") or sent.header("authorization") or "")  # SDK versions differ
    assert sent.header("anthropic-version")
    assert sent.body["model"] == "claude-test" and sent.body["max_tokens"] == 777 and sent.stream
    assert sent.body["system"] == [{"type": "text", "text": "SYSTEM PROMPT", "cache_control": {"type": "ephemeral"}}]
    assert sent.system == "SYSTEM PROMPT"
    assert sent.tools == [{"name": "memory", "description": "Edit memory files.",
                           "input_schema": MEMORY_TOOL.parameters}]
    assert sent.messages == [
        {"role": "user", "content": [{"type": "text", "text": "Earlier: we fixed the parser."},
                                     {"type": "text", "text": "Look at both files."}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.py"}},
            {"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {"path": "b.py"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents of a"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "contents of b"},
            {"type": "text", "text": "And?"}]},
    ]


async def test_history_is_made_acceptable_to_the_api() -> None:
    history = [
        Message("assistant", "I was saying", tool_calls=[ToolCall("call:1/x", "grep", {"pattern": "y"})]),
        Message("user", "   "),
    ]
    with scripted_anthropic(Script().text("ok")) as server:
        await collect(make_provider(server), ModelRequest("", history))
    sent = server.last_request
    assert "system" not in sent.body and "tools" not in sent.body
    assert [m["role"] for m in sent.messages] == ["user", "assistant", "user"]  # starts with the user
    tool_use = sent.messages[1]["content"][1]
    assert tool_use["id"] == "call_1_x"  # only [A-Za-z0-9_-] is accepted
    assert sent.messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1_x", "content": INTERRUPTED_RESULT},
        {"type": "text", "text": "(empty message)"}]


# -- retries and errors ------------------------------------------------------------------------------------

async def test_rate_limit_is_retried_honouring_retry_after() -> None:
    with scripted_anthropic(Script().error(429, "Number of request tokens has exceeded your limit",
                                           retry_after=0.3).text("ok")) as server:
        started = time.monotonic()
        events = await collect(make_provider(server))
        elapsed = time.monotonic() - started
    assert texts(events) == ["ok"] and len(server.model_requests) == 2
    assert 0.3 <= elapsed < 2


@pytest.mark.parametrize("status", [500, 529])
async def test_server_errors_and_overload_are_retried(status: int) -> None:
    with scripted_anthropic(Script().error(status, "Overloaded").text("ok")) as server:
        assert texts(await collect(make_provider(server))) == ["ok"]
    assert len(server.model_requests) == 2


async def test_overload_event_inside_the_stream_is_retried_before_any_text() -> None:
    with scripted_anthropic(Script().error(529, "Overloaded", mid_stream=True).text("ok")) as server:
        assert texts(await collect(make_provider(server))) == ["ok"]


async def test_overload_event_after_text_cuts_the_reply_off() -> None:
    with scripted_anthropic(Script().error(529, "Overloaded", mid_stream=True, after_text="Partial answer")
                            .text("never")) as server:
        events, error = await collect_until_error(make_provider(server))
    assert "".join(texts(events)) == "Partial answer"
    assert "cut off" in str(error) and "overloaded" in str(error)
    assert len(server.model_requests) == 1


async def test_refused_key_names_the_variable_and_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with scripted_anthropic(Script().error(401, f"invalid x-api-key {KEY}").text("never")) as server:
        _, error = await collect_until_error(make_provider(server))
    with scripted_anthropic(Script().error(401, "invalid x-api-key")) as server:
        _, custom = await collect_until_error(make_provider(server, api_key_env="CLAUDE_PROXY_KEY"))
    assert isinstance(error, ProviderAuthError) and "ANTHROPIC_API_KEY" in str(error)
    assert "CLAUDE_PROXY_KEY" in str(custom)
    for text in (str(error), caplog.text, repr(make_provider(server))):
        assert KEY not in text and KEY[-8:] not in text


async def test_prompt_too_long_is_a_context_overflow() -> None:
    with scripted_anthropic(Script().context_overflow().text("never")) as server:
        _, error = await collect_until_error(make_provider(server))
    assert isinstance(error, ContextOverflowError) and "prompt is too long" in str(error)
    assert len(server.model_requests) == 1


async def test_invalid_request_is_reported_not_retried() -> None:
    with scripted_anthropic(Script().error(400, "messages.1.content.0: tool_use ids must be unique")) as server:
        _, error = await collect_until_error(make_provider(server))
    assert type(error) is ProviderError and "tool_use ids must be unique" in str(error)
    assert len(server.model_requests) == 1


# -- broken and slow streams --------------------------------------------------------------------------------

async def test_malformed_stream_after_text_is_cut_off_without_duplicating_text() -> None:
    with scripted_anthropic(Script().malformed(after_text="Hello there").text("never")) as server:
        events, error = await collect_until_error(make_provider(server))
    assert "".join(texts(events)) == "Hello there"
    assert "cut off" in str(error) and "malformed" in str(error)
    assert len(server.model_requests) == 1


async def test_connection_dropped_mid_reply_is_cut_off_and_before_any_text_is_retried() -> None:
    with scripted_anthropic(Script().cut_off().cut_off(after_text="Half a").text("never")) as server:
        events, error = await collect_until_error(make_provider(server))
    assert "".join(texts(events)) == "Half a"
    assert "cut off" in str(error)
    assert len(server.model_requests) == 2 and server.script.remaining == 1


async def test_stream_that_stalls_after_the_first_piece_times_out() -> None:
    with scripted_anthropic(Script().slow("Hello big world", delay=5)) as server:
        started = time.monotonic()
        events, error = await collect_until_error(make_provider(server, timeout=0.2))
    assert texts(events) == ["Hello "]
    assert "cut off" in str(error) and "0.2 s" in str(error)
    assert time.monotonic() - started < 2


async def test_server_slow_to_answer_is_retried() -> None:
    with scripted_anthropic(Script().text("late", first_delay=5).text("on time")) as server:
        events = await collect(make_provider(server, timeout=0.2))
    assert "".join(texts(events)) == "on time"


async def test_cancelling_mid_stream_closes_the_connection_and_leaks_nothing() -> None:
    gc.collect()
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: loop_errors.append(context))
    with scripted_anthropic(Script().slow("one two three four", delay=5)) as server:
        provider = make_provider(server)
        received: list[StreamEvent] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in provider.stream(ask()):
                received.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert server.last_request.disconnected.wait(2)
        await provider.aclose()
    gc.collect()
    await asyncio.sleep(0)
    assert texts(received) == ["one "]
    assert loop_errors == []


# -- the fake itself, for tests that use the SDK directly -------------------------------------------------------

async def test_fake_answers_non_streaming_requests_too() -> None:
    with scripted_anthropic(Script().text("plain").tool_call("grep", {"pattern": "x"}, id="toolu_9")) as server:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
        request: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        first = await client.messages.create(**request)
        second = await client.messages.create(**request)
        await client.close()
    assert [block.type for block in first.content] == ["text"] and first.stop_reason == "end_turn"
    [tool_use] = second.content
    assert tool_use.type == "tool_use" and (tool_use.id, tool_use.name, tool_use.input) == ("toolu_9", "grep",
                                                                                           {"pattern": "x"})
    assert second.stop_reason == "tool_use"
    assert json.loads(json.dumps(server.last_request.body))["messages"][0]["content"] == "hi"
