"""What both SDK providers (OpenAI, Anthropic) must do, run once per wire against its scripted fake server."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from letta_ls.agent.messages import ToolCall
from letta_ls.agent.providers.base import (
    ContextOverflowError,
    Done,
    ProviderAuthError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
)
from tests.agent.sdk_providers import WIRES, Wire, ask, calls, collect, collect_until_error, texts
from tests.fakes import Script

pytestmark = [pytest.mark.parametrize("wire", WIRES), pytest.mark.usefixtures("close_providers")]


async def test_streamed_text_arrives_in_pieces_and_ends_with_usage(wire: Wire) -> None:
    with wire.serve(Script().text("Hello big world", usage=(321, 9))) as server:
        events = await collect(wire.make(server))
    assert texts(events) == ["Hello ", "big ", "world"]
    assert events[-1] == Done("end", input_tokens=321, output_tokens=9)


async def test_a_tool_call_split_across_pieces_is_reassembled(wire: Wire) -> None:
    arguments = {"command": "create", "file_path": "reference/api.md", "description": "The API, briefly.",
                 "file_text": "# API\n\n- `GET /x` → {\"a\": [1, 2]}\n", "reason": "a \"quoted\" ünïcode ✓"}
    with wire.serve(Script().tool_call("memory", arguments, id="call_01abc")) as server:
        events = await collect(wire.make(server))
    assert calls(events) == [ToolCall("call_01abc", "memory", arguments)]
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "tool_calls"


async def test_text_then_several_tool_calls_in_one_reply(wire: Wire) -> None:
    script = Script().tool_calls(("grep", {"pattern": "TODO"}), ("read_file", {"path": "a.py", "limit": 20}),
                                 text="Let me look.")
    with wire.serve(script) as server:
        events = await collect(wire.make(server))
    assert "".join(texts(events)) == "Let me look."
    assert [(c.name, c.arguments) for c in calls(events)] == [("grep", {"pattern": "TODO"}),
                                                             ("read_file", {"path": "a.py", "limit": 20})]
    assert len({c.id for c in calls(events)}) == 2
    assert isinstance(events[0], TextDelta) and isinstance(events[-1], Done)


async def test_rate_limit_is_retried_honouring_retry_after(wire: Wire) -> None:
    with wire.serve(Script().error(429, "Rate limit reached", retry_after=0.3).text("ok")) as server:
        started = time.monotonic()
        events = await collect(wire.make(server))
        elapsed = time.monotonic() - started
    assert texts(events) == ["ok"] and len(server.model_requests) == 2
    assert 0.3 <= elapsed < 2


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_and_overload_are_retried(wire: Wire, status: int) -> None:
    with wire.serve(Script().error(status, "try later").error(status, "still busy").text("ok")) as server:
        assert texts(await collect(wire.make(server))) == ["ok"]
    assert len(server.model_requests) == 3


@pytest.mark.parametrize("status", [500, 529])
async def test_an_error_event_inside_the_stream_before_any_text_is_retried(wire: Wire, status: int) -> None:
    with wire.serve(Script().error(status, "Overloaded", mid_stream=True).text("ok")) as server:
        assert texts(await collect(wire.make(server))) == ["ok"]
    assert len(server.model_requests) == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_key_names_the_variable_and_never_shows_the_key(wire: Wire, status: int,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    message = f"Incorrect API key provided: {wire.key}. You can find your API key in the console."
    with wire.serve(Script().error(status, message).text("never")) as server:
        _, default_env = await collect_until_error(wire.make(server))
    with wire.serve(Script().error(status, message)) as server:
        _, custom_env = await collect_until_error(wire.make(server, api_key_env="PROXY_API_KEY"))
    assert isinstance(default_env, ProviderAuthError) and isinstance(custom_env, ProviderAuthError)
    assert wire.key_env in str(default_env) and "PROXY_API_KEY" in str(custom_env)
    for text in (str(default_env), str(custom_env), caplog.text, repr(wire.make(server))):
        assert wire.key not in text and wire.key[-8:] not in text


async def test_a_prompt_too_long_is_a_context_overflow_not_retried(wire: Wire) -> None:
    with wire.serve(Script().context_overflow().text("never")) as server:
        _, error = await collect_until_error(wire.make(server))
    assert isinstance(error, ContextOverflowError)
    assert len(server.model_requests) == 1


async def test_arguments_that_are_not_json_are_kept_raw_for_the_agent(wire: Wire) -> None:
    with wire.serve(Script().tool_call("memory", '{"command": "view", "file_pa')) as server:
        [event, done] = await collect(wire.make(server))
    assert isinstance(event, ToolCallEvent)
    assert (event.call.arguments, event.call.raw_arguments) == ({}, '{"command": "view", "file_pa')
    assert isinstance(done, Done) and done.stop_reason == "tool_calls"


async def test_truncated_reply_stops_with_max_tokens(wire: Wire) -> None:
    with wire.serve(Script().text("It was a dark and", stop="max_tokens")) as server:
        events = await collect(wire.make(server))
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "max_tokens"


async def test_malformed_stream_after_text_is_cut_off_without_duplicating_text(wire: Wire) -> None:
    with wire.serve(Script().malformed(after_text="Hello there").text("never")) as server:
        events, error = await collect_until_error(wire.make(server))
    assert "".join(texts(events)) == "Hello there"
    assert "cut off" in str(error) and "malformed" in str(error)
    assert len(server.model_requests) == 1


async def test_stream_that_stalls_after_the_first_piece_times_out(wire: Wire) -> None:
    with wire.serve(Script().slow("Hello big world", delay=5)) as server:
        started = time.monotonic()
        events, error = await collect_until_error(wire.make(server, timeout=0.2))
    assert texts(events) == ["Hello "]
    assert "cut off" in str(error) and "0.2 s" in str(error)
    assert time.monotonic() - started < 2
    assert len(server.model_requests) == 1


async def test_server_slow_to_answer_is_retried(wire: Wire) -> None:
    with wire.serve(Script().text("late", first_delay=5).text("on time")) as server:
        events = await collect(wire.make(server, timeout=0.2))
    assert "".join(texts(events)) == "on time"


async def test_cancelling_mid_stream_closes_the_connection_and_leaks_nothing(wire: Wire) -> None:
    # A client an earlier test left to the garbage collector closes itself from ``__del__`` by scheduling
    # ``aclose()`` on the running loop, where it fails (its own loop is gone): let those run and be collected
    # before listening, so that only what this test's provider leaves behind is counted.
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: loop_errors.append(context))
    with wire.serve(Script().slow("one two three four", delay=5)) as server:
        provider = wire.make(server)
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
