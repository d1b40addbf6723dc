"""The agent's turn through the real SDKs against scripted model servers on 127.0.0.1."""

import asyncio

import pytest

from letta_ls.agent.providers.anthropic_provider import AnthropicProvider
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy
from letta_ls.agent.remember import FALLBACK_PATH, remember
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.session import Session

FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05, max_total_wait=1)


@pytest.fixture
def session():
    return Session()


def openai_runtime(session, server, **kw) -> AgentRuntime:
    provider = OpenAIProvider("gpt-test", api_key="sk-test-key", base_url=server.base_url, retry=FAST)
    return AgentRuntime(session, provider, **kw)


async def test_a_tool_call_creates_memory_commits_it_and_the_next_step_sees_it(session, openai_server):
    openai_server.script.tool_call("memory", {
        "command": "create", "file_path": "system/project.md", "description": "Facts about the project",
        "file_text": "The project is written in Rust.", "reason": "learned the project language"})
    openai_server.script.text("Noted: the project is in Rust.")
    commits = []
    events = []
    runtime = openai_runtime(session, openai_server, on_memory_commit=lambda c, p: commits.append((c, p)))
    result = await runtime.run_turn("We use Rust here.", emit=events.append)
    assert result.reply == "Noted: the project is in Rust." and len(result.commits) == 1
    assert session.repo.history(limit=1)[0].message == "learned the project language"
    assert session.repo.history(limit=1)[0].author == "Letta Code"
    assert commits == [(result.commits[0], ["system/project.md"])]
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["tool_call", "tool_result", "memory_edit"] and kinds[-1] == "done"
    edit = next(e for e in events if e.kind == "memory_edit")
    assert edit.data == {"uri": f"letta-memory://{session.agent.id}/system/project.md", "commit": result.commits[0],
                         "reason": "learned the project language"}
    first, second = openai_server.model_requests
    assert "The project is written in Rust." not in first.system
    assert "The project is written in Rust." in second.system  # recompiled from the new HEAD
    assert "memory" in first.tool_names and "read_file" in first.tool_names


async def test_transcript_keeps_every_message_and_the_next_turn_sees_history(session, openai_server):
    openai_server.script.text("Hi Dana.").text("Your name is Dana.")
    runtime = openai_runtime(session, openai_server)
    await runtime.run_turn("I am Dana.")
    await runtime.run_turn("What is my name?")
    second = openai_server.model_requests[-1]
    contents = [m.get("content") for m in second.messages]
    assert "I am Dana." in contents and "Hi Dana." in contents
    assert [m.role for m in runtime.store.messages("default")] == ["user", "assistant", "user", "assistant"]


async def test_tool_errors_go_back_to_the_model_and_the_turn_goes_on(session, openai_server):
    openai_server.script.tool_call("memory", {"command": "str_replace", "file_path": "system/human.md",
                                              "old_string": "not there", "new_string": "x", "reason": "r"})
    openai_server.script.tool_call("no_such_tool", {})
    openai_server.script.tool_call("memory", '{"command": "view", broken json')
    openai_server.script.text("Sorry, done.")
    result = await openai_runtime(session, openai_server).run_turn("edit something")
    assert result.reply == "Sorry, done." and result.commits == []
    tool_messages = [m for m in openai_server.model_requests[-1].messages if m["role"] == "tool"]
    assert "not found" in tool_messages[0]["content"]
    assert "no tool named" in tool_messages[1]["content"]
    assert "not valid JSON" in tool_messages[2]["content"]


async def test_the_step_limit_ends_a_runaway_turn(session, openai_server):
    openai_server.script.tool_call("memory_search", {"query": "persona"}).repeat_last()
    result = await openai_runtime(session, openai_server, step_limit=3).run_turn("loop forever")
    assert result.steps == 3 and "step limit" in result.reply


async def test_provider_failure_is_an_error_event_and_the_transcript_stays_valid(session, openai_server):
    openai_server.script.error(401, "invalid api key")
    events = []
    result = await openai_runtime(session, openai_server).run_turn("hello", emit=events.append)
    assert result.error and "OPENAI_API_KEY" in result.error and "sk-test-key" not in result.error
    assert events[-1].kind == "error"
    assert runtime_statuses(session) == ["error"]


