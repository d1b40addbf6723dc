"""``letta/status`` (SPEC section 6): what an editor's status bar shows, sent whenever it changes."""

from __future__ import annotations

from typing import Any, Literal

import attrs

DreamState = Literal["idle", "due", "running"]


@attrs.define
class Status:
    agent_id: str
    agent_name: str
    conversation_id: str | None
    model: str | None
    system_tokens: int
    dream: str
    sync: dict[str, Any] | None = None  # beyond SPEC: the last sync's outcome (SyncService.status)
    runs: list[dict[str, Any]] = attrs.field(factory=list)  # beyond SPEC: subagent runs (server.runs)
    reviews: list[dict[str, Any]] = attrs.field(factory=list)  # beyond SPEC: dreams waiting for review
