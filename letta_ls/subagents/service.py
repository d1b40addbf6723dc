"""One agent's memory subagents in one process: the runner, dreams with their scheduler, and defrag.

API::

    subagents = MemorySubagents(session, observers=[...], on_dream_state=..., on_dream_result=...)
    await subagents.start()              # the runner salvages what crashed runs left; the scheduler starts
    subagents.attach(runtime)            # an AgentRuntime of this agent feeds steps and compactions
    subagents.note_activity()            # the editor did something
    subagents.settings_changed(settings) # new settings: sleeptime picked up at once, a new model used next
    await subagents.dream()              # letta.dream
    await subagents.defrag()             # letta.defrag
    subagents.dream_state                # "idle" | "due" | "running"
    await subagents.close()

The session is pinned: ``MemorySubagents`` takes its own shallow copy, so switching the caller's agent
never moves a running dream to another agent's memory (make a new ``MemorySubagents`` for the new agent).
Core code: no LSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from letta_ls.session import Session
from letta_ls.settings import Settings
from letta_ls.subagents.defrag import AuditOf, Defragger, DefragResult
from letta_ls.subagents.dream import Dreamer, DreamResult
from letta_ls.subagents.models import ProviderFactory
from letta_ls.subagents.runner import RunnerObserver, SubagentRunner
from letta_ls.subagents.scheduler import DreamScheduler, DreamState
from letta_ls.subagents.worktrees import RecoveredWorktree

if TYPE_CHECKING:
    from letta_ls.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_SECONDS = 8.0


class MemorySubagents:
    def __init__(self, session: Session, *, observers: Iterable[RunnerObserver] = (),
                 provider_factory: ProviderFactory | None = None,
                 on_dream_state: Callable[[DreamState], None] | None = None,
                 on_dream_result: Callable[[DreamResult | BaseException], None] | None = None,
                 audit_of: AuditOf | None = None) -> None:
        self.session = copy.copy(session)
        self.agent_id = self.session.agent.id
        self.runner = SubagentRunner(self.session, observers=observers)
        self.dreamer = Dreamer(self.session, self.runner, provider_factory=provider_factory)
        self.scheduler = DreamScheduler(self.dreamer, on_state=on_dream_state, on_result=on_dream_result)
        self.defragger = Defragger(self.session, self.runner, provider_factory=provider_factory, audit_of=audit_of)
        self._detach: list[Callable[[], None]] = []

    @property
    def dream_state(self) -> DreamState:
        return self.scheduler.state

    async def start(self) -> list[RecoveredWorktree]:
        recovered = await self.runner.start()
        await self.scheduler.start()
        return recovered

    async def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Stop triggering, cancel what runs (its commits are still merged) and wait, at most ``timeout``."""
        for detach in self._detach:
            with contextlib.suppress(Exception):
                detach()
        self._detach.clear()
        try:
            await asyncio.wait_for(self._close(), timeout)
        except TimeoutError:
            log.warning("the memory subagents of %s did not stop within %ss; the next start recovers their work",
                        self.agent_id, timeout)

    async def _close(self) -> None:
        await self.scheduler.stop()
        await self.runner.close()

    def attach(self, runtime: AgentRuntime) -> None:
        """Count ``runtime``'s steps and hear its compactions (it must be this agent's)."""
        if runtime.session.agent.id != self.agent_id:
            return
        listener = self.scheduler.note_step
        runtime.step_listeners.append(listener)
        unsubscribe = runtime.events.subscribe(self.scheduler.note_compaction)

        def detach() -> None:
            if listener in runtime.step_listeners:
                runtime.step_listeners.remove(listener)
            unsubscribe()

        self._detach.append(detach)

    def note_activity(self) -> None:
        self.scheduler.note_activity()

    def settings_changed(self, settings: Settings) -> None:
        self.session.settings = settings
        self.scheduler.settings_changed()

    async def dream(self) -> DreamResult:
        return await self.scheduler.dream_now()

    async def defrag(self) -> DefragResult:
        return await self.defragger.defrag()
