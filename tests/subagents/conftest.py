"""Fixtures for the subagent tests: an agent's memory with a notes file and its worktrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.subagents.worktrees import Worktrees
from tests.conftest import SEED
from tests.subagents.helpers import AGENT, NOTES


@pytest.fixture
def memory(tmp_path: Path) -> MemoryRepo:
    return MemoryRepo.create(tmp_path / "agent" / "memory", {**SEED, "notes.md": NOTES}, AGENT)


@pytest.fixture
def trees(memory: MemoryRepo) -> Worktrees:
    return Worktrees(memory, memory.path.parent / "memory-worktrees")
