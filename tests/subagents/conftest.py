"""Fixtures for the subagent tests: an agent's memory with a notes file and its worktrees; for /init's inputs,
a fake home holding the sample Claude Code and Codex sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.subagents.service import MemorySubagents
from letta_ls.subagents.transcripts import HistorySources, ProjectMatcher
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


SAMPLES = Path(__file__).parent / "samples"
PROJECT = "/home/ada/code/shop-api"
REMOTE = "git@github.com:ada-l/shop-api.git"
S1 = "3f1c2a9e-7b4d-4c8e-9a51-2d6f0e8b7c14"  # Claude Code 2.0: corrections, a secret, a cut-off last line
S2 = "9a7e4c21-0d3b-4f6a-8c2e-5b1d7f3e9a60"  # Claude Code 1.0: inline sidechain, compaction, junk line
S3 = "c2d4e6f8-1a3b-4c5d-8e7f-90a1b2c3d4e5"  # Claude Code 2.1: started in web/, subagent in subagents/
COLLIDING = "5e8a1f37-6c2d-4b9e-a0f1-3d7c8b2e4a96"  # /home/ada/code/shop_api: same folder name, other project
CODEX_BARE = "5f0d6c1e-2b7a-4d93-8e41-a6c3b9f2d017"
CODEX_WRAPPED = "0199a7c2-5d1e-7b3f-9c80-2e4f6a8b1d03"
CODEX_NEW = "019c24e3-8a1b-7c2d-9e3f-4a5b6c7d8e9f"
CODEX_MOVED = "019b9d10-2222-7333-8444-555566667777"
SECRETS = ("sk_live_9GUHS6P1rkgBY4ATSWlyvbkOd9RxBkFZ", "eF8CFAHIS5D1kvLD2d",
           "sk-proj-EvqtByuZKnPWfSgtxfd-BrqddOJ5guCxgQ_m23nPP3Bs7TUMrFb6aqm3dW1hRHLN",
           "ghp_KlDTlyUXAO0IQleNJaZJpsaujaLHSLMhXRty")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder with ``~/.claude`` and ``~/.codex`` holding the samples."""
    root = tmp_path / "home"
    shutil.copytree(SAMPLES / "claude", root / ".claude")
    shutil.copytree(SAMPLES / "codex", root / ".codex")
    return root


@pytest.fixture
def sources(home: Path) -> HistorySources:
    return HistorySources.from_home(home, env={})


@pytest.fixture
def matcher() -> ProjectMatcher:
    return ProjectMatcher.for_folders([PROJECT])


def claude_file(home: Path, session: str, folder: str = "-home-ada-code-shop-api") -> Path:
    return home / ".claude" / "projects" / folder / f"{session}.jsonl"


def codex_file(home: Path, session: str) -> Path:
    return next((home / ".codex" / "sessions").rglob(f"rollout-*-{session}.jsonl"))
