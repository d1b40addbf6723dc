"""The provider-neutral shape of an earlier coding-agent session, and the limits readers work within.

Claude Code and Codex write very different JSONL; ``claude_code`` and ``codex`` turn both into
``Session`` records made of ``Message``s with role ``user``, ``assistant`` or ``tool``, so everything
downstream (digests, slices for parallel workers, the /init draft) is written once. Every text in these
records has already been clipped to ``ReadLimits`` and had secrets redacted: nothing that leaves a reader
can carry an API key, and nothing is unbounded.

This module holds data only; it never reads the disk.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

Source = Literal["claude-code", "codex"]
Role = Literal["user", "assistant", "tool"]
# ``text``: what was said; ``command``: a slash command or ``!shell`` line the user typed;
# ``compaction-summary``: the model's summary written when the context was compacted (never the user's
# words); ``interrupted``: the user stopped the agent mid-turn.
MessageKind = Literal["text", "command", "compaction-summary", "interrupted"]

SOURCES: tuple[Source, ...] = ("claude-code", "codex")
SOURCE_LABELS: dict[str, str] = {"claude-code": "Claude Code", "codex": "Codex"}


@dataclass(frozen=True)
class ReadLimits:
    """Caps that keep reading bounded however large or strange the history is."""

    max_file_bytes: int = 64 * 1024 * 1024  # read at most this much of one transcript (its beginning)
    max_line_bytes: int = 8 * 1024 * 1024  # a longer line is skipped without being loaded
    peek_bytes: int = 512 * 1024  # how far into a file to look for its working directory
    folder_scan_bytes: int = 8 * 1024 * 1024  # how far to look for the other folders a session worked in
    max_sessions: int = 100  # per source, most recent first
    # past this much kept text, a session's later tool output and replies are kept short (their first line):
    # what the user says is always kept whole, and memory stays bounded however long the sessions were
    max_session_chars: int = 250_000
    max_files_scanned: int = 20_000  # per source, files looked at while matching the project
    max_message_chars: int = 8_000
    max_argument_chars: int = 300
    max_result_chars: int = 1_200  # enough for an error message and its context; results are mostly file dumps


@dataclass(frozen=True)
class ToolCall:
    """A tool the agent called. ``arguments`` is clipped; ``command`` and ``paths`` come from the full input."""

    name: str
    arguments: str
    id: str | None = None
    command: str | None = None  # the shell command it ran, if it ran one
    paths: tuple[str, ...] = ()  # files it read or changed, as written in the call
    edits: bool = False  # True when it changes ``paths``


@dataclass(frozen=True)
class Message:
    role: Role
    text: str
    timestamp: datetime | None = None
    kind: MessageKind = "text"
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # role ``tool``: the call this answers
    tool_name: str | None = None  # role ``tool``: the name of that call, when known
    is_error: bool = False  # role ``tool``: the call failed (an error result or a non-zero exit code)
    sidechain: bool = False  # written by a subagent inside the main transcript, not by the user

    @property
    def from_user(self) -> bool:
        """Words the person typed (not a tool result, a compaction summary or a subagent's prompt)."""
        return self.role == "user" and self.kind == "text" and not self.sidechain


@dataclass
class Session:
    """One earlier session of a coding agent in this project."""

    source: Source
    id: str
    path: Path
    cwd: str | None = None
    git_branch: str | None = None
    model: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    messages: list[Message] = field(default_factory=list)
    title: str | None = None
    parent_id: str | None = None  # set for a subagent's own transcript: the session that started it
    compactions: int = 0
    truncated: bool = False  # only the beginning of a huge file was read
    notes: list[str] = field(default_factory=list)  # what could not be read, in words a user can act on

    @property
    def is_subagent(self) -> bool:
        return self.parent_id is not None

    @property
    def first_prompt(self) -> str | None:
        """The first thing the user asked in this session (for a subagent: the prompt it was given)."""
        for message in self.messages:
            if message.role == "user" and message.kind == "text" and (self.is_subagent or not message.sidechain):
                return message.text
        return None

    def user_messages(self) -> list[Message]:
        return [m for m in self.messages if m.from_user]

    def tool_calls(self) -> list[ToolCall]:
        return [call for m in self.messages if not m.sidechain for call in m.tool_calls]

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass(frozen=True)
class ReadNote:
    """Something a reader could not do, said so a user can act on it. Never an exception."""

    source: str
    message: str
    path: str | None = None

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{SOURCE_LABELS.get(self.source, self.source)}: {self.message}{where}"


@dataclass
class SessionHistory:
    """This project's earlier sessions, oldest first, and what got in the way of reading them."""

    sessions: list[Session] = field(default_factory=list)
    notes: list[ReadNote] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(s.source for s in self.sessions if not s.is_subagent)

    def main_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.is_subagent]


@dataclass(frozen=True)
class DetectedHistory:
    """What ``detect_history`` found without reading whole transcripts: enough to ask the user."""

    counts: dict[str, int]
    first: datetime | None
    last: datetime | None
    notes: tuple[ReadNote, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """``12 Claude Code and 3 Codex sessions`` (or ``no earlier sessions``)."""
        parts = [f"{n} {SOURCE_LABELS[s]} session{'s' if n != 1 else ''}" for s, n in self.counts.items() if n]
        if not parts:
            return "no earlier sessions"
        return " and ".join(parts) if len(parts) <= 2 else ", ".join(parts[:-1]) + " and " + parts[-1]
