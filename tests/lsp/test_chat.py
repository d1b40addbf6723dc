"""A chat turn over LSP end to end: streamed events, a memory commit, memoryChanged, and the next prompt."""

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.fakes import Script, scripted_openai


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def configure_model(client, model: dict) -> None:
    """Send model settings and wait until the server has applied them (its letta/status names the model):
    a chat sent earlier would run on whatever model was chosen before, such as the embedded one."""
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": model}}))
    expected = model.get("name") or model.get("provider")
    await client.recorder.wait_for("letta/status", lambda status: status.model == expected, timeout=60)


async def use_model(client, base_url: str) -> None:
    await configure_model(client, {"provider": "openai", "name": "gpt-test", "baseUrl": base_url,
                                   "apiKeyEnv": "LETTA_TEST_KEY"})


@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


async def test_chat_turn_creates_memory_and_the_next_turn_sees_it(client, model, monkeypatch):
    model.script.tool_call("memory", {"command": "create", "file_path": "system/stack.md",
                                      "description": "The project's stack", "file_text": "Backend in Go.",
                                      "reason": "learned the stack"})
    model.script.text("Got it: ").text("Noted.")
    await use_model(client, model.base_url)
    result = await run(client, "letta.chat", {"message": "Our backend is Go."})
    assert result["reply"] == "Got it:" and result["conversationId"] == "default"
    events = client.recorder.events["letta/chatEvent"]
    kinds = [e.kind for e in events]
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]  # text streams in pieces
    assert collapsed == ["tool_call", "tool_result", "memory_edit", "text", "done"]
    assert "".join(e.text for e in events if e.kind == "text") == "Got it: "
    edit = events[2]
    assert edit.uri == f"letta-memory://{client.agent.id}/system/stack.md" and edit.reason == "learned the stack"
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: "stack.md" in str(p.uris))
    assert changed.head == edit.commit
    repo = client.home.memory_repo(client.agent)
    assert repo.history(limit=1)[0].message == "learned the stack"
    await run(client, "letta.chat", {"message": "What is our backend?"})
    assert "Backend in Go." in model.model_requests[-1].system
    transcript = await client.workspace_text_document_content_async(types.TextDocumentContentParams(
        uri=f"letta-conversation://{client.agent.id}/default.md"))
    assert "Our backend is Go." in transcript.text and "What is our backend?" in transcript.text


async def test_conversations_are_separate(client, model):
    model.script.text("one").text("two")
    await use_model(client, model.base_url)
    new = await run(client, "letta.newConversation", {})
    assert new["conversationId"].startswith("conv-")
    await run(client, "letta.chat", {"message": "in the new one", "conversationId": new["conversationId"]})
    await run(client, "letta.chat", {"message": "in default", "conversationId": "default"})
    listed = await run(client, "letta.listConversations")
    by_id = {c["conversationId"]: c for c in listed}
    assert by_id[new["conversationId"]]["messages"] == 2 and by_id["default"]["messages"] == 2
    assert [m["content"] for m in model.model_requests[-1].messages if m["role"] == "user"] == ["in default"]
    with pytest.raises(JsonRpcException, match="no conversation"):
        await run(client, "letta.chat", {"message": "x", "conversationId": "conv-nope"})


async def test_chat_can_be_cancelled_with_cancel_request(client, model):
    model.script.slow("word " * 200, delay=0.05).text("after")
    await use_model(client, model.base_url)
    msg_id = "chat-to-cancel"
    future = asyncio.wrap_future(client.protocol.send_request(
        types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(command="letta.chat", arguments=[{"message": "talk"}]), msg_id=msg_id))
    await client.recorder.wait_for("letta/chatEvent", lambda e: e.kind == "text")
    client.protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as err:
        await asyncio.wait_for(future, 10)
    assert err.value.code == -32800
    streamed = [e for e in client.recorder.events["letta/chatEvent"] if e.kind == "text"]
    assert len(streamed) < 200  # it stopped early
    result = await run(client, "letta.chat", {"message": "still there?"})
    assert result["reply"] == "after"
    transcript = await client.workspace_text_document_content_async(types.TextDocumentContentParams(
        uri=f"letta-conversation://{client.agent.id}/default.md"))
    assert "talk" in transcript.text and "still there?" in transcript.text


async def test_remember_without_a_model_keeps_the_text(client):
    await configure_model(client, {"provider": "openai", "baseUrl": "http://127.0.0.1:9/v1"})
    result = await run(client, "letta.remember", {"text": "Deploys happen on Tuesdays"})
    assert "system/remembered.md" in result["reply"] and result["commits"]
    repo = client.home.memory_repo(client.agent)
    assert "Deploys happen on Tuesdays" in repo.read("system/remembered.md").text


async def test_chat_errors_are_clear(client):
    with pytest.raises(JsonRpcException, match="message"):
        await run(client, "letta.chat", {})
    await configure_model(client, {"provider": "anthropic"})
    with pytest.raises(JsonRpcException, match="ANTHROPIC_API_KEY"):
        await run(client, "letta.chat", {"message": "hi"})
