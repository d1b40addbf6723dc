"""A dream reviews what happened since the last one and lands its lessons in memory, or says why not."""

from __future__ import annotations

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.subagents.models import NoSubagentModel
from letta_ls.subagents.resolve import unwrap_answer
from letta_ls.subagents.service import MemorySubagents
from letta_ls.subagents.sleeptime_state import SleeptimeStore
from tests.fakes import Reply
from tests.subagents.dreams_helpers import (
    PROJECT,
    REPORT,
    agent_session,
    chat,
    dream_once,
    lesson,
    memory_call,
    tool_reply,
    user_messages,
)
from tests.subagents.helpers import git, is_ancestor, tracked_changes


@pytest.fixture
def session(model):
    return agent_session(model.base_url)


def cursor(session, conversation: str = "default"):
    return SleeptimeStore(session.agent.conversations_dir).read().cursors.get(conversation)


# ---------------------------------------------------------------------------------------------- success
async def test_a_dream_lands_its_lesson_on_main_and_advances_the_cursor(session, model, subagents):
    said = chat(session, "From now on use pnpm, never npm.", "Understood, pnpm it is.")
    model.script.tool_call("memory", lesson()).text(REPORT)
    result = await subagents.dream()

    assert result.status == "merged" and result.ok and result.error is None
    assert "- Uses pnpm, never npm." in session.repo.read("system/human.md").text
    assert result.commits and all(is_ancestor(session.repo, c) for c in result.commits)
    assert git(session.repo, "log", "-1", "--format=%s", result.commits[0]).startswith("dream: remember")
    assert result.commits[0][:12] in result.report and "`system/human.md`" in result.report
    assert "Stored what the user prefers." in result.report and "## Skipped" in result.report
    assert cursor(session).message_id == said[-1].id and result.reviewed == 2
    assert tracked_changes(session.repo) == ""
    # the slice reached the model as message content, with the memory in the system prompt
    first = model.model_requests[0]
    assert any("From now on use pnpm, never npm." in text for text in user_messages(first))
    assert "dreaming" in first.system and "<memory" in first.system and "Today is" in user_messages(first)[-1]
    assert first.body["model"] == "gpt-dream"  # the agent's own model settings
    runs = [i for i in ConversationStore(session.agent.conversations_dir).list() if i.subagent]
    assert [r.subagent for r in runs] == ["dream"] and runs[0].title.startswith("dream ")


async def test_the_next_dream_reviews_only_what_is_new(session, model, subagents):
    chat(session, "We deploy on Fridays.", "Noted.")
    model.script.tool_call("memory", lesson("- Deploys on Fridays.")).text(REPORT)
    await subagents.dream()
    chat(session, "The staging server is called kite.", "Good to know.")
    model.script.text("## Summary\nNo changes needed.\n## Skipped\n- kite: already known")
    result = await subagents.dream()
    assert result.status == "no_changes" and result.ok and "No changes needed." in result.report
    last = user_messages(model.model_requests[-1])[-1]
    assert "kite" in last and "Fridays" not in last
    assert cursor(session).index == 3  # "no changes needed" is a success: the cursor moved on


async def test_with_nothing_new_a_dream_asks_no_model(session, model, subagents):
    result = await subagents.dream()
    assert result.status == "nothing_new" and result.ok and "nothing new" in result.report
    assert model.model_requests == [] and result.commits == ()


