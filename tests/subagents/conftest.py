"""Fixtures for the subagent tests: an agent's memory with a notes file and its worktrees, a scripted model
and the memory subagents of a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.subagents.service import MemorySubagents
from letta_ls.subagents.worktrees import Worktrees
from tests.conftest import SEED
from tests.fakes import Script, scripted_openai
from tests.subagents.helpers import AGENT, NOTES


@pytest.fixture
def memory(tmp_path: Path) -> MemoryRepo:
    return MemoryRepo.create(tmp_path / "agent" / "memory", {**SEED, "notes.md": NOTES}, AGENT)


@pytest.fixture
def trees(memory: MemoryRepo) -> Worktrees:
    return Worktrees(memory, memory.path.parent / "memory-worktrees")


@pytest.fixture
def model():
    """A scripted OpenAI-compatible model server with an empty script: the test fills ``model.script``."""
    with scripted_openai(Script()) as server:
        yield server


@pytest.fixture
async def subagents(session):
    """The memory subagents of the test module's ``session``, started, and closed after the test."""
    service = MemorySubagents(session)
    await service.start()
    yield service
    await service.close()
