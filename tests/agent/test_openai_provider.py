"""The OpenAI provider through the real ``openai`` SDK against the scripted fake server."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import openai
import pytest

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.base import (
    Done,
    ModelRequest,
    ProviderError,
)
from letta_ls.agent.providers.openai_provider import INTERRUPTED_RESULT
from letta_ls.agent.providers.retry import RetryPolicy, parse_retry_after
from tests.agent.sdk_providers import MEMORY_TOOL, OPENAI, ask, collect, collect_until_error, texts
from tests.fakes import RecordedRequest, Script, scripted_openai

pytestmark = pytest.mark.usefixtures("close_providers")


# -- streaming ------------------------------------------------------------------------------------------

async def test_servers_that_refuse_stream_options_still_work() -> None:
    with scripted_openai(Script().text("one").text("two"), accepts_stream_options=False) as server:
        provider = OPENAI.make(server)
        first = await collect(provider)
        second = await collect(provider)
    assert texts(first) == ["one"] and texts(second) == ["two"]
    assert first[-1] == Done("end", None, None)
    assert ["stream_options" in r.body for r in server.model_requests] == [True, False, False]


async def test_servers_that_want_max_completion_tokens_get_it() -> None:
    with scripted_openai(Script().text("one").text("two"), accepts_max_tokens=False) as server:
        provider = OPENAI.make(server)
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
        await collect(OPENAI.make(server), ModelRequest("SYSTEM PROMPT", history, [MEMORY_TOOL], 1234))
    sent = server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") == f"Bearer {OPENAI.key}"
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
        await collect(OPENAI.make(server), ModelRequest("", history))
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
        events = await collect(OPENAI.make(server), ask("ping"))
    assert "".join(texts(events)) == "you said ping"
    assert seen == server.model_requests


# -- retries ----------------------------------------------------------------------------------------------

async def test_a_long_retry_after_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.001, max_delay=0.05, jitter=0.0)
    with scripted_openai(Script().error(429, retry_after=3600).text("ok")) as server:
        started = time.monotonic()
        assert texts(await collect(OPENAI.make(server, retry=policy))) == ["ok"]
    assert time.monotonic() - started < 2


async def test_gives_up_after_max_retries_with_the_last_error() -> None:
    script = Script().error(503, "down").error(503, "down").error(503, "still down").text("never")
    with scripted_openai(script) as server:
        _, error = await collect_until_error(OPENAI.make(server, max_retries=2))
    assert "503" in str(error) and "still down" in str(error) and "3 attempts" in str(error)
    assert len(server.model_requests) == 3 and server.script.remaining == 1


async def test_client_errors_are_not_retried_and_say_what_the_server_said() -> None:
    with scripted_openai(Script().error(400, "Invalid schema for function 'memory'").text("never")) as server:
        _, error = await collect_until_error(OPENAI.make(server))
    assert type(error) is ProviderError
    assert "400" in str(error) and "Invalid schema for function 'memory'" in str(error)
    assert len(server.model_requests) == 1


async def test_unknown_model_points_at_the_settings() -> None:
    with scripted_openai(Script().error(404, "The model `gpt-test` does not exist")) as server:
        _, error = await collect_until_error(OPENAI.make(server))
    assert "model.name" in str(error) and "does not exist" in str(error)


async def test_exhausted_script_fails_at_once_with_a_clear_message() -> None:
    with scripted_openai(Script()) as server:
        _, error = await collect_until_error(OPENAI.make(server))
    assert "script exhausted" in str(error)
    assert len(server.model_requests) == 1


async def test_unreachable_server_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OPENAI.make(SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1"), max_retries=1, timeout=2.0)
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    assert "connection" in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)
    assert "2 attempts" in str(caught.value)


# -- broken and slow streams --------------------------------------------------------------------------------

async def test_connection_dropped_mid_reply_is_cut_off_without_retrying() -> None:
    with scripted_openai(Script().cut_off(after_text="Half a sent").text("never")) as server:
        events, error = await collect_until_error(OPENAI.make(server))
    assert "".join(texts(events)) == "Half a sent"
    assert "cut off" in str(error)
    assert len(server.model_requests) == 1 and server.script.remaining == 1


async def test_a_drop_before_anything_arrived_is_retried_but_garbage_is_not() -> None:
    with scripted_openai(Script().cut_off().malformed().text("recovered")) as server:
        with pytest.raises(ProviderError, match="malformed"):
            await collect(OPENAI.make(server))
        assert texts(await collect(OPENAI.make(server))) == ["recovered"]


# -- the fake itself, for tests that use the SDK directly -------------------------------------------------------

async def test_fake_answers_non_streaming_requests_too() -> None:
    with scripted_openai(Script().text("plain").tool_call("grep", {"pattern": "x"}, id="call_9")) as server:
        client = openai.AsyncOpenAI(api_key=OPENAI.key, base_url=server.base_url, max_retries=0)
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
        await collect(OPENAI.make(running))


async def test_repeat_last_keeps_answering() -> None:
    with scripted_openai(Script().text("first").text("again").repeat_last()) as server:
        provider = OPENAI.make(server)
        replies = ["".join(texts(await collect(provider))) for _ in range(4)]
    assert replies == ["first", "again", "again", "again"]


def test_retry_after_is_read_in_every_form() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