async def test_a_dream_creates_a_skill_and_archives_what_is_obsolete(session, model, subagents):
    session.operations("user").create("projects/old-ci.md", "The old CI setup", "Jenkins job foo.\n", "seed")
    chat(session, "We dropped Jenkins for GitHub Actions; deploys are `make ship`.", "OK.")
    skill = memory_call("create", "dream: deploy skill", file_path="skills/deploy/SKILL.md",
                        description="This skill should be used when deploying the project.",
                        file_text="Run `make ship` from a clean checkout.")
    archive = memory_call("create", "dream: archive the Jenkins setup", file_path="ARCHIVE.md",
                          description="Retired memory, with the date and why.",
                          file_text="## 2026-12-01\nRetired projects/old-ci.md (Jenkins job foo): CI moved to Actions.")
    drop = memory_call("delete", "dream: Jenkins is gone", file_path="projects/old-ci.md")
    model.script.tool_call("memory", skill).tool_call("memory", archive).tool_call("memory", drop).text(REPORT)
    result = await subagents.dream()
    snap = session.repo.snapshot()
    assert result.status == "merged" and len(result.commits) == 3
    assert "name: deploy" in snap.get("skills/deploy/SKILL.md").text and "projects/old-ci.md" not in snap
    assert "Jenkins job foo" in snap.get("ARCHIVE.md").text


# ---------------------------------------------------------------------------------------------- failure
async def test_a_failed_dream_keeps_its_cursor_and_says_why(session, model, subagents):
    chat(session, "first", "one")
    model.script.text(REPORT)
    await subagents.dream()
    held = cursor(session)
    chat(session, "I switched to tabs.", "Noted.")
    model.script.error(500, "the upstream model crashed", should_retry=False)
    result = await subagents.dream()
    assert result.status == "failed" and not result.ok
    assert "the upstream model crashed" in result.error and "the upstream model crashed" in result.report
    assert "palace" not in result.report and "cursor did not move" in result.report
    assert cursor(session) == held
    state = SleeptimeStore(session.agent.conversations_dir).read()
    assert state.last["status"] == "failed" and "upstream model crashed" in state.last["error"]
    model.script.text(REPORT)  # the next dream reviews the same messages again
    assert (await subagents.dream()).ok
    assert "I switched to tabs." in user_messages(model.model_requests[-1])[-1]


async def test_what_a_failed_dream_committed_is_kept_but_its_cursor_stays(session, model, subagents):
    chat(session, "Call me Dana.", "Hi Dana.")
    model.script.tool_call("memory", lesson("- The user's name is Dana.")).error(
        500, "connection reset by the model", should_retry=False)
    result = await subagents.dream()
    assert result.status == "failed" and result.commits
    assert "- The user's name is Dana." in session.repo.read("system/human.md").text
    assert "already written was kept" in result.report and cursor(session) is None


async def test_a_dream_without_a_model_says_how_to_configure_one(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "letta_ls.agent.providers.local", None)
    from letta_ls.session import Session

    session = Session()
    chat(session, "hello", "hi")
    service = MemorySubagents(session)
    await service.start()
    try:
        with pytest.raises(NoSubagentModel) as err:
            await service.dream()
    finally:
        await service.close()
    message = str(err.value)
    assert "No model is configured, so a dream cannot run" in message
    assert "ANTHROPIC_API_KEY" in message and "baseUrl" in message and "settings.json" in message
    assert cursor(session) is None and service.scheduler.blocked == message


# ---------------------------------------------------------------------------------------------- conflicts
def main_agent_edits_first(session, replacement: str, reply: Reply):
    """The dream's first model call: meanwhile the main agent rewrites the line the dream will change."""

    def respond(_request):
        session.operations("agent").str_replace("system/project.md", "Package manager: npm.", replacement,
                                                "main: package manager changed")
        return reply

    return respond


def same_line_conflict(session, model, main_line: str) -> None:
    """The dream changes the package-manager line of system/project.md while the main agent changes it to
    ``main_line`` first: the merge meets a same-line conflict."""
    session.operations("user").create("system/project.md", "Facts about the project.", PROJECT.split("---\n")[2],
                                      "seed")
    chat(session, "We use pnpm now.", "OK.")
    dream_edit = tool_reply("memory", memory_call("str_replace", "dream: pnpm", file_path="system/project.md",
                                                  old_string="Package manager: npm.",
                                                  new_string="Package manager: pnpm."))
    model.script.respond(main_agent_edits_first(session, main_line, dream_edit))


