"""The agent's message records: what transcripts store, providers send, and compaction summarises.

Provider-neutral: OpenAI's and Anthropic's wire formats are built from these in their provider
modules, never here. Records are plain dataclasses with a JSON form, so a transcript line can be read
back by any later version.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
