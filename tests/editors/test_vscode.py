"""The VS Code extension in a real VS Code: code-server, headless Chromium, the packaged ``.vsix`` and letta-ls.

``tests/editors/vscode/setup.sh`` installs what this needs (Debian's chromium, Node 24 and code-server from
npm, playwright-core) once, outside the clone; ``make vsix`` builds the extension. The scenario runs in
``tests/editors/vscode/drive.mjs`` and asserts on the DOM; this file prepares a home with memory to show,
a workspace whose ``.venv`` is this one (so the extension's default server command is what starts
letta-ls), and the scripted OpenAI server the chat talks to. Afterwards it checks what must be true on
disk: the commits, their texts, the transcript. Screenshots of every step land in
``test-artifacts/vscode/``; when anything fails, the code-server log, the extension host log and the
extension's own log are attached to the failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.memfs.repo import Author
from tests.fakes import Script, scripted_openai

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "editors" / "vscode"
EXTENSION = REPO / "editors" / "vscode"
ARTIFACTS = REPO / "test-artifacts" / "vscode"
API_KEY_ENV = "LETTA_E2E_OPENAI_KEY"
API_KEY = "sk-e2e-not-a-real-key"
CHAT_MESSAGE = "Our backend is written in Go."
CHAT_REPLY = "Noted: the backend is Go, and it is in memory now."
SEED = {
    # no description: the doctor's description-missing error, shown as a diagnostic in the editor
    "system/notes.md": "---\nlimit: 500\n---\nThe user deploys on Fridays.\n",
    "reference/stack.md": "---\ndescription: The project's stack and tools\n---\nPython 3.11, pygls 2.\n",
    "skills/pdf/SKILL.md": "---\nname: pdf\ndescription: Read and write PDF files\n---\nUse pypdf.\n",
}


def run_logged(command: list[str], *, what: str, env: dict[str, str] | None = None, timeout: float,
               cwd: Path = REPO) -> str:
    """Run a set-up step; on failure, fail the test with its whole output (it says what to install)."""
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} did not finish in {timeout:.0f} s:\n{exc.stdout}\n{exc.stderr}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


@pytest.fixture(scope="module")
def extension_build() -> dict[str, str]:
    """The packaged extension (``make vsix``: typecheck, bundle, package) and the Node that built it."""
    run_logged(["make", "-s", "vsix"], what="make vsix", timeout=600)
    node_bin = run_logged([str(EXTENSION / "scripts" / "node24.sh")], what="node24.sh", timeout=300).strip()
    return {"NODE_BIN": node_bin, "VSIX": str(EXTENSION / "letta-ls.vsix")}


@pytest.fixture(scope="module")
def toolchain(extension_build: dict[str, str]) -> dict[str, str]:
    """NODE_BIN, CODE_SERVER, CHROMIUM and VSIX; installs what is missing (idempotent, cached)."""
    started = time.monotonic()
    out = run_logged([str(E2E / "setup.sh")], what="tests/editors/vscode/setup.sh", timeout=1500)
    tools = {**extension_build, **dict(line.split("=", 1) for line in out.splitlines() if "=" in line)}
    tools["setup_seconds"] = f"{time.monotonic() - started:.2f}"
    return tools


def test_extension_logic_unit_tests(extension_build: dict[str, str]) -> None:
    """The extension's pure parts under Node's test runner: server command choice, settings, chat, tree."""
    env = {**os.environ, "PATH": f"{extension_build['NODE_BIN']}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = run_logged(["npm", "run", "--silent", "test:unit"], what="npm run test:unit (editors/vscode)",
                     env=env, timeout=300, cwd=EXTENSION)
    assert "# fail 0" in out or "fail 0" in out, out
    assert "pass 0" not in out, out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_home(home: Path) -> tuple[Home, str]:
    letta_home = Home(home)
    agent = letta_home.current_agent()
    repo = letta_home.memory_repo(agent)
    repo.commit({path: text.encode() for path, text in SEED.items()}, "seed memory for the VS Code test",
                Author("Test", "test@example.com"))
    return letta_home, agent.id


def tail(path: Path, lines: int = 150) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text[-lines:])


def collect_logs(user_data: Path, code_server_log: Path) -> str:
    """code-server's log, the extension host log and the Letta output channel, for a failure message."""
    parts = [f"===== code-server ({code_server_log}) =====\n{tail(code_server_log)}"]
    logs = sorted(user_data.glob("logs/**/*.log"))
    wanted = [p for p in logs if "exthost" in p.name or "Letta" in p.name or "remoteexthost" in p.name]
    for path in wanted:
        parts.append(f"===== {path.relative_to(user_data)} =====\n{tail(path)}")
    if not wanted:
        parts.append(f"(no extension host log under {user_data / 'logs'}: {[str(p) for p in logs][:20]})")
    return "\n\n".join(parts)


