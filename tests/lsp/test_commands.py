"""Every command of SPEC section 7 is registered; those whose core exists work, from the palette too."""

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from letta_ls.memfs.authors import user_author

SPEC_COMMANDS = [
    "letta.chat", "letta.remember", "letta.doctor", "letta.init", "letta.dream", "letta.defrag", "letta.sleeptime",
    "letta.newConversation", "letta.listConversations", "letta.listAgents", "letta.createAgent",
    "letta.switchAgent", "letta.pin", "letta.unpin", "letta.memory.backup", "letta.memory.restore", "letta.sync",
]


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def test_every_spec_command_is_registered(client):
    registered = set(client.init_result.capabilities.execute_command_provider.commands)
    assert set(SPEC_COMMANDS) <= registered


async def test_doctor_reports_with_progress_and_markdown(client):
    result = await run(client, "letta.doctor", {})
    assert result["findings"] == [] and result["tokens"]["system"] > 0
    assert result["report"].startswith("#") and "token" in result["report"].lower()
    if client.client_name == "visual-studio-code":
        (events,) = client.progress_reports.values()
        assert events[0].kind == "begin" and events[0].title == "Memory doctor"
        assert events[-1].kind == "end"


async def test_doctor_fix_commits_each_safe_fix_and_announces_it(client):
    repo = client.home.memory_repo(client.agent)
    await client.protocol.send_request_async("letta/memoryWrite", {
        "uri": f"letta-memory://{client.agent.id}/skills/deploy.md",
        "text": "---\ndescription: how to deploy\n---\nRun make deploy.\n"})
    before = len(repo.history())
    result = await run(client, "letta.doctor", {"fix": True})
    assert not [f for f in result["findings"] if f["code"] == "skill-flat-file"]
    assert "skills/deploy/SKILL.md" in repo.snapshot()
    assert len(repo.history()) == before + 1
    event = await client.recorder.wait_for("letta/memoryChanged")
    assert any("skills/deploy" in uri for uri in event.uris)


async def test_doctor_fix_commits_as_the_user_who_asked_for_it(client):
    """The user asked for the fixes, so they are the author, as with the quick fix and `letta-ls doctor --fix`."""
    repo = client.home.memory_repo(client.agent)
    repo.commit({"skills/deploy.md": b"---\ndescription: how to deploy\n---\nRun make deploy.\n"}, "agent wrote",
                client.agent.author)
    await run(client, "letta.doctor", {"fix": True})
    fix = repo.history(limit=1)[0]
    assert "skills/deploy/SKILL.md" in repo.snapshot()
    assert (fix.author, fix.email) == (user_author(repo.path).name, user_author(repo.path).email)
    assert fix.author != client.agent.author.name


async def test_agents_create_switch_pin_from_arguments(client):
    created = await run(client, "letta.createAgent", {"name": "Ada", "preset": "terse"})
    assert created["name"] == "Ada" and created["agentId"].startswith("agent-")
    switched = await run(client, "letta.switchAgent", {"name": "Ada"})
    assert switched == created
    status = await client.recorder.wait_for("letta/status", lambda s: s.agentName == "Ada")
    assert status.agentId == created["agentId"]
    pinned = await run(client, "letta.pin", {})
    assert pinned == {"agentId": created["agentId"], "pinned": True}
    agents = await run(client, "letta.listAgents", {})
    ada = next(a for a in agents if a["name"] == "Ada")
    assert ada["pinned"] is True and {"agentId", "name", "pinned", "lastUsed", "model"} <= set(ada)
    assert (await run(client, "letta.unpin", {"agentId": created["agentId"]}))["pinned"] is False


async def test_palette_calls_without_arguments_ask_the_user(client):
    await run(client, "letta.createAgent", {"name": "Bea"})
    client.answers = ["Bea"]
    switched = await run(client, "letta.switchAgent")
    assert switched["name"] == "Bea" and "Switch to which agent" in client.asked[-1].message
    client.answers = ["tutor"]
    created = await run(client, "letta.createAgent")
    assert created["name"].startswith("Agent ")
    client.answers = ["compaction-event"]
    settings = await run(client, "letta.sleeptime")
    assert settings["trigger"] == "compaction-event"


async def test_backup_and_restore(client):
    repo = client.home.memory_repo(client.agent)
    backup = await run(client, "letta.memory.backup")
    assert backup["ref"].startswith("refs/letta-backup/manual-")
    await client.protocol.send_request_async("letta/memoryWrite", {
        "uri": f"letta-memory://{client.agent.id}/system/human.md", "text": "---\ndescription: d\n---\noops\n"})
    client.answers = [backup["ref"].rsplit("/", 1)[-1]]
    restored = await run(client, "letta.memory.restore")
    assert restored["ref"] == backup["ref"] and restored["commit"]
    assert "oops" not in repo.read("system/human.md").text


async def test_sleeptime_settings_are_validated_and_kept(client):
    result = await run(client, "letta.sleeptime", {"trigger": "step-count", "stepCount": 10})
    assert result == {"trigger": "step-count", "stepCount": 10, "idleSeconds": 30, "merge": "auto"}
    with pytest.raises(JsonRpcException) as err:
        await run(client, "letta.sleeptime", {"trigger": "hourly"})
    assert "trigger" in err.value.message
    assert (await run(client, "letta.sleeptime", {}))["stepCount"] == 10


async def test_bad_command_input_gets_clear_errors(client):
    with pytest.raises(JsonRpcException, match="one JSON object"):
        await run(client, "letta.doctor", {}, {})
    with pytest.raises(JsonRpcException, match="JSON object argument"):
        await run(client, "letta.createAgent", "Ada")
    with pytest.raises(JsonRpcException, match="wrong type"):
        await run(client, "letta.doctor", {"fix": "yes"})
    with pytest.raises(JsonRpcException, match="no agent"):
        await run(client, "letta.switchAgent", {"name": "Nobody"})
    with pytest.raises(JsonRpcException):
        await run(client, "letta.noSuchCommand")
