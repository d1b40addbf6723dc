"""The VS Code extension in a real VS Code: code-server, headless Chromium, the packaged ``.vsix`` and letta-ls.

The scenarios live in ``tests/editors/vscode/drive.mjs`` and assert on the page; these tests prepare what
the page shows (a home with memory, a workspace whose ``.venv`` is this one so the extension's default
server command is what starts letta-ls, the scripted OpenAI server for the chat) and check afterwards
what must be true on disk: the commits, their texts, the transcript. Screenshots of every step land in
``test-artifacts/vscode/``. ``vscode_harness.py`` runs code-server; setup is ``tests/editors/vscode/setup.sh``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.memfs.repo import Author
from tests.editors.vscode_harness import (
    ARTIFACTS,
    EXTENSION,
    Toolchain,
    VSCodeSession,
    build_extension,
    run_logged,
    set_up_editor,
)
from tests.fakes import Script, scripted_openai

API_KEY_ENV = "LETTA_E2E_OPENAI_KEY"
API_KEY = "sk-e2e-not-a-real-key"
CHAT_MESSAGE = "Our backend is written in Go."
CHAT_REPLY = "Noted: the backend is Go, and it is in memory now."
# The first test in a worker sets up the toolchain. Under `make test` that already happened (seconds); run
# alone on a fresh machine it installs chromium and builds code-server (minutes). Each step has its own
# bound (set-up 25 min, the driver 4 min), so a larger pytest timeout never lets a test hang.
COLD_SETUP_TIMEOUT = pytest.mark.timeout(1800)
SEED = {
    # no description in system/: Letta Code refuses it, the doctor's description-missing error
    "system/notes.md": "---\nlimit: 500\n---\nThe user deploys on Fridays.\n",
    "reference/stack.md": "---\ndescription: The project's stack and tools\n---\nPython 3.11, pygls 2.\n",
    "skills/pdf/SKILL.md": "---\nname: pdf\ndescription: Read and write PDF files\n---\nUse pypdf.\n",
}


@pytest.fixture(scope="module")
def extension() -> Toolchain:
    return build_extension()


@pytest.fixture(scope="module")
def toolchain(extension: Toolchain) -> Toolchain:
    return set_up_editor(extension)


def clean_environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    return env


def make_workspace(tmp_path: Path, *, venv: bool) -> Path:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    if venv:
        (workspace / ".venv").symlink_to(Path(sys.prefix))  # the extension's default: <workspace>/.venv/bin/letta-ls
    (workspace / "README.md").write_text("# A project\n")
    return workspace


def fresh_shots(folder: Path) -> Path:
    """This test's screenshot folder, emptied (the other test's folder is left alone)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    return folder


@COLD_SETUP_TIMEOUT
def test_extension_logic_unit_tests(extension: Toolchain) -> None:
    """The extension's pure parts under Node's test runner: server command choice, settings, chat, tree."""
    out = run_logged(["npm", "run", "--silent", "test:unit"], what="npm run test:unit (editors/vscode)",
                     env=extension.env_with_node(), timeout=300, cwd=EXTENSION)
    assert "fail 0" in out and "pass 0" not in out, out