@contextlib.contextmanager
def process_group(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Start ``command`` in its own session and kill the whole group afterwards (code-server starts a
    tree: its server, the extension host, the file watcher, letta-ls)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def wait_healthy(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"code-server exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return
        time.sleep(0.2)
    pytest.fail(f"code-server did not answer /healthz in 60 s:\n{tail(log)}")


def test_vscode_extension_end_to_end(toolchain: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    home, agent_id = seed_home(tmp_path / "home")
    agent = home.find_agent(agent_id)
    memory_dir = agent.memory_dir
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".venv").symlink_to(Path(sys.prefix))  # the extension's default: <workspace>/.venv/bin/letta-ls
    (workspace / "README.md").write_text("# A project\n")
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)

    script = Script().tool_call("memory", {
        "command": "create", "file_path": "system/stack.md", "description": "The project's stack",
        "file_text": "Backend in Go.", "reason": "learned the backend language",
    }).text(CHAT_REPLY)
    with scripted_openai(script) as model:
        (user_data / "User" / "settings.json").write_text(json.dumps({
            "letta.home": str(tmp_path / "home"),
            "letta.model.provider": "openai",
            "letta.model.name": "gpt-e2e",
            "letta.model.baseUrl": model.base_url,
            "letta.model.apiKeyEnv": API_KEY_ENV,
            # tidy screenshots: no welcome page, no AI chat view, no secondary side bar, no telemetry
            "workbench.startupEditor": "none",
            "chat.disableAIFeatures": True,
            "workbench.secondarySideBar.defaultVisibility": "hidden",
            "workbench.tips.enabled": False,
            "telemetry.telemetryLevel": "off",
            "update.mode": "none",
            "extensions.autoCheckUpdates": False,
            "extensions.autoUpdate": False,
            "git.enabled": False,
            "files.autoSave": "off",  # code-server saves after a delay by default; the test saves itself
            "remote.autoForwardPorts": False,
        }, indent=1))
        env = {
            **os.environ,
            "PATH": f"{toolchain['NODE_BIN']}{os.pathsep}{os.environ.get('PATH', '')}",
            # keep code-server (and everything it starts) out of the home directory
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_RUNTIME_DIR": str(tmp_path / "xdg-runtime"),
            # the agent lives where letta.home says, not here: proves the setting reaches the server
            "LETTA_LS_HOME": str(tmp_path / "unused-home"),
            API_KEY_ENV: API_KEY,
        }
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
            env.pop(name, None)
        code_server = toolchain["CODE_SERVER"]
        dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
        run_logged([code_server, *dirs, "--install-extension", toolchain["VSIX"]], what="installing the .vsix",
                   env=env, timeout=120)
        port = free_port()
        cs_log = tmp_path / "code-server.log"
        config = {
            "url": f"http://127.0.0.1:{port}/?folder={workspace}",
            "chromium": toolchain["CHROMIUM"],
            "shots": str(ARTIFACTS),
            "profileDir": str(tmp_path / "chromium-profile"),
            "agentId": agent_id,
            "agentName": agent.name,
            "memoryDir": str(memory_dir),
            "chatMessage": CHAT_MESSAGE,
            "chatReply": CHAT_REPLY,
        }
        (tmp_path / "drive.json").write_text(json.dumps(config))
        with process_group([code_server, *dirs, "--bind-addr", f"127.0.0.1:{port}", "--auth", "none",
                            "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
                            "--disable-getting-started-override", "--disable-proxy", str(workspace)],
                           env=env, log=cs_log) as server:
            wait_healthy(port, server, cs_log)
            drive_log = tmp_path / "drive.log"
            with process_group(["node", str(E2E / "drive.mjs"), str(tmp_path / "drive.json")], env=env,
                               log=drive_log) as driver:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    driver.wait(240)
                finished = driver.poll()
            if finished != 0:
                (ARTIFACTS / "code-server-and-extension-logs.txt").write_text(collect_logs(user_data, cs_log))
                pytest.fail(f"the VS Code scenario failed ({'timed out' if finished is None else f'exit {finished}'})"
                            f"; screenshots in {ARTIFACTS}\n\n===== driver =====\n{tail(drive_log)}\n\n"
                            f"{collect_logs(user_data, cs_log)}", pytrace=False)
        e2e_seconds = time.monotonic() - started

    repo = home.memory_repo(agent)
    history = repo.history(limit=20)
    messages = [entry.message for entry in history]
    # the editor's saves are commits, with the text the user typed; the agent's edit is one too
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
    # the chat reached the scripted model with the key from the environment, and the transcript holds the turn
    assert model.model_requests, "the chat never reached the model"
    assert model.model_requests[0].header("authorization") == f"Bearer {API_KEY}"
    assert CHAT_MESSAGE in json.dumps(model.model_requests[0].messages)
    transcript = (agent.conversations_dir / "default.jsonl").read_text()
    assert CHAT_MESSAGE in transcript and CHAT_REPLY in transcript
    shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    assert len(shots) >= 11, shots
    timings = {"setup_seconds_this_run": float(toolchain["setup_seconds"]), "e2e_seconds": round(e2e_seconds, 1)}
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=1))
    print(f"VS Code e2e: {timings}; screenshots: {shots}")
