"""The server starts the subagent runner on ``initialized``: work a crashed dream left is merged and announced."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.subagents.worktrees import Worktrees
from tests.subagents.helpers import DREAM, doc

LESSON = doc("What I know about the user.", "The user ships on Fridays.\n")


@pytest.fixture
def lsp_home(tmp_path_factory) -> Path:
    """An agent whose last dream was killed after committing its lesson in its worktree."""
    home = tmp_path_factory.mktemp("lsp-home")
    agent = Home(home).current_agent()
    repo = Home(home).memory_repo(agent)
    trees = Worktrees(repo, agent.worktrees_dir)
    tree = trees.create("dream")
    trees.open(tree).commit({"system/human.md": LESSON.encode()}, "dream: ships on Fridays", DREAM)
    return home


async def test_a_crashed_dreams_work_is_merged_and_announced_on_start(client):
    repo = client.home.memory_repo(client.agent)
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == repo.head(), timeout=20)
    assert changed.uris == [f"letta-memory://{client.agent.id}/system/human.md"]
    assert repo.read("system/human.md").text == LESSON
    assert "dream: ships on Fridays" in [h.message for h in repo.history(limit=5)]
    trees = Worktrees(repo, client.agent.worktrees_dir)
    for _ in range(200):  # the worktree is removed right after its work is merged
        if not trees.list() and not trees.branches():
            break
        await asyncio.sleep(0.05)
    assert trees.list() == [] and trees.branches() == {}
