"""Bring a Letta Code agent over: its memory repository becomes a letta-ls agent's, history kept.

Letta Code keeps an agent's memory as a git repository (its local backend under
``~/.letta/lc-local-backend/memfs/<agent-id>/memory/``). Importing clones it (a clone, so every commit
and author stays), puts it on ``main``, drops the clone's remote (letta-ls syncs through its own
``sync.remote``) and records where it came from in the agent's description. Everything is built in a
staging folder inside the home and renamed into place at the end, so a failed import leaves nothing
half-made. Core code: nothing of LSP here.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from letta_ls.home import Agent, AgentError, Home, _now, write_json_atomic

LOCAL_BACKEND_MEMFS = Path("lc-local-backend") / "memfs"


def find_letta_code_memories(path: Path) -> list[tuple[str, Path]]:
    """``(agent id, memory repository)`` for ``path``: one memory repository, or every agent of a Letta
    Code install (``~/.letta``, or its ``lc-local-backend/memfs``)."""
    path = path.expanduser().resolve()
    if (path / ".git").exists():
        name = path.parent.name if path.name == "memory" else path.name
        return [(name, path)]
    for root in (path / LOCAL_BACKEND_MEMFS, path / "memfs", path):
        found = sorted((d.name, d / "memory") for d in root.glob("*") if (d / "memory" / ".git").exists())
        if found:
            return found
    raise AgentError(f"{path} is not a Letta Code memory repository nor a Letta Code install (~/.letta)")


def _git(args: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise AgentError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def import_agent(home: Home, source_id: str, memory: Path, name: str | None = None) -> Agent:
    """Clone ``memory`` into a new agent named ``name`` (default: the Letta Code agent id)."""
    name = " ".join(str(name or source_id).split())
    if any(a.name.casefold() == name.casefold() for a in home.list_agents()):
        raise AgentError(f"an agent named {name!r} already exists; pass --name to choose another")
    agent_id = f"agent-{secrets.token_hex(8)}"
    home.agents_dir.mkdir(parents=True, exist_ok=True)
    staging = home.agents_dir / f".import-{agent_id}"
    try:
        memory_dir = staging / "memory"
        _git(["clone", "--quiet", "--no-local", str(memory), str(memory_dir)])
        if not _git(["rev-parse", "--verify", "--quiet", "HEAD"], memory_dir).strip():
            raise AgentError(f"{memory} has no commits to import")
        _git(["branch", "-M", "main"], memory_dir)
        _git(["remote", "remove", "origin"], memory_dir)
        for sub in ("conversations", "backups", "memory-worktrees"):
            (staging / sub).mkdir()
        now = _now()
        agent = Agent(id=agent_id, name=name, dir=home.agents_dir / agent_id,
                      description=f"Imported from Letta Code agent {source_id} ({memory}) on {now}",
                      preset="imported", created=now, updated=now)
        write_json_atomic(staging / "agent.json", agent.to_json())
        staging.rename(agent.dir)  # appears whole or not at all
        return agent
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