async def test_a_same_line_conflict_is_resolved_by_the_model(session, model, subagents):
    merged = "---\ndescription: Facts about the project.\n---\nPackage manager: pnpm (since 2026-11).\nTests: pytest.\n"
    seen = {}

    def resolve(request):
        seen["prompt"] = user_messages(request)[-1]
        return Reply(text=f"```markdown\n{merged}```")

    same_line_conflict(session, model, "Package manager: pnpm (since 2026-11).")
    model.script.text(REPORT).respond(resolve)
    result = await subagents.dream()
    assert result.status == "merged"
    assert session.repo.read("system/project.md").text == merged
    prompt = seen["prompt"]
    assert "<base>" in prompt and "since 2026-11" in prompt and '<version from="dream">' in prompt
    assert "conflict resolved by the model" in result.report
    assert git(session.repo, "log", "--format=%s").count("main: package manager changed") == 1


async def test_a_garbage_resolution_keeps_both_versions(session, model, subagents):
    same_line_conflict(session, model, "Package manager: yarn.")
    model.script.text(REPORT).text("Both look fine to me!")
    result = await subagents.dream()
    text = session.repo.read("system/project.md").text
    assert result.status == "merged" and "both versions kept" in result.report
    assert "<<<<<<< main" in text and "Package manager: yarn." in text and "Package manager: pnpm." in text
    assert text.startswith("---\ndescription: Facts about the project.\n---\n")


def test_a_fenced_answer_is_unwrapped():
    assert unwrap_answer("```md\n---\ndescription: d\n---\nx\n```") == "---\ndescription: d\n---\nx\n"
    assert unwrap_answer("---\ndescription: d\n---\nx") == "---\ndescription: d\n---\nx\n"


async def explicit_dream(model) -> tuple:
    session = agent_session(model.base_url, sleeptime={"merge": "explicit"})
    chat(session, "Call me Dana.", "Hi Dana.")
    return session, await dream_once(session)


async def test_explicit_merge_applies_what_the_review_approved_with_its_fixes(model):
    model.script.tool_call("memory", lesson("- The user's name is Dnaa.")).text(REPORT)
    model.script.tool_call("memory", memory_call("str_replace", "review: fix the name's spelling",
                                                 file_path="system/human.md", old_string="Dnaa", new_string="Dana"))
    model.script.text("## Verdict\nApproved with fixes: the name was misspelt.\n## Fixes\n- `system/human.md`: Dana")
    session, result = await explicit_dream(model)
    human = session.repo.read("system/human.md").text
    assert result.status == "merged" and "- The user's name is Dana." in human and "Dnaa" not in human
    assert "## Review before applying" in result.report and "Approved with fixes" in result.report
    review = user_messages(model.model_requests[2])[-1]
    assert "<diff>" in review and "+- The user's name is Dnaa." in review and "Stored what the user prefers." in review
    assert "you are that review" not in model.model_requests[0].system  # the dream itself is unchanged
    assert "you are that review" in model.model_requests[2].system
    assert cursor(session) is not None


async def test_explicit_merge_rejected_applies_nothing_and_keeps_the_dream_in_history(model):
    model.script.tool_call("memory", lesson("- The user hates tests.")).text(REPORT)
    model.script.text("## Verdict\nRejected: the conversation never said that.\n## Fixes\nnone")
    session, result = await explicit_dream(model)
    human = session.repo.read("system/human.md").text
    assert "hates tests" not in human and "Rejected" in result.report
    history = git(session.repo, "log", "--all", "-p", "--format=%s", "--", "system/human.md")
    assert "+- The user hates tests." in history and "the review rejected these changes" in history
    assert result.ok and cursor(session) is not None  # reviewed: not offered again


async def test_explicit_merge_whose_review_fails_applies_nothing_and_keeps_the_cursor(model):
    model.script.tool_call("memory", lesson("- The user's name is Dana.")).text(REPORT)
    model.script.error(401, "invalid api key")
    session, result = await explicit_dream(model)
    assert result.status == "failed" and "review of the dream failed" in result.error
    assert "- The user's name is Dana." not in session.repo.read("system/human.md").text
    assert cursor(session) is None  # the same conversation is reviewed again next time
