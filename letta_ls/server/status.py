"""``letta/status``: sent on start and whenever the agent, conversation, model, memory size or dream state changes.

Notifications go out in the order their causes happened: each send captures the dream state when it is
asked for (so a quick idle → due → running → idle is reported as such), and sends are serialised.
"""

from __future__ import annotations

import asyncio
from typing import Any

from letta_ls.agent.conversations import ConversationStore
from letta_ls.contract import unstructure
from letta_ls.contract.status import Status
from letta_ls.contract.wire import converter
from letta_ls.memfs.snapshot import is_memory_markdown
from letta_ls.memfs.tokens import count_blob
from letta_ls.server.app import LettaServer

STATUS = "letta/status"


def dream_state(ls: LettaServer) -> str:
    dreams = getattr(ls, "dreams", None)
    return dreams.state if dreams is not None else "idle"


def current_runs(ls: LettaServer) -> list[dict[str, Any]]:
    """The current agent's subagent runs (on the event loop, where the board changes)."""
    board = getattr(ls, "runs", None)
    session = ls.session
    return board.runs(session.agent.id) if board is not None and session is not None else []


def compute_status(ls: LettaServer, dream: str | None = None, runs: list[dict[str, Any]] | None = None
                   ) -> dict[str, Any]:
    session = ls.current
    snap = session.repo.snapshot()
    system_tokens = sum(
        count_blob(session.counter, f.blob, f.text)
        for f in snap.markdown("system") if f.text is not None and is_memory_markdown(f.path)
    )
    model = session.settings.model
    return {
        "agentId": session.agent.id,
        "agentName": session.agent.name,
        "conversationId": ConversationStore(session.agent.conversations_dir).last_used(),
        "model": model.name or model.provider,
        "systemTokens": system_tokens,
        "dream": dream or dream_state(ls),
        "sync": ls.sync.status() if ls.sync is not None else None,
        "runs": runs if runs is not None else [],
    }


def register(server: LettaServer) -> None:
    last: dict[str, Any] = {}
    order = asyncio.Lock()  # FIFO: notifications leave in the order they were asked for

    def send(*_args: Any) -> None:
        server.spawn(_send(dream_state(server), current_runs(server)), name="status")

    async def _send(dream: str, runs: list[dict[str, Any]]) -> None:
        async with order:
            status = await server.run_blocking(compute_status, server, dream, runs)
            if status != last.get("sent"):
                last["sent"] = status
                server.protocol.notify(STATUS, unstructure(converter.structure(status, Status)))

    server.on("initialized", send)
    server.on("after_commit", send)
    server.on("settings_changed", send)
    server.on("agent_switched", send)
    server.on("conversation_changed", send)
    server.on("sync_changed", send)
    server.on("dream_changed", send)
    server.on("runs_changed", send)
