"""What both transcript readers share: timestamps, shell commands, patch paths, and ``SessionBuilder``.

``SessionBuilder`` is the one place that turns raw pieces into ``Message``s, so clipping and secret
redaction (``text.clean``) cannot be forgotten by a reader, and a session's start, end, model and
working directory are tracked the same way for every source.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from letta_ls.init.history.jsonl import JsonlStats
from letta_ls.init.history.model import Message, MessageKind, ReadLimits, Session, Source, ToolCall
from letta_ls.subagents.text import clean, clip

_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "fish", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash",
                     "/usr/bin/zsh", "/usr/bin/env"})
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+?)\s*$|^\*\*\* Move to: (.+?)\s*$", re.M)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string or a Unix time (seconds or milliseconds)."""
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def shell_command(command: Any) -> str | None:
    """The command line a shell tool ran: ``["bash", "-lc", "pytest -q"]`` is ``pytest -q``."""
    if isinstance(command, str):
        return command.strip() or None
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        if len(command) >= 3 and command[0] in _SHELLS and command[1] in ("-lc", "-c", "-l", "-ic"):
            return command[-1].strip() or None
        if command[0] in ("/usr/bin/env", "env") and len(command) > 1:
            command = command[1:]
        return shlex.join(command)
    return None


def patch_paths(patch: str) -> tuple[str, ...]:
    """Files an ``apply_patch`` body adds, updates, deletes or moves to."""
    if "*** " not in patch:
        return ()
    found = []
    for match in _PATCH_FILE.finditer(patch):
        path = match.group(1) or match.group(2)
        if path and path not in found:
            found.append(path)
    return tuple(found)


def as_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def load_json_object(text: Any) -> dict[str, Any] | None:
    """A JSON object from a string (a function call's ``arguments``), else None."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class SessionBuilder:
    """Collects one session's messages; every text is cleaned (clipped, secrets redacted) on the way in."""

    def __init__(self, source: Source, session_id: str, path: Path, limits: ReadLimits) -> None:
        self.session = Session(source=source, id=session_id, path=path)
        self.limits = limits
        self._models: Counter[str] = Counter()
        self._calls: dict[str, ToolCall] = {}
        self._merge_key: str | None = None
        self._kept = 0  # characters of text kept so far
        self._shortened = 0  # texts kept short because the session is past ``max_session_chars``

    def _bounded(self, text: str, limit: int) -> str:
        """``text`` cleaned; past the session's budget only its first line, so a long session stays small."""
        if self._kept > self.limits.max_session_chars:
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            if len(first) < len(text.strip()):
                self._shortened += 1
            text, limit = first, min(limit, 200)
        cleaned = clean(text, limit)
        self._kept += len(cleaned)
        return cleaned

    # -- metadata --------------------------------------------------------------------------------

    def saw_time(self, when: datetime | None) -> None:
        if when is None:
            return
        s = self.session
        if s.started_at is None or when < s.started_at:
            s.started_at = when
        if s.ended_at is None or when > s.ended_at:
            s.ended_at = when

    def saw_cwd(self, cwd: Any) -> None:
        if self.session.cwd is None and isinstance(cwd, str) and cwd.strip():
            self.session.cwd = cwd.strip()

    def saw_branch(self, branch: Any) -> None:
        if self.session.git_branch is None and isinstance(branch, str) and branch.strip():
            self.session.git_branch = branch.strip()

    def saw_model(self, model: Any) -> None:
        if isinstance(model, str) and model.strip() and not model.startswith("<"):
            self._models[model.strip()] += 1

    def saw_title(self, title: Any) -> None:
        if self.session.title is None and isinstance(title, str) and title.strip():
            self.session.title = clean(" ".join(title.split()), 200)

    # -- messages --------------------------------------------------------------------------------

    def user(self, text: str, when: datetime | None, *, kind: MessageKind = "text", sidechain: bool = False) -> None:
        self._merge_key = None
        if kind == "text" and not sidechain:  # the user's own words are always kept whole
            body = clean(text.strip(), self.limits.max_message_chars)
            self._kept += len(body)
        else:
            body = self._bounded(text.strip(), self.limits.max_message_chars)
        if body:
            self.session.messages.append(Message("user", body, when, kind=kind, sidechain=sidechain))

    def assistant(
        self, text: str, calls: list[ToolCall], when: datetime | None, *, sidechain: bool = False,
        merge_key: str | None = None,
    ) -> None:
        """An assistant turn; pieces of one reply written as separate records (same ``merge_key``) join up."""
        for call in calls:
            if call.id:
                self._calls[call.id] = call
        body = self._bounded(text.strip(), self.limits.max_message_chars)
        if not body and not calls:
            return
        messages = self.session.messages
        if merge_key is not None and merge_key == self._merge_key and messages and messages[-1].role == "assistant":
            last = messages[-1]
            joined = "\n\n".join(part for part in (last.text, body) if part)
            messages[-1] = Message("assistant", clip(joined, self.limits.max_message_chars), last.timestamp,
                                   tool_calls=last.tool_calls + tuple(calls), sidechain=last.sidechain)
            return
        self._merge_key = merge_key
        messages.append(Message("assistant", body, when, tool_calls=tuple(calls), sidechain=sidechain))

    def tool_result(
        self, text: str, call_id: str | None, when: datetime | None, *, is_error: bool = False, sidechain: bool = False
    ) -> None:
        self._merge_key = None
        call = self._calls.get(call_id) if call_id else None
        self.session.messages.append(Message(
            "tool", self._bounded(text.strip(), self.limits.max_result_chars), when, tool_call_id=call_id,
            tool_name=call.name if call else None, is_error=is_error, sidechain=sidechain,
        ))

    def call(
        self, name: str, arguments: Any, call_id: str | None, *, command: str | None = None,
        paths: tuple[str, ...] = (), edits: bool = False,
    ) -> ToolCall:
        """A ``ToolCall`` with cleaned arguments (``command`` and ``paths`` were taken from the full input)."""
        return ToolCall(
            name=name or "tool",
            arguments=clean(as_json(arguments), self.limits.max_argument_chars),
            id=call_id if isinstance(call_id, str) else None,
            command=clean(command, self.limits.max_argument_chars) if command else None,
            paths=tuple(clean(p, 300) for p in paths if isinstance(p, str) and p),
            edits=edits,
        )

    # -- the result --------------------------------------------------------------------------------

    def finish(self, stats: JsonlStats) -> Session:
        s = self.session
        if self._models:
            s.model = self._models.most_common(1)[0][0]
        s.truncated = stats.truncated
        s.notes.extend(stats.problems())
        if self._shortened:
            s.notes.append(f"a long session: {self._shortened} later tool outputs and replies were kept to their "
                           "first line")
        return s