def runtime_statuses(session):
    from letta_ls.agent.conversations import ConversationStore

    return list(ConversationStore(session.agent.conversations_dir).turn_statuses("default").values())


async def test_cancelling_a_turn_mid_stream_keeps_the_transcript_valid(session, openai_server):
    openai_server.script.slow("a long answer " * 50, delay=0.05).text("after the cancel")
    runtime = openai_runtime(session, openai_server)
    seen = []
    task = asyncio.create_task(runtime.run_turn("talk a lot", emit=seen.append))
    while not seen:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runtime_statuses(session) == ["cancelled"]
    result = await runtime.run_turn("still there?")
    assert result.reply == "after the cancel"


async def test_anthropic_turn_with_a_tool_call(session, anthropic_server):
    anthropic_server.script.tool_call("memory", {"command": "view", "file_path": "system"})
    anthropic_server.script.text("You have two system files.")
    provider = AnthropicProvider("claude-test", api_key="sk-ant-test", base_url=anthropic_server.base_url,
                                 retry=FAST)
    result = await AgentRuntime(session, provider).run_turn("what is in system/?")
    assert result.reply == "You have two system files."
    tool_result = anthropic_server.model_requests[-1].messages[-1]["content"][0]
    assert tool_result["type"] == "tool_result" and "system/human.md" in str(tool_result["content"])


async def test_without_a_model_chat_says_how_to_configure_one(session):
    result = await AgentRuntime(session, None).run_turn("hello")
    assert "ANTHROPIC_API_KEY" in result.reply and "OPENAI_API_KEY" in result.reply


async def test_remember_through_the_model(session, openai_server):
    openai_server.script.tool_call("memory", {"command": "str_replace", "file_path": "system/human.md",
                                              "old_string": session.repo.read("system/human.md").text.split("---\n")[2]
                                              .splitlines()[0], "new_string": "Prefers pnpm in this repo.",
                                              "reason": "remember: pnpm"})
    openai_server.script.text("Stored in system/human.md.")
    result = await remember(openai_runtime(session, openai_server), "always use pnpm in this repo")
    assert result.commits and "system/human.md" in result.reply
    assert "<system-reminder>" in openai_server.model_requests[0].messages[-1]["content"]
    assert "pnpm" in session.repo.read("system/human.md").text


async def test_remember_keeps_the_text_when_the_model_stores_nothing(session, openai_server):
    openai_server.script.text("Sure!")
    result = await remember(openai_runtime(session, openai_server), "the staging server is staging.example.org")
    assert FALLBACK_PATH in result.reply and "nothing is lost" in result.reply
    assert "staging.example.org" in session.repo.read(FALLBACK_PATH).text


async def test_remember_without_a_model_stores_verbatim_and_dedupes(session):
    runtime = AgentRuntime(session, None)
    first = await remember(runtime, "Never force-push to main")
    assert "No model is configured" in first.reply and first.commits
    text = session.repo.read(FALLBACK_PATH).text
    assert "(rule," in text and "Never force-push to main" in text
    again = await remember(runtime, "never force-push to main")
    assert again.commits == [] and "already remember" in again.reply


async def test_compaction_summarises_old_messages_and_keeps_the_transcript_whole(session, openai_server):
    events = []
    provider = OpenAIProvider("gpt-test", api_key="sk-test", base_url=openai_server.base_url, retry=FAST,
                              context_window=6000)
    runtime = AgentRuntime(session, provider)
    runtime.events.subscribe(events.append)
    for i in range(8):
        openai_server.script.text(f"answer {i} " + "lorem ipsum dolor " * 120)
    for i in range(6):
        await runtime.run_turn(f"question {i} " + "context " * 150)
    openai_server.script.text("Summary: the user asked six questions.")  # the summariser's reply
    openai_server.script.text("final answer")
    await runtime.run_turn("one more " + "context " * 150)
    assert events, "compaction should have fired"
    assert len(runtime.store.messages("default")) == 14
    last = openai_server.model_requests[-1]
    assert any("summary" in str(m.get("content", "")).lower() for m in last.messages[:2])
    assert len(last.messages) < 14


# ------------------------------------------------------------------------------ what the caches must not hide
APPENDER = """
import sys
from pathlib import Path
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
ConversationStore(Path(sys.argv[1])).append("default", [Message(role="user", content=sys.argv[2]),
                                                        Message(role="assistant", content=sys.argv[3])])
"""


