"""Issue 13 point 6: the chat's slash commands run in the server, so every editor's chat has the same ones.

A chat message starting with a known slash command (``/remember …``, ``/new``, ``/doctor`` …) runs that command
instead of going to the model as text, and its outcome (where it was stored, with the commit) is shown in the
conversation as chat events; ``letta.slashCommands`` lists them for completion.
"""

import pytest

from tests.fakes import Script, scripted_openai
from tests.lsp.test_chat import run, use_model

NAMES = ["remember", "new", "doctor", "init", "dream", "defrag", "sleeptime", "agents", "pin"]


@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


def texts(client) -> str:
    return "".join(e.text for e in client.recorder.events.get("letta/chatEvent", []) if e.kind == "text")


async def test_the_server_lists_the_chats_slash_commands_for_completion(client):
    listed = await run(client, "letta.slashCommands")
    assert [entry["name"] for entry in listed] == NAMES
    assert all(entry["usage"].startswith("/" + entry["name"]) and entry["description"] for entry in listed)


async def test_slash_remember_in_the_chat_stores_it_and_says_where_with_the_commit(client, model):
    model.script.tool_call("memory", {"command": "insert", "file_path": "system/human.md", "insert_line": 0,
                                      "insert_text": "- Always uses pnpm in this repo.",
                                      "reason": "The user's package manager"})
    model.script.text("Noted.")
    await use_model(client, model.base_url)
    result = await run(client, "letta.chat", {"message": "/remember always use pnpm in this repo"})
    assert "always use pnpm in this repo" in model.model_requests[0].messages[-1]["content"]
    asked = model.model_requests[0].messages[-1]["content"]
    assert "The user used /remember" in asked and "/remember always" not in asked  # the command, not chat text
    repo = client.home.memory_repo(client.agent)
    head = repo.head()
    assert "pnpm" in repo.snapshot().get("system/human.md").text
    where = f"letta-memory://{client.agent.id}/system/human.md"
    assert result["slashCommand"] == "remember" and result["commits"] == [head]
    assert f"Stored in {where} (commit {head[:7]})." in result["reply"]
    assert f"Stored in {where} (commit {head[:7]})." in texts(client)  # shown in the conversation
    assert client.recorder.events["letta/chatEvent"][-1].kind == "done"


async def test_slash_new_doctor_and_agents_run_their_commands_not_the_model(client, model):
    await use_model(client, model.base_url)
    fresh = await run(client, "letta.chat", {"message": "/new"})
    assert fresh["conversationId"] != "default" and fresh["conversationId"] in texts(client)
    doctor = await run(client, "letta.chat", {"message": "/doctor", "conversationId": fresh["conversationId"]})
    assert doctor["conversationId"] == fresh["conversationId"] and doctor["reply"].strip()
    agents = await run(client, "letta.chat", {"message": "/agents"})
    assert client.agent.id in agents["reply"] and "current" in agents["reply"]
    assert model.model_requests == []  # none of them was sent to the model


async def test_a_message_that_only_starts_with_a_slash_is_chat_text(client, model):
    model.script.text("It is a folder.")
    await use_model(client, model.base_url)
    result = await run(client, "letta.chat", {"message": "/usr/bin holds what?"})
    assert result["reply"] == "It is a folder."
    assert model.model_requests[0].messages[-1]["content"] == "/usr/bin holds what?"
