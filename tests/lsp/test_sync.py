"""``letta.sync`` over LSP: memory from another machine arrives, is announced and diagnosed, and the outcome
shows in the result, ``$/progress`` and ``letta/status``; without a remote the error says how to set one."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.test_diagnostics import wait_diagnostics
from tests.sync.remotes import Machine, bare_repository, git_daemon, remote_main


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


def use_remote(client, url: str) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"letta": {"sync": {"remote": url}}}))


async def test_sync_brings_memory_from_another_machine_and_announces_it(client, tmp_path):
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    with git_daemon(tmp_path / "remotes") as base:
        url = f"{base}/memory.git"
        laptop = Machine(tmp_path / "laptop", url)
        laptop.write("reference/laptop.md", "---\ndescription: Learned on the laptop\n---\nSee [[reference/gone]].\n",
                     "a lesson from the laptop")
        await asyncio.to_thread(laptop.sync)
        repo = client.home.memory_repo(client.agent)
        await client.protocol.send_request_async("letta/memoryWrite", {
            "uri": f"letta-memory://{client.agent.id}/reference/desk.md",
            "text": "---\ndescription: Learned at the desk\n---\nUse the big screen.\n"})
        use_remote(client, url)
        await client.recorder.wait_for("letta/status", lambda s: s.sync.remote == url)  # the setting is in force

        result = await run(client, "letta.sync", {})
        assert result["pulled"] == 2 and result["pushed"] >= 2 and result["conflicts"] == []
        assert result["changed"] == ["reference/laptop.md"] and result["head"] == repo.head()
        assert result["remote"] == url and "pulled 2 commits" in result["report"]
        assert result["backup"].startswith("refs/letta-backup/pre-sync-")  # two unrelated histories met
        uri = f"letta-memory://{client.agent.id}/reference/laptop.md"
        await client.recorder.wait_for("letta/memoryChanged", lambda p: uri in p.uris)
        found = await wait_diagnostics(client, uri, lambda d: any(x.code == "link-broken" for x in d))
        assert found
        read = await client.protocol.send_request_async("letta/memoryRead", {"uri": uri})
        assert "Learned on the laptop" in read.text
        status = await client.recorder.wait_for("letta/status", lambda s: s.sync.last is not None)
        assert status.sync.state == "idle" and status.sync.remote == url and status.sync.last.pulled == 2
        if client.client_name == "visual-studio-code":
            runs = [events for events in client.progress_reports.values() if events[0].title == "Memory sync"]
            assert runs and runs[0][-1].kind == "end"

        assert remote_main(bare) == repo.head()
        back = await asyncio.to_thread(laptop.sync)
        assert "Use the big screen." in laptop.text("reference/desk.md") and back.pushed == 0


async def test_sync_without_a_remote_says_how_to_set_one_and_status_says_off(client):
    status = await client.recorder.wait_for("letta/status")
    assert status.sync.state == "off" and status.sync.remote is None
    repo = client.home.memory_repo(client.agent)
    head = repo.head()
    with pytest.raises(JsonRpcException) as err:
        await run(client, "letta.sync")
    assert "no sync remote is configured" in err.value.message and "sync" in err.value.message
    use_remote(client, "relative/memory.git")
    await client.recorder.wait_for("letta/status", lambda s: s.sync.state == "idle")
    with pytest.raises(JsonRpcException, match="absolute path"):
        await run(client, "letta.sync", {})
    failed = await client.recorder.wait_for("letta/status", lambda s: s.sync.last is not None)
    assert "absolute path" in failed.sync.last.error
    with pytest.raises(JsonRpcException, match="one JSON object"):
        await run(client, "letta.sync", {}, {})
    assert repo.head() == head
