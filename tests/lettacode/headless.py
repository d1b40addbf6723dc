"""Memory written by Letta Code's own memory tool: real headless turns against our scripted model.

``letta_code_wrote_memory`` runs the real ``letta -p ... --new-agent -m openai-compatible/<id>
--output-format json`` with ``HOME`` in a scratch folder and the local backend (no network), while
``tests/fakes/openai_server.py`` answers with ``memory`` tool calls: create, str_replace, insert,
rename and update_description, with descriptions of the shapes that broke letta-ls before (colons,
backticks, quotes, a leading quote, long text) and Letta Code's default ``system/human/tooling.md``
beside ``system/human.md``. Every write goes through Letta Code's memory tool and is committed
through its own pre-commit hook, so the repository is exactly what a Letta Code user has on disk.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.openai_server import scripted_openai
from tests.fakes.script import Script
from tests.lettacode.oracle import LettaCode

LONG = ("Everything about how the user likes their builds to run, which package manager each workspace "
        "uses, where the caches live, and the flags they always pass when running the test suite locally")

# path -> the description the tool was asked to write, after every turn
DESCRIPTIONS = {
    "system/human/tooling.md": "Tooling: package manager and build prefs",
    "system/project.md": "`pnpm` workspace notes",
    "system/style.md": '"Terse" answers: no preamble',
    "reference/api.md": "API notes: `GET /x` returns 'json' # not yaml",
    "system/human/builds.md": LONG,
    "notes/ideas.md": "'single' quoted start, then text",
}
WRITTEN_PATHS = sorted(DESCRIPTIONS)

TURNS: list[list[dict]] = [
    [{"command": "create", "file_path": "system/human/tooling.md", "reason": "learned tooling",
      "description": "Tooling: package manager and build prefs", "file_text": "Uses pnpm.\n"},
     {"command": "create", "file_path": "system/project.md", "reason": "project",
      "description": "`pnpm` workspace notes", "file_text": "Workspaces: apps/*, packages/*.\n"}],
    [{"command": "create", "file_path": "system/style.md", "reason": "style",
      "description": "Style", "file_text": "Terse.\nNo preamble.\n"},
     {"command": "update_description", "file_path": "system/style.md", "reason": "clearer",
      "description": '"Terse" answers: no preamble'},
     {"command": "str_replace", "file_path": "system/project.md", "reason": "fix",
      "old_string": "packages/*", "new_string": "libs/*"},
     {"command": "insert", "file_path": "system/style.md", "reason": "more", "insert_line": 1,
      "insert_text": "Bullet points welcome."}],
    [{"command": "create", "file_path": "reference/draft.md", "reason": "api",
      "description": "API notes: `GET /x` returns 'json' # not yaml", "file_text": "GET /x\n"},
     {"command": "rename", "old_path": "reference/draft.md", "new_path": "reference/api.md", "reason": "name"},
     {"command": "create", "file_path": "system/human/builds.md", "reason": "builds",
      "description": LONG, "file_text": "make -j8\n"},
     {"command": "create", "file_path": "notes/ideas.md", "reason": "ideas",
      "description": "'single' quoted start, then text", "file_text": "Try bun.\n"}],
]


@dataclass(frozen=True)
class LettaCodeMemory:
    """The memory repository of an agent Letta Code created, after the scripted turns."""

    memory: Path
    agent_id: str
    tool_results: list[str]


def letta_code_wrote_memory(letta_code: LettaCode, scratch: Path) -> LettaCodeMemory:
    """Run one headless turn per entry of ``TURNS`` (the first creates the agent): one model reply per tool
    call, in order, then a closing text reply."""
    home = scratch / "home"
    home.mkdir(parents=True)
    letta = letta_code.letta_js.parent.parent.parent / ".bin" / "letta"
    env = letta_code.env() | {"HOME": str(home), "LETTA_LOCAL_BACKEND_EXPERIMENTAL": "1", "DISABLE_TELEMETRY": "1"}
    script = Script()
    for calls in TURNS:
        for call in calls:
            script.tool_call("memory", call)
        script.text("Noted.")
    agent_id = ""
    with scripted_openai(script) as server:
        run([str(letta), "connect", "openai-compatible", "--base-url", server.base_url, "--api-key", "sk-fake"], env)
        for index in range(len(TURNS)):
            where = ["--new-agent"] if index == 0 else ["--agent", agent_id]
            out = run([str(letta), "-p", f"turn {index}: remember this", *where, "-m", "openai-compatible/fake-gpt",
                       "--output-format", "json"], env)
            agent_id = json.loads(out)["agent_id"]
        results = [message.get("content") or "" for request in server.model_requests
                   for message in (request.body.get("messages") or []) if message.get("role") == "tool"]
    memory = home / ".letta" / "lc-local-backend" / "memfs" / agent_id / "memory"
    return LettaCodeMemory(memory, agent_id, [r if isinstance(r, str) else json.dumps(r) for r in results])


def run(command: list[str], env: dict[str, str]) -> str:
    """Run in the scratch HOME: Letta Code keeps project settings (``.letta/``) in its working directory."""
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:3]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout
