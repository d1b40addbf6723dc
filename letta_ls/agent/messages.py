"""The agent's message records: what transcripts store, providers send, and compaction summarises.

Provider-neutral: OpenAI's and Anthropic's wire formats are built from these in their provider
modules, never here. Records are plain dataclasses with a JSON form, so a transcript line can be read
back by any later version.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


_STAMP_LOCK = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=UTC)


def now_iso() -> str:
    """The time now to the millisecond, strictly later than any stamp this process gave before: the
    conversation list orders by these, and two stamps in one millisecond would tie (a conversation
    bumped right after another was created listed behind it). Drifts ahead of the clock only while
    more than a thousand stamps a second are taken."""
    global _last_stamp
    with _STAMP_LOCK:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        _last_stamp = max(now, _last_stamp + timedelta(milliseconds=1))
        return _last_stamp.isoformat(timespec="milliseconds")


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str = ""  # what the model sent, kept when it was not valid JSON


@dataclass
class Message:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # for role "tool": the call this answers
    name: str | None = None  # for role "tool": the tool's name
    id: str = field(default_factory=lambda: new_id("msg"))
    created: str = field(default_factory=now_iso)
    turn_id: str | None = None
    kind: Literal["message", "summary"] = "message"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["tool_calls"]:
            data.pop("tool_calls")
        for key in ("tool_call_id", "name", "turn_id"):
            if data[key] is None:
                data.pop(key)
        if data["kind"] == "message":
            data.pop("kind")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        calls = [ToolCall(c["id"], c["name"], dict(c.get("arguments") or {}), c.get("raw_arguments", ""))
                 for c in data.get("tool_calls") or []]
        return cls(role=data["role"], content=data.get("content") or "", tool_calls=calls,
                   tool_call_id=data.get("tool_call_id"), name=data.get("name"), id=data.get("id") or new_id("msg"),
                   created=data.get("created") or now_iso(), turn_id=data.get("turn_id"),
                   kind=data.get("kind") or "message")
