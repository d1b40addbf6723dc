"""``LETTA_LS_HOME``: agents, their memory repositories, ``settings.json``, last-used agent and pins.

Layout (SPEC section 3)::

    settings.json                      global settings + {"lastAgent": id, "pinned": [ids]}
    agents/<agent-id>/agent.json       name, description, preset, model, created/updated/lastUsed
    agents/<agent-id>/memory/          the MemFS git repository
    agents/<agent-id>/memory-worktrees/, conversations/, backups/

All JSON files are written atomically (temporary file + rename) under an ``flock`` on ``.lock`` in the
home, so two editor windows and the CLI can share one home. This module never talks LSP or prints.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from git.exc import GitError

from letta_ls.atomic_files import write_atomic
from letta_ls.config_problems import (
    AGENT_INVALID,
    HOME_UNUSABLE,
    MEMORY_BROKEN,
    MEMORY_MISSING,
    SETTINGS_INVALID,
    ConfigurationProblem,
)
from letta_ls.file_locks import locked_file
from letta_ls.memfs.presets import get_preset
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.repo_errors import MemoryRepoError, WriterLockTimeout
from letta_ls.settings import Settings, SettingsError, home_from_environment, structure_settings

DEFAULT_AGENT_NAME = "Letta Code"
STATE_KEYS = ("lastAgent", "pinned")


class AgentError(ValueError):
    """An agent could not be found or created; the message lists what exists.

    ``kind`` is the refusal as a stable word (``letta_ls.contract.errors.ErrorKind``'s values)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON, replacing ``path`` atomically."""
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _read_json(path: Path, problem: str, fix: str) -> dict[str, Any]:
    """The JSON object in ``path`` ({} when there is none); anything else is a ``ConfigurationProblem``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationProblem(problem, path, f"not valid JSON ({exc})", fix) from exc
    except RecursionError as exc:  # json.loads recurses once per level of nesting
        raise ConfigurationProblem(problem, path, "nested too deeply to be read", fix) from exc
    except OSError as exc:
        raise ConfigurationProblem(problem, path, f"cannot be read ({exc.strerror or exc})", fix) from exc
    if not isinstance(data, dict):
        raise ConfigurationProblem(problem, path, f"must hold a JSON object, not {_json_kind(data)}", fix)
    return data


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


SETTINGS_FIX = "fix or remove it (letta-ls then uses the default settings)"
AGENT_FIX = "fix it by hand, or move the agent's folder away to forget this agent"


def _agent_folder(name: str) -> property:
    """A read-only attribute: the folder ``name`` inside the agent's folder."""

    def folder(agent: Agent) -> Path:
        return agent.dir / name

    return property(folder)


@dataclass
class Agent:
    id: str
    name: str
    dir: Path
    description: str = ""
    preset: str = "default"
    model: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    last_used: str | None = None

    memory_dir = _agent_folder("memory")
    worktrees_dir = _agent_folder("memory-worktrees")
    conversations_dir = _agent_folder("conversations")
    backups_dir = _agent_folder("backups")

    @property
    def author(self) -> Author:
        return Author(self.name, f"{self.id}@letta-ls.local")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "description": self.description, "preset": self.preset,
            "model": self.model, "created": self.created, "updated": self.updated, "lastUsed": self.last_used,
        }

    @classmethod
    def from_json(cls, directory: Path, data: dict[str, Any]) -> Agent:
        """An agent record; a field of the wrong kind (a hand edit) is a ``ConfigurationProblem``."""
        for key in ("id", "name", "description", "preset", "created", "updated", "lastUsed"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigurationProblem(AGENT_INVALID, directory / "agent.json",
                                           f"{key!r} must be a string, not {_json_kind(data[key])}", AGENT_FIX)
        if data.get("model") is not None and not isinstance(data["model"], dict):
            raise ConfigurationProblem(AGENT_INVALID, directory / "agent.json",
                                       f"'model' must be an object like {{\"name\": \"gpt-4.1\"}}, not "
                                       f"{_json_kind(data['model'])}", AGENT_FIX)
        return cls(
            id=str(data.get("id") or directory.name), name=str(data.get("name") or directory.name), dir=directory,
            description=str(data.get("description") or ""), preset=str(data.get("preset") or "default"),
            model=dict(data.get("model") or {}), created=str(data.get("created") or ""),
            updated=str(data.get("updated") or ""), last_used=data.get("lastUsed"),
        )


class Home:
    """One ``LETTA_LS_HOME``."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else Path(home_from_environment())
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = "is not a directory" if self.root.exists() else f"cannot be created ({exc.strerror or exc})"
            raise ConfigurationProblem(HOME_UNUSABLE, self.root, f"the letta-ls home {what}",
                                       "move it away or point LETTA_LS_HOME (or --home, or the `letta.home` "
                                       "setting) at a directory you can write") from exc
        self.agents_dir = self.root / "agents"
        self.settings_path = self.root / "settings.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with locked_file(self.root / ".lock"):
            yield

    # ------------------------------------------------------------------ settings.json
    def raw_settings(self) -> dict[str, Any]:
        return _read_json(self.settings_path, SETTINGS_INVALID, SETTINGS_FIX)

    def settings(self, *overrides: dict[str, Any] | None) -> Settings:
        """settings.json under the editor's ``overrides``; a bad settings.json is a ``ConfigurationProblem``
        naming it, a bad override stays a ``SettingsError`` (the editor's, not the file's)."""
        raw = {k: v for k, v in self.raw_settings().items() if k not in STATE_KEYS}
        try:
            structure_settings(raw)
        except SettingsError as exc:
            raise ConfigurationProblem(SETTINGS_INVALID, self.settings_path, str(exc), SETTINGS_FIX) from exc
        except RecursionError as exc:
            raise ConfigurationProblem(SETTINGS_INVALID, self.settings_path, "nested too deeply to be read",
                                       SETTINGS_FIX) from exc
        return structure_settings(raw, *overrides)

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        with self._locked():
            data = self.raw_settings()
            for key, value in changes.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            write_json_atomic(self.settings_path, data)
            return data

    # ------------------------------------------------------------------ agents
    def scan_agents(self) -> tuple[list[Agent], list[ConfigurationProblem]]:
        """Every readable agent, and a problem for each agent folder whose agent.json is broken, so that one
        broken record does not hide the others."""
        if not self.agents_dir.is_dir():
            return [], []
        agents, broken = [], []
        for entry in sorted(self.agents_dir.iterdir()):
            meta = entry / "agent.json"
            if entry.is_dir() and meta.exists():
                try:
                    agents.append(Agent.from_json(entry, _read_json(meta, AGENT_INVALID, AGENT_FIX)))
                except ConfigurationProblem as problem:
                    broken.append(problem)
        return agents, broken

    def list_agents(self) -> list[Agent]:
        """The agents whose record can be read (``scan_agents`` also says which cannot)."""
        return self.scan_agents()[0]

    def pinned(self) -> list[str]:
        """The pinned agent ids, for display: none while settings.json cannot be read."""
        try:
            value = self.raw_settings().get("pinned") or []
        except ConfigurationProblem:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []

    def find_agent(self, key: str) -> Agent:
        """An agent by id, or by name (case-insensitive)."""
        agents, broken = self.scan_agents()
        for agent in agents:
            if agent.id == key:
                return agent
        for problem in broken:
            if problem.path.parent.name == key:
                raise problem
        matches = [a for a in agents if a.name.casefold() == key.casefold()]
        if len(matches) == 1:
            return matches[0]
        names = ", ".join(f"{a.name} ({a.id})" for a in agents) or "none yet"
        if matches:
            raise AgentError(f"several agents are named {key!r}; use an id: {names}")
        raise AgentError(f"no agent {key!r}; agents: {names}", "not-found")

    def create_agent(self, name: str, preset: str = "default", description: str | None = None) -> Agent:
        name = " ".join(str(name).split())
        if not name:
            raise AgentError("an agent needs a name")
        # checked before anything is created: a NUL reaches git's author variables only after the folder exists
        unusable = next((c for c in name if unicodedata.category(c) in ("Cc", "Cs")), None)
        if unusable is not None:
            raise AgentError(f"an agent name cannot contain the control or invalid character U+{ord(unusable):04X}; "
                             "pick another name")
        chosen = get_preset(preset)
        with self._locked():
            if any(a.name.casefold() == name.casefold() for a in self.list_agents()):
                raise AgentError(f"an agent named {name!r} already exists; pick another name or `agents use` it",
                                 "conflict")
            agent_id = f"agent-{secrets.token_hex(8)}"
            directory = self.agents_dir / agent_id
            now = _now()
            agent = Agent(id=agent_id, name=name, dir=directory, description=description or chosen.description,
                          preset=chosen.name, created=now, updated=now)
            directory.mkdir(parents=True)
            for sub in (agent.conversations_dir, agent.backups_dir, agent.worktrees_dir):
                sub.mkdir()
            MemoryRepo.create(agent.memory_dir, chosen.files, agent.author,
                              message=f"chore: initialize memory from the {chosen.name} preset")
            write_json_atomic(directory / "agent.json", agent.to_json())
        return agent

    def save_agent(self, agent: Agent) -> None:
        agent.updated = _now()
        write_json_atomic(agent.dir / "agent.json", agent.to_json())

    def current_agent(self, preferred: str | None = None) -> Agent:
        """The agent to resume: an explicit choice, else the last used, else the only pin, else the most
        recently used, else a new default agent (first start)."""
        if preferred:
            return self.find_agent(preferred)
        agents, broken = self.scan_agents()
        try:
            state = self.raw_settings()
        except ConfigurationProblem:
            if not agents:
                raise  # never create a new agent because settings.json cannot be read
            state = {}  # lastAgent unknown: resume the most recently used agent below
        last = state.get("lastAgent")
        for agent in agents:
            if agent.id == last:
                return agent
        for problem in broken:
            if problem.path.parent.name == last:
                raise problem  # the agent the user was using: say so rather than switch agents silently
        pinned = state.get("pinned") if isinstance(state.get("pinned"), list) else []
        pins = [a for a in agents if a.id in pinned]
        if len(pins) == 1:
            return pins[0]
        if agents:
            return max(agents, key=lambda a: (a.last_used or "", a.created))
        if broken:
            raise broken[0]
        try:
            agent = self.create_agent(DEFAULT_AGENT_NAME, "default")
        except AgentError:  # another process created it first
            agent = self.find_agent(DEFAULT_AGENT_NAME)
        self.update_settings(lastAgent=agent.id)
        return agent

    def use_agent(self, key: str) -> Agent:
        agent = self.find_agent(key)
        agent.last_used = _now()
        self.save_agent(agent)
        self.update_settings(lastAgent=agent.id)
        return agent

    def set_pinned(self, key: str | None, pinned: bool) -> Agent:
        agent = self.find_agent(key) if key else self.current_agent()
        with self._locked():
            data = self.raw_settings()
            pins = [p for p in (data.get("pinned") or []) if p != agent.id]
            if pinned:
                pins.append(agent.id)
            data["pinned"] = pins
            write_json_atomic(self.settings_path, data)
        return agent

    def memory_repo(self, agent: Agent) -> MemoryRepo:
        """The agent's repository, cleaned up after a crashed writer when the writer lock is free; a missing or
        unusable one is a ``ConfigurationProblem``.

        Opening memory (to read it, too) never waits for the lock nor needs a writable home: when a live
        process holds it, that writer recovers on acquiring it; a read-only home has nothing to clean."""
        memory = agent.memory_dir
        restore = (f"restore it from a backup (`git clone {agent.backups_dir}/<name>.bundle {memory}`) or from "
                   "your sync remote, or move the agent's folder away to forget this agent")
        if not memory.is_dir():
            raise ConfigurationProblem(MEMORY_MISSING, memory, f"the memory of {agent.name} is missing", restore)
        if not (memory / ".git").exists():
            raise ConfigurationProblem(MEMORY_MISSING, memory / ".git",
                                       f"the memory of {agent.name} is not a git repository", restore)
        try:
            repo = MemoryRepo(memory)
            with contextlib.suppress(WriterLockTimeout, OSError):
                repo.recover(wait=0)
        except (MemoryRepoError, GitError, OSError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigurationProblem(MEMORY_BROKEN, memory / ".git",
                                       f"git cannot use the memory of {agent.name} ({detail})",
                                       f"run `git -C {memory} status` to see what is wrong, or {restore}") from exc
        return repo
