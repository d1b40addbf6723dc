"""letta.init over LSP: questions through window/showMessageRequest, parallel history workers, $/progress,
memory with [[links]] that resolve, letta/memoryChanged, and clear errors."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.fakes import Reply, Script, scripted_openai
from tests.init.helpers import MALFORMED_SESSION, InitModel, assert_links_resolve, history_home
from tests.init.workspaces import make_node_workspace
from tests.lsp.conftest import server_env

ANSWERS = ["Standard", "Read them", "Short and direct", "Ask me first", "Leave commits to me"]


@pytest.fixture
def lsp_workspace(tmp_path: Path) -> Path:
    return make_node_workspace(tmp_path / "shop-api")


@pytest.fixture
def lsp_env(lsp_home: Path, tmp_path: Path, lsp_workspace: Path) -> dict[str, str]:
    """The server's HOME holds earlier Claude Code and Codex sessions of the workspace."""
    env = {**server_env(lsp_home), "HOME": str(history_home(tmp_path / "home", lsp_workspace))}
    for variable in ("CLAUDE_CONFIG_DIR", "CODEX_HOME"):
        env.pop(variable, None)
    return env


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def use_model(client, base_url: str) -> None:
    """Configure the scripted model and wait until the server applied it (letta/status names it)."""
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": {
        "provider": "openai", "name": "gpt-test", "baseUrl": base_url, "apiKeyEnv": "LETTA_TEST_KEY"}}}))
    await client.recorder.wait_for("letta/status", lambda status: status.model == "gpt-test", timeout=60)


def progress_messages(client) -> list[str]:
    reports = [events for events in client.progress_reports.values()
               if events and getattr(events[0], "title", None) == "Initializing memory (/init)"]
    assert len(reports) == 1, client.progress_reports
    events = reports[0]
    assert events[0].kind == "begin" and events[-1].kind == "end"
    return [e.message for e in events if getattr(e, "message", None)]


async def test_init_asks_runs_history_workers_in_parallel_and_lands_linked_memory(client):
    repo = client.home.memory_repo(client.agent)
    model = InitModel(parallel=3, memory_dir=repo.path)
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        await use_model(client, server.base_url)
        client.answers = list(ANSWERS)
        result = await run(client, "letta.init")  # from the palette: no argument, so it asks

    # the questions, one message with buttons at a time
    messages = [params.message for params in client.asked]
    assert len(messages) == 5 and messages[0].startswith("How thoroughly should I study this project?")
    assert messages[1].startswith("I found 3 Claude Code sessions and 4 Codex sessions for this project.")
    assert [a.title for a in client.asked[2].actions] == ["Short and direct", "Detailed, with reasons"]

    # three history workers ran at the same time, each in its own worktree, beside the /init run's
    assert sorted(branch.split("/")[1] for branch in model.worktrees_seen) == [
        "init", "init-history", "init-history", "init-history"]
    assert sorted({index for index, _step, _t in model.worker_requests}) == [1, 2, 3]

    # memory landed, linked, and the doctor is happy with it
    memory = repo.snapshot()
    human = memory.get("system/human.md").text
    assert "Prefers short, direct replies" in human and "Wants to be asked before I act" in human
    assert all(f"(seen in slice {i})" in human for i in (1, 2, 3))
    assert "system/project/shop-api.md" in memory and "reference/shop-api/architecture.md" in memory
    assert len([p for p in memory.files if p.startswith("reference/shop-api/sessions/")]) == 3
    assert assert_links_resolve(repo.snapshot()) >= 3
    doctor = await run(client, "letta.doctor", {})
    assert [f for f in doctor["findings"] if f["severity"] == "error"] == []

    # the result and the report
    assert result["commits"] and result["commits"][-1] == repo.head()
    report = result["report"]
    assert report.startswith("# /init: memory for shop-api")
    assert "created `system/project/shop-api.md` (system, " in report
    assert "7 earlier sessions read by 3 parallel history workers" in report
    assert "integer cents" in report and "## Skipped" in report and MALFORMED_SESSION in report

    # memoryChanged for the merged memory, and progress through the phases
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == repo.head())
    uri = f"letta-memory://{client.agent.id}/system/project/shop-api.md"
    assert uri in changed.uris
    if client.client_name == "visual-studio-code":
        phases = progress_messages(client)
        for phase in ("inspecting the workspace", "asking about your working style", "reading earlier sessions",
                      "history workers 3/3 done", "writing memory", "merging the work into memory"):
            assert phase in phases, phases
    # letta/status carried the run and its phase while it ran (the status bar's "init: history workers 3/3")
    shown = [r for s in client.recorder.events["letta/status"] for r in (s.runs or [])]
    assert any(r.kind == "init" and r.message == "history workers 3/3 done" for r in shown), shown
    await client.recorder.wait_for("letta/status", lambda s: s.runs == [])


