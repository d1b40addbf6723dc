"""Memory that letta-ls and its agent write is committed through Letta Code's own hook and accepted,
and Letta Code reads the descriptions back unchanged (no quotes added)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from letta_ls.doctor.guard import memory_change_guard
from letta_ls.home import Home
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.presets import preset_names
from letta_ls.settings import MemorySettings
from tests.lettacode.oracle import LettaCode

TRICKY = ["Tooling: package manager and build prefs", "`pnpm` user: prefers workspaces",
          "Notes # with a hash", "[bracketed] start", "Zoë's café ☕"]


def clone_with_hook(letta_code: LettaCode, memory: Path, target: Path) -> Path:
    """A clone of a letta-ls memory, with Letta Code's hook installed, every file staged again."""
    subprocess.run(["git", "clone", "-q", str(memory), str(target)], check=True, env=letta_code.env())
    subprocess.run(["git", "rm", "-q", "-r", "--cached", "."], cwd=target, check=True, env=letta_code.env())
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", "empty"], cwd=target, check=True,
                   env=letta_code.env())
    letta_code.install_hook(target)
    return target


@pytest.mark.parametrize("preset", preset_names())
def test_a_new_agents_memory_and_its_agents_writes_are_accepted_by_letta_code(
    preset: str, letta_code: LettaCode, tmp_path: Path
):
    home = Home(tmp_path / "home")
    agent = home.create_agent(f"fidelity-{preset}", preset=preset)
    repo = home.memory_repo(agent)
    ops = MemoryOperations(repo, agent.author, actor="agent", guard=memory_change_guard(MemorySettings()))
    for index, description in enumerate(TRICKY):
        ops.create(f"system/human/topic{index}.md", description, "Body.\n", reason="learned")
    ops.create("reference/tools.md", "tools", "A list.\n", reason="reference")
    ops.update_description("reference/tools.md", TRICKY[1], reason="clearer")
    ops.create("skills/deploy/SKILL.md", "How to deploy: the steps", "Run make ship.\n", reason="a skill")

    for index, description in enumerate(TRICKY):
        assert f"\ndescription: {description}\n" in repo.read(f"system/human/topic{index}.md").text
    verdict = letta_code.commit_through_hook(clone_with_hook(letta_code, repo.path, tmp_path / "clone"))
    assert verdict.accepted, verdict.message

