"""``letta-ls init`` without a model, as a user runs it, over the real Claude Code and Codex sessions kept in
tests/init/samples/real: the history note it commits to memory holds the prompts the person typed and none
of what the harness wrote (stop-hook feedback, AGENTS.md instructions, environment context, a summary of
another session).

The CLI reads ``~/.claude`` and ``~/.codex`` of ``HOME`` (the product's own lookup); no model is configured,
so /init writes its deterministic draft. Claude Code's session matches by the folder it recorded, so the
project lives at that folder (a ``/tmp/tmp…`` name the recording test harness chose); Codex's matches by the
repository URL its ``session_meta`` recorded, so the project is a clone with that remote."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.init.history import encode_project_dir

REAL = Path(__file__).parents[1] / "init" / "samples" / "real"
CLAUDE_PROJECT = "/tmp/tmpw6sk2trg"  # recorded by claude-reliability's coverage-test-fix session
CLAUDE_SESSION = "c64cc478-3430-40fe-8e9c-4ee9986e9754.jsonl"
CLAUDE_PROMPT = ("Add a function called multiply_numbers(a: int, b: int) -> int that multiplies two numbers "
                 "together. Add a test for it.")
CHATBOT_ROLLOUT = "rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl"
CHATBOT_PROMPT_START = "finish up the users work by rigging up the chatbot-ui to use lmstudio"
HARNESS_TEXT = ("Stop hook feedback", "CLAUDE_PLUGIN_ROOT", "Uncommitted Changes Detected", "PostToolUse",
                "environment_context", "AGENTS.md", "<INSTRUCTIONS>", "approval_policy", "queue-operation",
                "Git File Recovery After Accidental Deletion")


def real_home(root: Path) -> Path:
    """Every real session where Claude Code and Codex keep them, as on the machines that wrote them."""
    projects = root / ".claude" / "projects"
    for name, cwd in ((CLAUDE_SESSION, CLAUDE_PROJECT),
                      ("de3b8b19-5bc0-4a2a-934a-1b6806567e25.jsonl", "/tmp/tmp74wiyiny")):
        folder = projects / encode_project_dir(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL / "claude-reliability" / name, folder / name)
    shutil.copytree(REAL / "claude-parser", projects / encode_project_dir("/Volumes/AliDev/ai-projects/claude-parser"))
    rollouts = root / ".codex" / "sessions" / "2025" / "11" / "17"
    rollouts.mkdir(parents=True)
    shutil.copy(REAL / "codex-session-view" / CHATBOT_ROLLOUT, rollouts / CHATBOT_ROLLOUT)
    later = root / ".codex" / "sessions" / "2025" / "12" / "28"
    later.mkdir(parents=True)
    for path in (REAL / "claude-code-transcripts").glob("rollout-*"):
        shutil.copy(path, later / path.name)
    return root


def init(folder: Path, home: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "letta_ls", "init", str(folder), "--format", "json"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def history_note(result: dict) -> str:
    """The history note /init committed: read from the memory repository at the commit it reported."""
    repo = Home().memory_repo(Home().current_agent())
    assert repo.head() == result["commits"][-1]
    [note] = [f.text for f in repo.snapshot() if f.path.endswith("/history.md")]
    return note


@pytest.fixture
def claude_project() -> Iterator[Path]:
    """The folder the real session recorded, made for the test and removed after it."""
    folder = Path(CLAUDE_PROJECT)
    made = not folder.exists()
    folder.mkdir(exist_ok=True)
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "math_utils.py").write_text('"""Math utility functions."""\n')
    try:
        yield folder
    finally:
        if made:
            shutil.rmtree(folder, ignore_errors=True)


def test_init_without_a_model_over_real_claude_code_sessions_writes_the_typed_prompt_only(
        tmp_path: Path, claude_project: Path):
    result = init(claude_project, real_home(tmp_path / "home"))
    note = history_note(result)
    assert re.search(r"\b1 sessions? \(1 Claude Code\)", note)  # the other /tmp session, the 1.0.89 one: not here
    assert CLAUDE_PROMPT in note
    assert "Write a shell script called hello.sh" not in note  # another /tmp project's session
    for harness in HARNESS_TEXT:
        assert harness not in note, harness


def test_init_without_a_model_over_a_real_codex_rollout_matched_by_its_remote(tmp_path: Path):
    project = tmp_path / "chatbot-ui"
    project.mkdir()
    (project / "README.md").write_text("# chatbot-ui\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "remote", "add", "origin", "git@github.com:AcidicSoil/chatbot-ui.git"],
                   check=True)
    result = init(project, real_home(tmp_path / "home"))
    note = history_note(result)
    assert re.search(r"\b1 sessions? \(1 Codex\)", note) and CHATBOT_PROMPT_START in note
    assert "can you analyse the MD files" not in note  # the other rollout is another project's
    assert "Add a function called multiply_numbers" not in note
    for harness in HARNESS_TEXT:
        assert harness not in note, harness
