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
from letta_ls.server.app import LettaServer
from letta_ls.server.dreams import DreamsService
from letta_ls.server.features import Feature
from letta_ls.server.review import pending_reviews
from letta_ls.server.runs import RunBoard
from letta_ls.server.sync import SyncService

STATUS = "letta/status"


class StatusFeature(Feature):
    """Sends ``letta/status`` when anything it shows may have changed, in order and only when it did."""

    def __init__(self, ls: LettaServer, dreams: DreamsService, runs: RunBoard, sync: SyncService) -> None:
        self.ls = ls
        self.dreams = dreams
        self.runs = runs
        self.sync = sync
        self._last: dict[str, Any] | None = None
        self._order = asyncio.Lock()  # FIFO: notifications leave in the order they were asked for

    def compute(self, dream: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """The status now (blocking: reads the repository)."""
        session = self.ls.current
        model = session.settings.model
        return {
            "agentId": session.agent.id,
            "agentName": session.agent.name,
            "conversationId": ConversationStore(session.agent.conversations_dir).last_used(),
            "model": model.name or model.provider,
            "systemTokens": session.system_tokens(),  # the doctor's count, as letta.doctor reports it
            "dream": dream,
            "sync": self.sync.status(),
            "runs": runs,
            "reviews": pending_reviews(self.ls),  # dreams waiting for the user (sleeptime.merge "review")
        }

    def send(self, *_args: Any) -> None:
        """Capture the dream state and runs now (on the event loop, where they change); send in order."""
        session = self.ls.session
        runs = self.runs.runs(session.agent.id) if session is not None else []
        self.ls.spawn(self._send(self.dreams.state, runs), name="status")

    async def _send(self, dream: str, runs: list[dict[str, Any]]) -> None:
        async with self._order:
            await self.ls.tokenizer_loaded()  # the count waits for it here, not in a worker thread reads need
            status = await self.ls.run_blocking(self.compute, dream, runs)
            if status != self._last:
                self._last = status
                self.ls.protocol.notify(STATUS, unstructure(converter.structure(status, Status)))

    # every event that can change what the status shows sends it again
    initialized = settings_changed = agent_switched = runs_changed = sync_changed = review_changed = send

    def after_commit(self, paths: list[str]) -> None:
        self.send()

    def conversation_changed(self, conversation_id: str) -> None:
        self.send()

    def dream_changed(self, state: str) -> None:
        self.send()


def register(server: LettaServer) -> None:
    server.add_feature(StatusFeature(server, server.get_feature(DreamsService), server.get_feature(RunBoard),
                                     server.get_feature(SyncService)))