async def test_a_skill_edited_on_disk_is_in_the_next_turns_prompt(session, openai_server, tmp_path):
    skill = tmp_path / "project" / ".agents" / "skills" / "deploy" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text("---\nname: deploy\ndescription: Ship a release\n---\nRun make release.\n")
    openai_server.script.text("ok").text("ok again")
    runtime = openai_runtime(session, openai_server, workspace=[tmp_path / "project"])
    await runtime.run_turn("how do we deploy?")
    assert "deploy/\n    └── SKILL.md (Ship a release)" in openai_server.model_requests[-1].system
    skill.write_text("---\nname: deploy\ndescription: Ship a hotfix!\n---\nRun make release.\n")  # same size
    await runtime.run_turn("and now?")
    system = openai_server.model_requests[-1].system
    assert "SKILL.md (Ship a hotfix!)" in system and "Ship a release" not in system


async def test_messages_another_process_appended_are_in_the_next_turns_context(session, openai_server):
    import os
    import subprocess
    import sys
    from pathlib import Path

    openai_server.script.text("first answer").text("second answer")
    runtime = openai_runtime(session, openai_server)
    await runtime.run_turn("first question")
    root = Path(__file__).resolve().parents[2]
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", APPENDER, str(runtime.store.directory),
                                             "asked in the other window", "answered in the other window"],
                            env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    await runtime.run_turn("second question")
    contents = [m.get("content") for m in openai_server.model_requests[-1].messages]
    assert contents[1:] == ["first question", "first answer", "asked in the other window",
                            "answered in the other window", "second question"]
    assert runtime.store.get("default").messages == 6


async def test_a_failure_preparing_the_first_step_is_recorded_as_a_failed_turn(session, openai_server):
    runtime = openai_runtime(session, openai_server)

    def broken(conversation_id, message_count):
        raise RuntimeError("the memory repository is unreadable")

    runtime._prompt = broken
    with pytest.raises(RuntimeError, match="unreadable"):
        await runtime.run_turn("hello")
    assert runtime_statuses(session) == ["error"]
    assert [m.content for m in runtime.store.messages("default")] == ["hello"]  # the question is kept


async def test_nothing_of_a_turn_is_shown_before_its_question_is_on_disk(session, openai_server):
    import time

    openai_server.script.tool_call("memory_search", {"query": "persona"}).text("Here you are.")
    runtime = openai_runtime(session, openai_server)
    synced: list[float] = []
    real_sync = runtime.store.sync

    def slow_sync(conversation_id):
        time.sleep(0.3)  # a slow disk: the model answers long before the fsync returns
        real_sync(conversation_id)
        synced.append(time.monotonic())

    runtime.store.sync = slow_sync
    shown: list[tuple[float, str]] = []
    result = await runtime.run_turn("find my persona", emit=lambda e: shown.append((time.monotonic(), e.kind)))
    assert result.reply == "Here you are."
    assert [kind for _t, kind in shown][:2] == ["tool_call", "tool_result"] and shown[-1][1] == "done"
    assert len(synced) == 1 and all(t >= synced[0] for t, _kind in shown)


async def test_a_question_that_cannot_be_made_durable_fails_the_turn(session, openai_server):
    openai_server.script.text("never shown")
    runtime = openai_runtime(session, openai_server)

    def failing_sync(conversation_id):
        raise OSError(5, "Input/output error")

    runtime.store.sync = failing_sync
    shown = []
    with pytest.raises(OSError):
        await runtime.run_turn("hello", emit=shown.append)
    assert shown == [] and runtime_statuses(session) == ["error"]


async def test_a_turn_makes_its_conversation_the_one_to_resume(session, openai_server):
    openai_server.script.text("in the side conversation").text("and back")
    runtime = openai_runtime(session, openai_server)
    side = runtime.store.create("side").conversation_id
    await runtime.run_turn("over here", conversation_id=side)
    from letta_ls.agent.conversations import ConversationStore

    assert ConversationStore(session.agent.conversations_dir).last_used() == side  # as another window sees it
    result = await runtime.run_turn("where am I?")  # no id: the conversation to resume
    assert result.conversation_id == side and result.reply == "and back"
    assert [m.content for m in runtime.store.messages(side)] == ["over here", "in the side conversation",
                                                                 "where am I?", "and back"]
