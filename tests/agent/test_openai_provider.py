"""The OpenAI provider through the real ``openai`` SDK against the scripted fake server."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import openai
import pytest

from letta_ls.agent.messages import Message, ToolCall
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
from letta_ls.agent.providers.openai_provider import INTERRUPTED_RESULT, OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy, parse_retry_after
from tests.fakes import RecordedRequest, Script, scripted_openai
from tests.fakes.openai_server import FakeOpenAIServer

KEY = "sk-test-0123456789abcdefghij"
FAST = RetryPolicy(base_delay=0.001, max_delay=1.0, jitter=0.0)
MEMORY_TOOL = ToolSpec("memory", "Edit memory files.", {"type": "object", "properties": {"command": {"type": "string"}},
                                                       "required": ["command"]})


OPENED: list[OpenAIProvider] = []


@pytest.fixture(autouse=True)
async def close_providers() -> AsyncIterator[None]:
    """Close every provider a test made, in its own loop, so no SDK client is left to the garbage collector."""
    yield
    while OPENED:
        await OPENED.pop().aclose()


def make_provider(server: FakeOpenAIServer, **options: Any) -> OpenAIProvider:
    options.setdefault("retry", FAST)
    options.setdefault("timeout", 5.0)
    provider = OpenAIProvider("gpt-test", api_key=KEY, base_url=server.base_url, **options)
    OPENED.append(provider)
    return provider


def ask(text: str = "Hi", tools: list[ToolSpec] | None = None) -> ModelRequest:
    return ModelRequest(system="You are a careful coding agent.", messages=[Message("user", text)],
                        tools=tools if tools is not None else [MEMORY_TOOL])


async def collect(provider: OpenAIProvider, request: ModelRequest | None = None) -> list[StreamEvent]:
    return [event async for event in provider.stream(request or ask())]


async def collect_until_error(provider: OpenAIProvider) -> tuple[list[StreamEvent], ProviderError]:
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
    with scripted_openai(Script().text("Hello big world", usage=(120, 7))) as server:
        events = await collect(make_provider(server))
    assert texts(events) == ["Hello ", "big ", "world"]
    assert events[-1] == Done("end", input_tokens=120, output_tokens=7)


async def test_tool_call_split_across_chunks_is_reassembled() -> None:
    arguments = {"command": "str_replace", "file_path": "system/human.md", "old_string": "a \"quoted\" line",
                 "new_string": "ünïcode ✓", "reason": "fix"}
    with scripted_openai(Script().tool_call("memory", arguments, id="call_abc")) as server:
        events = await collect(make_provider(server))
    assert calls(events) == [ToolCall("call_abc", "memory", arguments)]
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "tool_calls"


async def test_text_then_several_tool_calls_in_one_reply() -> None:
    script = Script().tool_calls(("grep", {"pattern": "TODO"}), ("read_file", {"path": "a.py", "limit": 20}),
                                 text="Let me look.")
    with scripted_openai(script) as server:
        events = await collect(make_provider(server))
    assert "".join(texts(events)) == "Let me look."
    assert [(c.name, c.arguments) for c in calls(events)] == [("grep", {"pattern": "TODO"}),
                                                             ("read_file", {"path": "a.py", "limit": 20})]
    assert len({c.id for c in calls(events)}) == 2
    assert isinstance(events[0], TextDelta) and isinstance(events[-1], Done)


async def test_arguments_that_are_not_json_are_kept_raw_for_the_agent() -> None:
    with scripted_openai(Script().tool_call("memory", '{"command": "view", "file_pa')) as server:
        [event, done] = await collect(make_provider(server))
    assert isinstance(event, ToolCallEvent)
    assert event.call.arguments == {}
    assert event.call.raw_arguments == '{"command": "view", "file_pa'
    assert isinstance(done, Done) and done.stop_reason == "tool_calls"


async def test_truncated_reply_stops_with_max_tokens() -> None:
    with scripted_openai(Script().text("It was a dark and", stop="max_tokens")) as server:
        events = await collect(make_provider(server))
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "max_tokens"


async def test_servers_that_refuse_stream_options_still_work() -> None:
    with scripted_openai(Script().text("one").text("two"), accepts_stream_options=False) as server:
        provider = make_provider(server)
        first = await collect(provider)
        second = await collect(provider)
    assert texts(first) == ["one"] and texts(second) == ["two"]
    assert first[-1] == Done("end", None, None)
    assert ["stream_options" in r.body for r in server.model_requests] == [True, False, False]


async def test_servers_that_want_max_completion_tokens_get_it() -> None:
    with scripted_openai(Script().text("one").text("two"), accepts_max_tokens=False) as server:
        provider = make_provider(server)
        assert texts(await collect(provider)) == ["one"]
        assert texts(await collect(provider)) == ["two"]
    sent = [("max_tokens" in r.body, r.body.get("max_completion_tokens")) for r in server.model_requests]
    assert sent == [(True, None), (False, 4096), (False, 4096)]


# -- what the server receives -----------------------------------------------------------------------------

async def test_request_carries_system_prompt_tools_and_history_in_wire_format() -> None:
    call = ToolCall("call_1", "memory", {"command": "view", "file_path": "system"})
    history = [
        Message("user", "Summary of the earlier conversation: we fixed the parser.", kind="summary"),
        Message("user", "What do you remember?"),
        Message("assistant", "Let me check.", tool_calls=[call]),
        Message("tool", "system/persona.md: Who I am.", tool_call_id="call_1", name="memory"),
        Message("assistant", "I remember the parser fix."),
        Message("user", "Thanks"),
    ]
    with scripted_openai(Script().text("You're welcome")) as server:
        await collect(make_provider(server), ModelRequest("SYSTEM PROMPT", history, [MEMORY_TOOL], 1234))
    sent = server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-test" and sent.stream
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_tokens"] == 1234  # a compatible server: not api.openai.com
    assert sent.system == "SYSTEM PROMPT"
    assert sent.tools == [{"type": "function", "function": {"name": "memory", "description": "Edit memory files.",
                                                            "parameters": MEMORY_TOOL.parameters}}]
    assert sent.messages == [
        {"role": "system", "content": "SYSTEM PROMPT"},
        {"role": "user", "content": "Summary of the earlier conversation: we fixed the parser."},
        {"role": "user", "content": "What do you remember?"},
        {"role": "assistant", "content": "Let me check.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "memory", "arguments": json.dumps(call.arguments)}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "system/persona.md: Who I am."},
        {"role": "assistant", "content": "I remember the parser fix."},
        {"role": "user", "content": "Thanks"},
    ]


async def test_unanswered_calls_get_a_stand_in_and_orphan_results_become_notes() -> None:
    history = [
        Message("tool", "old result", tool_call_id="gone", name="grep"),
        Message("user", "Go"),
        Message("assistant", "", tool_calls=[ToolCall("c1", "grep", {"pattern": "x"}), ToolCall("c2", "grep", {})]),
        Message("tool", "found x", tool_call_id="c1", name="grep"),
        Message("user", "Stop, do something else"),
    ]
    with scripted_openai(Script().text("ok")) as server:
        await collect(make_provider(server), ModelRequest("", history))
    messages = server.last_request.messages
    assert messages[0] == {"role": "user", "content": "[Result of an earlier grep call]\nold result"}
    assert messages[2]["content"] is None and [c["id"] for c in messages[2]["tool_calls"]] == ["c1", "c2"]
    assert messages[3:5] == [{"role": "tool", "tool_call_id": "c1", "content": "found x"},
                             {"role": "tool", "tool_call_id": "c2", "content": INTERRUPTED_RESULT}]
    assert messages[5] == {"role": "user", "content": "Stop, do something else"}
    assert "tools" not in server.last_request.body


async def test_hooks_see_each_request_and_respond_can_depend_on_it() -> None:
    seen: list[RecordedRequest] = []
    script = (Script().on_request(seen.append)
              .respond(lambda request: Script().text(f"you said {request.messages[-1]['content']}")))
    with scripted_openai(script) as server:
        events = await collect(make_provider(server), ask("ping"))
    assert "".join(texts(events)) == "you said ping"
    assert seen == server.model_requests


# -- retries ----------------------------------------------------------------------------------------------

async def test_rate_limit_is_retried_honouring_retry_after() -> None:
    with scripted_openai(Script().error(429, "Rate limit reached", retry_after=0.3).text("ok")) as server:
        started = time.monotonic()
        events = await collect(make_provider(server))
        elapsed = time.monotonic() - started
    assert texts(events) == ["ok"]
    assert len(server.model_requests) == 2
    assert 0.3 <= elapsed < 2


async def test_a_long_retry_after_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.001, max_delay=0.05, jitter=0.0)
    with scripted_openai(Script().error(429, retry_after=3600).text("ok")) as server:
        started = time.monotonic()
        assert texts(await collect(make_provider(server, retry=policy))) == ["ok"]
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_and_overload_are_retried(status: int) -> None:
    with scripted_openai(Script().error(status, "try later").error(status, "still busy").text("ok")) as server:
        assert texts(await collect(make_provider(server))) == ["ok"]
    assert len(server.model_requests) == 3


async def test_an_error_event_before_any_text_is_retried() -> None:
    with scripted_openai(Script().error(500, "stream failed", mid_stream=True).text("ok")) as server:
        assert texts(await collect(make_provider(server))) == ["ok"]


async def test_gives_up_after_max_retries_with_the_last_error() -> None:
    script = Script().error(503, "down").error(503, "down").error(503, "still down").text("never")
    with scripted_openai(script) as server:
        _, error = await collect_until_error(make_provider(server, max_retries=2))
    assert "503" in str(error) and "still down" in str(error) and "3 attempts" in str(error)
    assert len(server.model_requests) == 3 and server.script.remaining == 1


async def test_client_errors_are_not_retried_and_say_what_the_server_said() -> None:
    with scripted_openai(Script().error(400, "Invalid schema for function 'memory'").text("never")) as server:
        _, error = await collect_until_error(make_provider(server))
    assert type(error) is ProviderError
    assert "400" in str(error) and "Invalid schema for function 'memory'" in str(error)
    assert len(server.model_requests) == 1


async def test_unknown_model_points_at_the_settings() -> None:
    with scripted_openai(Script().error(404, "The model `gpt-test` does not exist")) as server:
        _, error = await collect_until_error(make_provider(server))
    assert "model.name" in str(error) and "does not exist" in str(error)


async def test_context_overflow_is_its_own_error() -> None:
    with scripted_openai(Script().context_overflow().text("never")) as server:
        _, error = await collect_until_error(make_provider(server))
    assert isinstance(error, ContextOverflowError)
    assert "context" in str(error) and len(server.model_requests) == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_key_names_the_variable_and_never_shows_the_key(status: int,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    message = f"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com."
    with scripted_openai(Script().error(status, message).text("never")) as server:
        _, default_env = await collect_until_error(make_provider(server))
    with scripted_openai(Script().error(status, message)) as server:
        _, custom_env = await collect_until_error(make_provider(server, api_key_env="GROQ_API_KEY"))
    assert isinstance(default_env, ProviderAuthError) and isinstance(custom_env, ProviderAuthError)
    assert "OPENAI_API_KEY" in str(default_env) and "GROQ_API_KEY" in str(custom_env)
    for text in (str(default_env), str(custom_env), caplog.text, repr(make_provider(server))):
        assert KEY not in text and KEY[-8:] not in text


async def test_exhausted_script_fails_at_once_with_a_clear_message() -> None:
    with scripted_openai(Script()) as server:
        _, error = await collect_until_error(make_provider(server))
    assert "script exhausted" in str(error)
    assert len(server.model_requests) == 1


async def test_unreachable_server_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIProvider("gpt-test", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", retry=FAST,
                              max_retries=1, timeout=2.0)
    OPENED.append(provider)
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    assert "connection" in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)
    assert "2 attempts" in str(caught.value)


# -- broken and slow streams --------------------------------------------------------------------------------

async def test_malformed_stream_after_text_is_cut_off_without_duplicating_text() -> None:
    with scripted_openai(Script().malformed(after_text="Hello there").text("never")) as server:
        events, error = await collect_until_error(make_provider(server))
    assert "".join(texts(events)) == "Hello there"
    assert "cut off" in str(error) and "malformed" in str(error)
    assert len(server.model_requests) == 1


async def test_connection_dropped_mid_reply_is_cut_off_without_retrying() -> None:
    with scripted_openai(Script().cut_off(after_text="Half a sent").text("never")) as server:
        events, error = await collect_until_error(make_provider(server))
    assert "".join(texts(events)) == "Half a sent"
    assert "cut off" in str(error)
    assert len(server.model_requests) == 1 and server.script.remaining == 1


async def test_a_drop_before_anything_arrived_is_retried_but_garbage_is_not() -> None:
    with scripted_openai(Script().cut_off().malformed().text("recovered")) as server:
        with pytest.raises(ProviderError, match="malformed"):
            await collect(make_provider(server))
        assert texts(await collect(make_provider(server))) == ["recovered"]


async def test_stream_that_stalls_after_the_first_piece_times_out() -> None:
    with scripted_openai(Script().slow("Hello big world", delay=5)) as server:
        started = time.monotonic()
        events, error = await collect_until_error(make_provider(server, timeout=0.2))
    assert texts(events) == ["Hello "]
    assert "cut off" in str(error) and "0.2 s" in str(error)
    assert time.monotonic() - started < 2
    assert len(server.model_requests) == 1


async def test_server_slow_to_answer_is_retried() -> None:
    with scripted_openai(Script().text("late", first_delay=5).text("on time")) as server:
        events = await collect(make_provider(server, timeout=0.2))
    assert "".join(texts(events)) == "on time"


async def test_cancelling_mid_stream_closes_the_connection_and_leaks_nothing() -> None:
    gc.collect()
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: loop_errors.append(context))
    with scripted_openai(Script().slow("one two three four", delay=5)) as server:
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
    with scripted_openai(Script().text("plain").tool_call("grep", {"pattern": "x"}, id="call_9")) as server:
        client = openai.AsyncOpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
        first = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        second = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        await client.close()
    assert first.choices[0].message.content == "plain" and first.usage is not None
    [call] = second.choices[0].message.tool_calls or []
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_9", "grep", {"pattern": "x"})
    assert second.choices[0].finish_reason == "tool_calls"


async def test_a_failing_hook_fails_the_test_when_the_server_stops() -> None:
    def reject(request: RecordedRequest) -> None:
        raise AssertionError("the agent sent the wrong thing")

    server = scripted_openai(Script().on_request(reject).text("never"))
    with pytest.raises(AssertionError, match="wrong thing"), server as running, pytest.raises(ProviderError):
        await collect(make_provider(running))


async def test_repeat_last_keeps_answering() -> None:
    with scripted_openai(Script().text("first").text("again").repeat_last()) as server:
        provider = make_provider(server)
        replies = ["".join(texts(await collect(provider))) for _ in range(4)]
    assert replies == ["first", "again", "again", "again"]


def test_retry_after_is_read_in_every_form() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
