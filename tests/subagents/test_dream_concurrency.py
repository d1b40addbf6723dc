"""The main agent, the user, a dream and a defrag all editing memory at once: nothing is lost."""

from __future__ import annotations

import asyncio
import threading
import time

from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.subagents.service import MemorySubagents
from tests.fakes import Reply, Script, ScriptedCall, scripted_openai
from tests.subagents.dreams_helpers import agent_session, chat, memory_call
from tests.subagents.helpers import fsck, git, tracked_changes

PROJECT_BODY = "".join(f"Fact {n}: the {n}th thing about the project.\n" for n in range(1, 13))
ROUNDS = 4


def call(arguments: dict, delay: float = 0.0) -> Reply:
    return Reply(tool_calls=[ScriptedCall("memory", arguments)], first_delay=delay)


def text(reply: str, delay: float = 0.0) -> Reply:
    return Reply(text=reply, first_delay=delay)


def router(queues: dict[str, list[Reply]]):
    """Each actor gets its own replies, whatever order their requests arrive in."""
    lock = threading.Lock()

    def route(request) -> Reply:
        system = request.system
        key = ("dream" if "dreaming" in system else "defrag" if "defragmenting" in system
               else "resolve" if "You merge two edits" in system else "main")
        with lock:
            return queues[key].pop(0) if queues[key] else text("(nothing left to say)")

    return route


async def test_main_agent_user_dream_and_defrag_editing_at_once_lose_nothing():
    queues: dict[str, list[Reply]] = {"main": [], "dream": [], "defrag": [], "resolve": []}
    with scripted_openai(Script().respond(router(queues)).repeat_last()) as model:
        session = agent_session(model.base_url, sleeptime={"trigger": "off"})
        ops = session.operations("user")
        ops.create("system/project.md", "Facts about the project.", PROJECT_BODY, "seed")
        ops.create("reference/tools.md", "Tools we use", "Editor: neovim.\n\nShell: fish.\n", "seed")
        chat(session, "The CI runs on GitHub Actions.", "Noted.", "Releases are cut on Mondays.", "OK.")

        for n in range(ROUNDS):  # the main agent: one new fact per turn in system/human.md's neighbour file
            queues["main"] += [call(memory_call("create", f"main: fact {n}", file_path=f"system/main-{n}.md",
                                                description=f"Main agent fact {n}", file_text=f"Main fact {n}."),
                                    delay=0.05), text(f"Stored fact {n}.")]
        queues["dream"] += [
            call(memory_call("insert", "dream: CI", file_path="system/project.md", insert_line=1000,
                             insert_text="Fact 13: CI runs on GitHub Actions."), delay=0.3),
            call(memory_call("create", "dream: releases", file_path="projects/releases.md",
                             description="When and how releases are cut.", file_text="Releases are cut on Mondays.")),
            text("## Summary\nTwo lessons."),
        ]
        queues["defrag"] += [
            call(memory_call("rename", "defrag: tools into a folder", old_path="reference/tools.md",
                             new_path="reference/tools/overview.md"), delay=0.3),
            text("## Summary\nMoved the tools."),
        ]
        service = MemorySubagents(session)
        await service.start()
        runtime = AgentRuntime(session, select_provider(session.settings.model))
        user_done = threading.Event()

        def user_edits() -> None:  # the user saving in the editor meanwhile: line 1 and new files
            for n in range(ROUNDS):
                current = session.repo.read("system/project.md")
                edited = current.text.replace("Fact 1: the 1th", f"Fact 1 (rev {n}): the first", 1)
                edited = edited.replace(f"Fact 1 (rev {n - 1}): the first", f"Fact 1 (rev {n}): the first", 1)
                ops.write_file("system/project.md", edited, base_version=current.blob, reason=f"user edit {n}")
                ops.create(f"notes/user-{n}.md", f"User note {n}", f"User note {n}.", f"user note {n}")
                time.sleep(0.08)
            user_done.set()

        async def main_agent() -> None:
            for n in range(ROUNDS):
                turn = await runtime.run_turn(f"Remember fact {n}.")
                assert turn.error is None, turn.error

        try:
            user = asyncio.create_task(asyncio.to_thread(user_edits))
            dream, defrag, _, _ = await asyncio.gather(service.dream(), service.defrag(), main_agent(), user)
        finally:
            await service.close()

        assert dream.status == "merged" and defrag.status == "merged", (dream.report, defrag.report)
        snap = session.repo.snapshot()
        project = snap.get("system/project.md").text
        assert f"Fact 1 (rev {ROUNDS - 1}): the first" in project  # the user's last edit
        assert "Fact 13: CI runs on GitHub Actions." in project  # the dream's lesson, merged line by line
        assert all(f"Fact {n}: the {n}th" in project for n in range(2, 13))
        assert "<<<<<<<" not in project
        assert snap.get("projects/releases.md").text.endswith("Releases are cut on Mondays.\n")
        assert all(f"system/main-{n}.md" in snap for n in range(ROUNDS))
        assert all(f"notes/user-{n}.md" in snap for n in range(ROUNDS))
        assert "reference/tools/overview.md" in snap and "reference/tools.md" not in snap
        assert "Shell: fish." in snap.get("reference/tools/overview.md").text
        log = git(session.repo, "log", "--format=%s")
        for subject in ("dream: CI", "dream: releases", "defrag: tools into a folder", *[f"main: fact {n}" for n in
                        range(ROUNDS)], *[f"user edit {n}" for n in range(ROUNDS)]):
            assert subject in log
        assert "merge(dream): Two lessons." in log  # main moved while the dream worked: a real merge
        assert tracked_changes(session.repo) == ""
        fsck(session.repo)
