"""``letta/status``: sent on start and whenever the agent, conversation, model or memory size changes."""

from __future__ import annotations

from typing import Any

from letta_ls.agent.conversations import ConversationStore
from letta_ls.memfs.snapshot import is_memory_markdown
from letta_ls.memfs.tokens import count_blob
from letta_ls.server.app import LettaServer

STATUS = "letta/status"


def compute_status(ls: LettaServer) -> dict[str, Any]:
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
        "dream": "idle",
        "sync": ls.sync.status() if ls.sync is not None else None,
    }


def register(server: LettaServer) -> None:
    last: dict[str, Any] = {}

    def send() -> None:
        server.spawn(_send(), name="status")

    async def _send() -> None:
        status = await server.run_blocking(compute_status, server)
        if status != last.get("sent"):
            last["sent"] = status
            server.protocol.notify(STATUS, status)

    server.on("initialized", send)
    server.on("after_commit", lambda paths: send())
    server.on("settings_changed", send)
    server.on("agent_switched", send)
    server.on("conversation_changed", lambda conversation_id: send())
    server.on("sync_changed", send)