@COLD_SETUP_TIMEOUT
def test_vscode_extension_end_to_end(toolchain: Toolchain, tmp_path: Path) -> None:
    started = time.monotonic()
    shots = fresh_shots(ARTIFACTS)
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    home.memory_repo(agent).commit({path: text.encode() for path, text in SEED.items()},
                                   "seed memory for the VS Code test", Author("Test", "test@example.com"))
    script = Script().tool_call("memory", {
        "command": "create", "file_path": "system/stack.md", "description": "The project's stack",
        "file_text": "Backend in Go.", "reason": "learned the backend language",
    }).text(CHAT_REPLY)
    with scripted_openai(script) as model:
        session = VSCodeSession(toolchain, tmp_path, workspace=make_workspace(tmp_path, venv=True), shots=shots,
                                settings={
                                    "letta.home": str(tmp_path / "home"),
                                    "letta.model.provider": "openai",
                                    "letta.model.name": "gpt-e2e",
                                    "letta.model.baseUrl": model.base_url,
                                    "letta.model.apiKeyEnv": API_KEY_ENV,
                                },
                                # the agent lives where letta.home says, not here: proves the setting arrives
                                env=clean_environment(LETTA_LS_HOME=str(tmp_path / "unused-home"),
                                                      **{API_KEY_ENV: API_KEY}))
        session.drive("main", agentId=agent.id, agentName=agent.name, memoryDir=str(agent.memory_dir),
                      chatMessage=CHAT_MESSAGE, chatReply=CHAT_REPLY)
    e2e_seconds = time.monotonic() - started

    repo = home.memory_repo(agent)
    history = repo.history(limit=30)
    messages = [entry.message for entry in history]
    # the editor's saves are commits with the text the user typed; the agent's edit is one too
    assert "edit system/notes.md in the editor" in messages
    assert "description: How the user ships releases" in repo.read("system/notes.md").text
    assert "learned the backend language" in messages
    assert repo.read("system/stack.md").text.endswith("Backend in Go.\n")
    # two stale saves (Overwrite, then Compare and save again): each time the user's text went on top and
    # the other window's version stayed in history right below it
    human_log = [m for m in messages if "human.md" in m or m.startswith("edited elsewhere")]
    assert human_log[:4] == ["edit system/human.md in the editor", "edited elsewhere again",
                             "edit system/human.md in the editor", "edited elsewhere"], messages
    human = repo.read("system/human.md").text
    assert "The user reviews on Mondays. Prefers tabs." in human and "Edited elsewhere" not in human
    for message, description in (("edited elsewhere", "Edited elsewhere"),
                                 ("edited elsewhere again", "Edited elsewhere again")):
        theirs = history[messages.index(message)].commit
        assert f"description: {description}\n" in repo.read("system/human.md", theirs).text
    # the chat reached the scripted model with the key from the environment; the transcript holds the turn
    assert model.model_requests, "the chat never reached the model"
    assert model.model_requests[0].header("authorization") == f"Bearer {API_KEY}"
    assert CHAT_MESSAGE in json.dumps(model.model_requests[0].messages)
    transcript = (agent.conversations_dir / "default.jsonl").read_text()
    assert CHAT_MESSAGE in transcript and CHAT_REPLY in transcript
    assert not (tmp_path / "unused-home" / "agents").exists(), "the server ignored letta.home"
    # renamed, then deleted, from the Memory view: two commits, and history still holds the text
    assert messages[:2] == ["delete reference/toolchain.md in the editor",
                            "rename reference/stack.md to reference/toolchain.md in the editor"], messages
    assert "reference/stack.md" not in repo.snapshot() and "reference/toolchain.md" not in repo.snapshot()
    assert "pygls 2" in repo.read("reference/toolchain.md", history[1].commit).text
    names = sorted(p.name for p in shots.glob("*.png"))
    assert len(names) >= 15, names
    timings = {"setup_seconds_this_run": toolchain.setup_seconds, "e2e_seconds": round(e2e_seconds, 1)}
    (shots / "timings.json").write_text(json.dumps(timings, indent=1))
    print(f"VS Code e2e: {timings}")


@COLD_SETUP_TIMEOUT
def test_a_server_command_that_cannot_start_is_explained(toolchain: Toolchain, tmp_path: Path) -> None:
    """A wrong letta.server.command: the user is told what failed and what to change, nothing hangs, and the
    status bar says the server is not running. The memory on disk is untouched."""
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    head = home.memory_repo(agent).head()
    missing = tmp_path / "no-such-dir" / "letta-ls"
    session = VSCodeSession(toolchain, tmp_path, workspace=make_workspace(tmp_path, venv=False),
                            shots=fresh_shots(ARTIFACTS / "bad-server-command"),
                            settings={"letta.server.command": [str(missing), "serve"],
                                      "letta.home": str(tmp_path / "home")},
                            env=clean_environment())
    session.drive("bad-server-command", command=str(missing))
    assert home.memory_repo(agent).head() == head
    letta_logs = list(session.user_data.glob("logs/**/Letta.log"))
    assert letta_logs and any(str(missing) in p.read_text() for p in letta_logs), session.collect_logs()

