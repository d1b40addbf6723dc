"""The agent's tools (SPEC section 10): their schemas for the model and what they do.

Names and arguments are contract: scripted models in tests call them by name. Every tool returns text
the model reads; a bad call returns an error text saying what to do instead and changes nothing. Tools
run in a worker thread (they touch git and the disk). Workspace tools only read, and only inside the
editor's workspace folders.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.agent.call_repair import (
    CopiedExampleError,
    RepeatedLineError,
    refuse_copied_example,
    refuse_repeated_line,
    repair_memory_call,
)
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.providers.base import ToolSpec
from letta_ls.memfs.operations import EditResult, MemoryOperations, MemoryToolError
from letta_ls.memfs.skills import SkillUnavailableError, discover_skills, find_skill, read_skill
from letta_ls.search.agent_tools import (
    CONVERSATION_SEARCH_SCHEMA,
    MEMORY_SEARCH_SCHEMA,
    conversation_search_text,
    memory_search_text,
)
from letta_ls.search.service import SearchRequestError

MAX_READ_BYTES = 256 * 1024
MAX_LISTED = 500
MAX_MATCHES = 100
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache", "dist", "build"}

MEMORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "delete", "rename",
                                                "update_description"]},
        "reason": {"type": "string", "description": "why: becomes the commit message (required for changes)"},
        "file_path": {"type": "string", "description": "path inside memory, e.g. system/project.md"},
        "description": {"type": "string", "description": "one line saying what the file is for"},
        "file_text": {"type": "string"},
        "old_string": {"type": "string"},
        "new_string": {"type": "string"},
        "insert_line": {"type": "integer", "description": "0 inserts at the top of the body"},
        "insert_text": {"type": "string"},
        "old_path": {"type": "string"},
        "new_path": {"type": "string"},
    },
    "required": ["command"],
}

# What each memory command needs (SPEC section 10); every change also needs its ``reason``.
MEMORY_COMMAND_ARGUMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (required, optional)
    "view": (("file_path",), ()),
    "create": (("file_path", "description"), ("file_text",)),
    "str_replace": (("file_path", "old_string", "new_string"), ()),
    "insert": (("file_path", "insert_line", "insert_text"), ()),
    "delete": (("file_path",), ()),
    "rename": (("old_path", "new_path"), ()),
    "update_description": (("file_path", "description"), ()),
}


def strict_memory_schema() -> dict[str, Any]:
    """The memory tool's arguments as one alternative per command, each with exactly its own arguments and
    (for changes) ``reason`` required: under a grammar, a small model cannot forget the file or the reason."""
    props = MEMORY_SCHEMA["properties"]
    alternatives = []
    for command, (required, optional) in MEMORY_COMMAND_ARGUMENTS.items():
        names = [*required, *optional] + ([] if command == "view" else ["reason"])
        alternatives.append({
            "type": "object",
            "properties": {"command": {"const": command}, **{name: props[name] for name in names}},
            "required": ["command", *required, *([] if command == "view" else ["reason"])],
        })
    return {"anyOf": alternatives}


TOOL_SPECS: list[ToolSpec] = [
    ToolSpec("memory", "Read and edit your memory files. Every change is one git commit whose message is `reason`. "
             "Commands: view (file or folder), create, str_replace (old_string must occur exactly once), insert, "
             "delete, rename, update_description.", MEMORY_SCHEMA, strict_memory_schema()),
    ToolSpec("memory_search", "Search all memory files for a query, best match first; returns path, line and text.",
             MEMORY_SEARCH_SCHEMA),
    ToolSpec("conversation_search", "Search this agent's past messages across all conversations, best match first.",
             CONVERSATION_SEARCH_SCHEMA),
    ToolSpec("skill", "Load a skill: its SKILL.md instructions and the files in its folder.",
             {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
    ToolSpec("read_file", "Read a text file of the user's workspace (read only); offset/limit are line numbers.",
             {"type": "object", "properties": {"path": {"type": "string"}, "offset": {"type": "integer"},
                                               "limit": {"type": "integer"}}, "required": ["path"]}),
    ToolSpec("list_files", "List files of the user's workspace, optionally under a folder and matching a glob.",
             {"type": "object", "properties": {"path": {"type": "string"}, "pattern": {"type": "string"}}}),
    ToolSpec("grep", "Search the user's workspace files for a regular expression; returns path:line: text.",
             {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
              "required": ["pattern"]}),
]


class ToolError(ValueError):
    """A tool call the model should correct; the message goes back to it."""


@dataclass
class ToolOutcome:
    text: str
    edit: EditResult | None = None
    reason: str | None = None
    is_error: bool = False


@dataclass
class Toolbox:
    """The tools bound to one agent, its memory, its conversations and the editor's workspace."""

    memory: MemoryOperations
    conversations: ConversationStore
    workspace: list[Path] = field(default_factory=list)
    global_skills: Path | None = None
    # set by a provider whose memory calls are repaired first (``call_repair.py``): the worked examples its
    # prompt shows, which a call must not store word for word; None: calls run as the model made them
    repair_examples: frozenset[str] | None = None
    handlers: dict[str, Callable[[dict[str, Any]], ToolOutcome]] = field(init=False)

    def __post_init__(self) -> None:
        self.handlers = {
            "memory": self._memory, "memory_search": self._memory_search,
            "conversation_search": self._conversation_search, "skill": self._skill,
            "read_file": self._read_file, "list_files": self._list_files, "grep": self._grep,
        }

    def run(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        handler = self.handlers.get(name)
        if handler is None:
            return ToolOutcome(f"Error: there is no tool named {name!r}; use one of {', '.join(self.handlers)}",
                               is_error=True)
        if not isinstance(arguments, dict):
            return ToolOutcome("Error: tool arguments must be a JSON object", is_error=True)
        try:
            return handler(arguments)
        except (ToolError, MemoryToolError, SkillUnavailableError, SearchRequestError) as exc:
            return ToolOutcome(f"Error: {exc}", is_error=True)
        except Exception as exc:
            return ToolOutcome(f"Error: {name} failed ({type(exc).__name__}: {exc}); nothing was changed",
                               is_error=True)

    # ------------------------------------------------------------------ memory
    def _memory(self, args: dict[str, Any]) -> ToolOutcome:
        note = ""
        if self.repair_examples is not None:
            try:
                refuse_copied_example(args, self.repair_examples)
            except CopiedExampleError as exc:
                return ToolOutcome(f"Error: {exc}; nothing was changed", is_error=True)
            snapshot = self.memory.repo.snapshot()
            def read(path: str) -> str | None:
                return snapshot.get(path).text if path in snapshot else None
            args, note = repair_memory_call(args, lambda path: path in snapshot, str(self.memory.repo.path.resolve()),
                                            read)
            try:
                refuse_repeated_line(args, read)
            except RepeatedLineError as exc:
                return ToolOutcome(f"Error: {exc}; nothing was changed", is_error=True)
        result = self.memory.run_tool(args)
        if isinstance(result, str):
            return ToolOutcome(result)
        message = f"{result.message} ({note})" if note else result.message
        return ToolOutcome(message, edit=result, reason=str(args.get("reason") or ""))

    def _memory_search(self, args: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome(memory_search_text(self.conversations.directory.parent, self.memory.repo, args))

    def _conversation_search(self, args: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome(conversation_search_text(self.conversations.directory, args))

    def _skill(self, args: dict[str, Any]) -> ToolOutcome:
        name = _text_arg(args, "name")
        snap = self.memory.repo.snapshot()
        skills = discover_skills(snap, project_dirs=self.workspace, global_dir=self.global_skills,
                                 memory_dir=self.memory.repo.path)
        skill = find_skill(skills, name)
        if skill is None:
            known = ", ".join(s.id for s in skills) or "none"
            raise ToolError(f"no skill named {name!r}; available skills: {known}")
        return ToolOutcome(read_skill(skill, snap))

    # ------------------------------------------------------------------ workspace (read only)
    def _resolve(self, raw: Any, *, default_root: bool = False) -> Path:
        if not self.workspace:
            raise ToolError("no workspace folder is open in the editor, so there are no files to read")
        if raw in (None, "", ".") and default_root:
            return self.workspace[0].resolve()
        if not isinstance(raw, str) or "\x00" in raw:
            raise ToolError("path must be text: a path relative to the workspace folder")
        candidate = Path(raw)
        roots = [r.resolve() for r in self.workspace]
        options = [candidate] if candidate.is_absolute() else [r / candidate for r in roots]
        outside = False
        for option in options:
            real = Path(os.path.realpath(option))
            if not any(real == r or r in real.parents for r in roots):
                outside = True
                continue
            if real.exists():
                return real
        if outside:
            raise ToolError(f"{raw} is outside the workspace folders; only workspace files can be read")
        raise ToolError(f"{raw} does not exist in the workspace")

    def _read_file(self, args: dict[str, Any]) -> ToolOutcome:
        path = self._resolve(args.get("path"))
        if path.is_dir():
            raise ToolError(f"{args.get('path')} is a folder; use list_files")
        offset = _int_arg(args, "offset", 1)
        limit = _int_arg(args, "limit", 400)
        with open(path, "rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
        if b"\x00" in data[:8192]:
            raise ToolError(f"{args.get('path')} is a binary file")
        text = data[:MAX_READ_BYTES].decode("utf-8", "replace")
        lines = text.splitlines()
        chosen = lines[offset - 1: offset - 1 + limit]
        out = "\n".join(f"{offset + i:>6}\t{line}" for i, line in enumerate(chosen))
        if offset - 1 + limit < len(lines) or len(data) > MAX_READ_BYTES:
            out += f"\n… (more lines follow; read on with offset={offset + len(chosen)})"
        return ToolOutcome(out or "(empty file)")

    def _walk(self, root: Path):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                yield Path(dirpath) / name

    def _list_files(self, args: dict[str, Any]) -> ToolOutcome:
        root = self._resolve(args.get("path"), default_root=True)
        pattern = args.get("pattern")
        if pattern is not None and not isinstance(pattern, str):
            raise ToolError("pattern must be a glob such as '*.py'")
        base = self.workspace[0].resolve()
        listed = []
        for path in self._walk(root) if root.is_dir() else [root]:
            rel = os.path.relpath(path, base)
            if pattern and not (fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(rel, pattern)):
                continue
            listed.append(rel)
            if len(listed) >= MAX_LISTED:
                listed.append(f"… (stopped at {MAX_LISTED} files; narrow path or pattern)")
                break
        return ToolOutcome("\n".join(listed) if listed else "No files match.")

    def _grep(self, args: dict[str, Any]) -> ToolOutcome:
        pattern = _text_arg(args, "pattern")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"pattern is not a valid regular expression: {exc}") from exc
        root = self._resolve(args.get("path"), default_root=True)
        base = self.workspace[0].resolve()
        hits = []
        for path in self._walk(root) if root.is_dir() else [root]:
            try:
                with open(path, "rb") as handle:
                    data = handle.read(MAX_READ_BYTES)
            except OSError:
                continue
            if b"\x00" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{os.path.relpath(path, base)}:{number}: {line.strip()[:200]}")
                    if len(hits) >= MAX_MATCHES:
                        return ToolOutcome("\n".join(hits) + f"\n… (stopped at {MAX_MATCHES} matches)")
        return ToolOutcome("\n".join(hits) if hits else f"No line matches {pattern!r}.")


def _text_arg(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{name} is required and must be non-empty text")
    return value


def _int_arg(args: dict[str, Any], name: str, default: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolError(f"{name} must be a whole number ≥ 1")
    return value
