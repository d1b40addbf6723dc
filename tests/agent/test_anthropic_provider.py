"""The Anthropic provider through the real ``anthropic`` SDK against the scripted fake server."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.base import (
    ModelRequest,
    ProviderError,
)
from letta_ls.agent.providers.openai_provider import INTERRUPTED_RESULT
from tests.agent.sdk_providers import ANTHROPIC, MEMORY_TOOL, collect, collect_until_error, texts
from tests.fakes import Script, scripted_anthropic

pytestmark = pytest.mark.usefixtures("close_providers")


# -- streaming ------------------------------------------------------------------------------------------

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
        await collect(ANTHROPIC.make(server), ModelRequest("SYSTEM PROMPT", history, [MEMORY_TOOL], 777))
    sent = server.last_request
    assert sent.path == "/v1/messages"
    assert ANTHROPIC.key in (sent.header("x-api-key") or sent.header("authorization") or "")  # SDK versions differ
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
        await collect(ANTHROPIC.make(server), ModelRequest("", history))
    sent = server.last_request
    assert "system" not in sent.body and "tools" not in sent.body
    assert [m["role"] for m in sent.messages] == ["user", "assistant", "user"]  # starts with the user
    tool_use = sent.messages[1]["content"][1]
    assert tool_use["id"] == "call_1_x"  # only [A-Za-z0-9_-] is accepted
    assert sent.messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1_x", "content": INTERRUPTED_RESULT},
        {"type": "text", "text": "(empty message)"}]


# -- retries and errors ------------------------------------------------------------------------------------

async def test_overload_event_after_text_cuts_the_reply_off() -> None:
    with scripted_anthropic(Script().error(529, "Overloaded", mid_stream=True, after_text="Partial answer")
                            .text("never")) as server:
        events, error = await collect_until_error(ANTHROPIC.make(server))
    assert "".join(texts(events)) == "Partial answer"
    assert "cut off" in str(error) and "overloaded" in str(error)
    assert len(server.model_requests) == 1


async def test_invalid_request_is_reported_not_retried() -> None:
    with scripted_anthropic(Script().error(400, "messages.1.content.0: tool_use ids must be unique")) as server:
        _, error = await collect_until_error(ANTHROPIC.make(server))
    assert type(error) is ProviderError and "tool_use ids must be unique" in str(error)
    assert len(server.model_requests) == 1


# -- broken and slow streams --------------------------------------------------------------------------------

async def test_connection_dropped_mid_reply_is_cut_off_and_before_any_text_is_retried() -> None:
    with scripted_anthropic(Script().cut_off().cut_off(after_text="Half a").text("never")) as server:
        events, error = await collect_until_error(ANTHROPIC.make(server))
    assert "".join(texts(events)) == "Half a"
    assert "cut off" in str(error)
    assert len(server.model_requests) == 2 and server.script.remaining == 1


# -- the fake itself, for tests that use the SDK directly -------------------------------------------------------

async def test_fake_answers_non_streaming_requests_too() -> None:
    with scripted_anthropic(Script().text("plain").tool_call("grep", {"pattern": "x"}, id="toolu_9")) as server:
        client = anthropic.AsyncAnthropic(api_key=ANTHROPIC.key, base_url=server.base_url, max_retries=0)
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
