"""Dreams and defrag over LSP end to end: commands, progress, status, memoryChanged, scheduling, restore."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from letta_ls.subagents.sleeptime_state import SleeptimeStore
from tests.fakes import Script, scripted_openai
from tests.subagents.dreams_helpers import REPORT, lesson, memory_call


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


async def use_model(client, base_url: str) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": {
        "provider": "openai", "name": "gpt-test", "baseUrl": base_url}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.model == "gpt-test")


def dream_states(client) -> list[str]:
    states = [s.dream for s in client.recorder.events.get("letta/status", [])]
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


async def dreamed(client) -> list[str]:
    """Wait until a dream has run and the state is back to idle; the states announced so far."""
    for _ in range(200):
        states = dream_states(client)
        if "running" in states and states[-1] == "idle":
            return states
        await asyncio.sleep(0.05)
    raise AssertionError(f"the dream state never went running → idle: {dream_states(client)}")


async def progress_of(client, title: str) -> list:
    """The $/progress events of the run titled ``title`` (VS Code asks for progress; Neovim's profile too)."""
    for _ in range(100):
        for events in client.progress_reports.values():
            if events and events[0].kind == "begin" and events[0].title == title and events[-1].kind == "end":
                return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"no finished progress titled {title!r}: {client.progress_reports}")


async def test_letta_dream_lands_a_lesson_with_progress_status_and_memory_changed(client, model):
    await use_model(client, model.base_url)
    model.script.text("Sure, pnpm from now on.")
    await run(client, "letta.chat", {"message": "Use pnpm, never npm."})
    model.script.tool_call("memory", lesson()).text(REPORT)
    result = await run(client, "letta.dream")  # from the palette: no argument

    repo = client.home.memory_repo(client.agent)
    assert "- Uses pnpm, never npm." in repo.read("system/human.md").text
    assert result["commits"] and result["commits"][-1] == repo.head()
    assert "Stored what the user prefers." in result["report"] and result["commits"][0][:12] in result["report"]
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == repo.head())
    assert changed.uris == [f"letta-memory://{client.agent.id}/system/human.md"]
    assert len([p for p in client.recorder.events["letta/memoryChanged"] if p.head == repo.head()]) == 1
    cursor = SleeptimeStore(client.agent.conversations_dir).read().cursors["default"]
    assert cursor.index == 1
    if client.client_name == "visual-studio-code":
        events = await progress_of(client, "Dreaming")
        assert events[0].message == "starting the dream" and events[-1].message.startswith("done: 1 file(s) changed")
        reports = [e.message for e in events if e.kind == "report"]
        assert any(m.startswith("reviewing 2 messages from 1 conversation") for m in reports)
        assert "merging the work into memory" in reports
    assert (await dreamed(client))[-2:] == ["running", "idle"]
    listed = await run(client, "letta.listConversations")
    assert [c["conversationId"] for c in listed] == ["default"]  # the dream's own conversation stays out
    everything = await run(client, "letta.listConversations", {"includeSubagents": True})
    assert [c.get("subagent") for c in everything if c.get("subagent")] == ["dream"]


async def test_a_dream_due_after_chat_steps_runs_once_the_editor_is_idle(client, model):
    await use_model(client, model.base_url)
    settings = await run(client, "letta.sleeptime", {"trigger": "step-count", "stepCount": 2, "idleSeconds": 0.5})
    assert settings["stepCount"] == 2
    model.script.text("Noted: tabs.").text("And two spaces in YAML.")
    model.script.tool_call("memory", lesson("- Tabs in code, two spaces in YAML.")).text(REPORT)
    first = await run(client, "letta.chat", {"message": "I use tabs."})
    assert first["reply"] == "Noted: tabs."
    await run(client, "letta.chat", {"message": "But two spaces in YAML."})
    repo = client.home.memory_repo(client.agent)
    await client.recorder.wait_for("letta/memoryChanged", timeout=30,
                                   predicate=lambda p: any(u.endswith("system/human.md") for u in p.uris))
    assert "- Tabs in code, two spaces in YAML." in repo.read("system/human.md").text
    assert await dreamed(client) == ["idle", "due", "running", "idle"]
    assert SleeptimeStore(client.agent.conversations_dir).read().steps == 0


async def test_letta_defrag_backs_up_reports_and_restore_brings_it_back(client, model):
    await use_model(client, model.base_url)
    repo = client.home.memory_repo(client.agent)
    await client.protocol.send_request_async("letta/memoryWrite", {
        "uri": f"letta-memory://{client.agent.id}/reference/tools.md",
        "text": "---\ndescription: Tools we use\n---\nEditor: neovim.\n"})
    before = repo.snapshot()
    model.script.tool_call("memory", memory_call("rename", "defrag: tools into a folder",
                                                 old_path="reference/tools.md", new_path="reference/tools/overview.md"))
    model.script.text("## Summary\nMoved the tools into a folder.")
    result = await run(client, "letta.defrag", {})
    assert result["backup"].startswith("refs/letta-backup/defrag-") and len(result["commits"]) == 1
    assert "| memory files |" in result["report"] and "| total tokens |" in result["report"]
    assert "reference/tools/overview.md" in repo.snapshot()
    await client.recorder.wait_for("letta/memoryChanged", lambda p: any("tools/overview" in u for u in p.uris))
    if client.client_name == "visual-studio-code":
        await progress_of(client, "Defragmenting memory")
    # letta/status showed the defrag run (kind, progress message) while it ran, and nothing once it was done
    statuses = client.recorder.events["letta/status"]
    shown = [run for s in statuses for run in (s.runs or [])]
    assert any(r.kind == "defrag" and r.state == "running" and r.message for r in shown), shown
    assert any(r.kind == "defrag" and r.message == "merging the work into memory" for r in shown), shown
    await client.recorder.wait_for("letta/status", lambda s: s.runs == [])
    restored = await run(client, "letta.memory.restore", {"ref": result["backup"]})
    after = repo.snapshot()
    assert restored["commit"] == after.head and "reference/tools.md" in after
    assert {p: f.blob for p, f in after.files.items()} == {p: f.blob for p, f in before.files.items()}


async def test_dream_and_defrag_without_a_usable_model_say_how_to_configure_one(client):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": {
        "provider": "anthropic"}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.model == "anthropic")
    repo = client.home.memory_repo(client.agent)
    for command in ("letta.dream", "letta.defrag"):
        with pytest.raises(JsonRpcException) as err:
            await run(client, command)
        assert "ANTHROPIC_API_KEY" in err.value.message
    assert repo.backups() == []
    with pytest.raises(JsonRpcException, match="one JSON object"):
        await run(client, "letta.dream", {}, {})
