"""``letta.init`` over LSP: /init with its questions shown through ``window/showMessageRequest``, its
phases through ``$/progress``, and the merged memory announced with ``letta/memoryChanged``.

A thin adapter over ``letta_ls.init.run``. Each agent gets one ``SubagentRunner`` in this server
(created on its first /init, after the runner's crash recovery) and one ``MemoryInitializer``, both pinned to
that agent, so switching agents mid-run never moves the run. The workspace is the editor's folders; the
questions (data in the core) are asked here, one message with buttons at a time, and a client that cannot
answer, or a dismissed message, gives the default. Errors (no workspace folder, a second /init while one runs,
a bad argument) come back as JSON-RPC errors whose message says what to do; nothing is lost by them.
"""

from __future__ import annotations

import contextlib
import copy
import logging

from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.work import InitParams, ReportResult
from letta_ls.init.questions import InitQuestion
from letta_ls.init.run import InitError, InitRequest, MemoryInitializer, init_provider
from letta_ls.server.app import LettaServer
from letta_ls.server.commands import ask
from letta_ls.server.features import Feature
from letta_ls.server.lifecycle import workspace_folders
from letta_ls.server.runs import RunBoard
from letta_ls.server.typed import command
from letta_ls.subagents.outcome import MergeOutcome
from letta_ls.subagents.runner import RunInfo, RunnerObserver, SubagentRunner

log = logging.getLogger("letta_ls.server")
TITLE = "Initializing memory (/init)"


class _Announcer(RunnerObserver):
    """What a run of this agent merges into main is announced, while the agent is the editor's current one."""

    def __init__(self, ls: LettaServer, agent_id: str) -> None:
        self.ls = ls
        self.agent_id = agent_id

    def merged(self, run: RunInfo, outcome: MergeOutcome) -> None:
        session = self.ls.session
        if session is not None and session.agent.id == self.agent_id:
            self.ls.notify_memory_changed(outcome.head, outcome.changed)


class InitService(Feature):
    """The /init of each agent in this server."""

    def __init__(self, ls: LettaServer, runs: RunBoard) -> None:
        self.ls = ls
        self.runs = runs
        self._agents: dict[str, MemoryInitializer] = {}

    async def initializer(self) -> MemoryInitializer:
        session = self.ls.current
        found = self._agents.get(session.agent.id)
        if found is None:
            pinned = copy.copy(session)  # the agent's session as it is now: a later switch does not move it
            seat = self.runs.observer(session.agent.id)
            runner = SubagentRunner(pinned, observers=[_Announcer(self.ls, session.agent.id), seat])
            await runner.start()
            found = self._agents.setdefault(session.agent.id, MemoryInitializer(pinned, runner))
        found.session.settings = session.settings  # the settings in force now (the model may have changed)
        return found


def register(server: LettaServer) -> None:
    service = server.add_feature(InitService(server, server.get_feature(RunBoard)))

    @command(server, "letta.init")
    async def init(ls: LettaServer, params: InitParams) -> ReportResult:
        depth, history = params.depth, params.history
        initializer = await service.initializer()
        if initializer.running:
            fail(ErrorKind.BUSY, "/init is already running for this agent; wait for it to finish (its progress "
                                 "shows in the editor) before starting another")
        request = InitRequest(tuple(workspace_folders(ls)), depth, history)  # type: ignore[arg-type]
        provider, note = init_provider(initializer.session.settings.model)

        async def ask_user(question: InitQuestion) -> str | None:
            return await ask(ls, question.message, question.titles)

        token = await ls.begin_progress(TITLE, "starting")
        ending = "failed"
        try:
            result = await initializer.run(request, ask=ask_user, provider=provider, provider_note=note,
                                           progress=lambda message, pct: ls.report_progress(token, message, pct))
            ending = {"merged": "done", "no_changes": "done: nothing to change"}.get(
                result.status, f"{result.status}: see the report")
        except InitError as exc:
            fail(ErrorKind.FAILED, str(exc))
        finally:
            ls.end_progress(token, ending)
            close = getattr(provider, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        return ReportResult(result.report, list(result.commits))
