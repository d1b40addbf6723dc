"""Shared fixtures: every test gets its own LETTA_LS_HOME and a git that ignores the machine's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_ls.memfs.repo import Author, MemoryRepo

AGENT = Author("Test Agent", "agent-test@letta-ls.local")
SEED = {
    "system/persona.md": "---\ndescription: Who I am and how I work.\n---\nI am a careful coding agent.\n",
    "system/human.md": "---\ndescription: What I know about the user.\n---\nThe user likes short answers.\n",
}


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("letta-home")
    gitconfig = tmp_path_factory.mktemp("gitcfg") / "gitconfig"
    gitconfig.write_text("")
    monkeypatch.setenv("LETTA_LS_HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def repo(tmp_path: Path) -> MemoryRepo:
    return MemoryRepo.create(tmp_path / "memory", SEED, AGENT)


from tests.fakes import anthropic_server, openai_server  # noqa: E402, F401 - shared fixtures