async def test_init_without_a_model_commits_the_draft_and_the_doctor_finds_no_error(client):
    repo = client.home.memory_repo(client.agent)
    before = repo.head()
    result = await run(client, "letta.init", {"depth": "standard"})  # no answers: every question dismissed
    assert [p.message.split("?")[0] for p in client.asked][:1] == ["I found 3 Claude Code sessions and 4 Codex "
                                                                 "sessions for this project. Shall I read them to "
                                                                 "learn how you work"]
    report = result["report"]
    assert "No model is configured, so /init wrote a deterministic draft" in report
    assert "7 earlier sessions" in report  # a dismissed question takes the default: read them
    memory = repo.snapshot()
    assert repo.head() != before and {"system/project/shop-api.md", "reference/shop-api/layout.md",
                                      "reference/shop-api/history.md"} <= set(memory.files)
    assert assert_links_resolve(repo.snapshot()) >= 3
    doctor = await run(client, "letta.doctor", {})
    assert [f for f in doctor["findings"] if f["severity"] == "error"] == []
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == repo.head())
    assert f"letta-memory://{client.agent.id}/system/project/shop-api.md" in changed.uris


async def test_init_with_history_false_reads_no_session_and_does_not_ask_about_it(client):
    result = await run(client, "letta.init", {"history": False, "depth": "deep"})
    assert all("sessions" not in params.message for params in client.asked)
    assert len(client.asked) == 3  # replies, autonomy, commits
    assert "Not read: /init was asked to leave earlier sessions alone" in result["report"]
    assert "reference/shop-api/history.md" not in client.home.memory_repo(client.agent).snapshot()


async def test_bad_arguments_and_a_missing_workspace_are_clear_errors(client, lsp_workspace):
    repo = client.home.memory_repo(client.agent)
    head = repo.head()
    with pytest.raises(JsonRpcException, match='depth is "standard" or "deep"'):
        await run(client, "letta.init", {"depth": "thorough"})
    with pytest.raises(JsonRpcException, match="history is true or false"):
        await run(client, "letta.init", {"history": "yes"})
    shutil.rmtree(lsp_workspace)
    with pytest.raises(JsonRpcException, match="not a folder that exists"):
        await run(client, "letta.init", {"history": False})
    assert repo.head() == head and client.asked == []


async def test_a_second_init_while_one_runs_is_refused_and_the_first_lands(client):
    model = InitModel(init=[Reply(text="Looked around; nothing to add yet.", first_delay=2.0)])
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        await use_model(client, server.base_url)
        first = asyncio.create_task(run(client, "letta.init", {"history": False, "depth": "standard"}))
        for _ in range(200):
            if model.init_requests:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(JsonRpcException, match="already running") as busy:
            await run(client, "letta.init", {"history": False})
        assert busy.value.data["kind"] == "busy"
        result = await first
    # the /init agent wrote nothing, so the draft landed instead, and the report says so
    assert "wrote nothing, so the deterministic draft was committed instead" in result["report"]
    assert "system/project/shop-api.md" in client.home.memory_repo(client.agent).snapshot()
