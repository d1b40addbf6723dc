"""Dreams and defrag over LSP: ``letta.dream``, ``letta.defrag``, ``$/progress`` per run, the dream state.

A thin adapter over ``letta_ls.subagents.service.MemorySubagents`` (one per current agent): started on
``initialized`` (the runner's crash recovery first), replaced on an agent switch, closed on shutdown. Every
client message is activity for the idle gate (``LettaProtocol`` fires ``activity``); the chat's runtime
feeds steps and compactions (``runtime_created``); settings changes reach the scheduler at once. Each run
(scheduled or asked for) reports ``$/progress`` begin / report / end; what a run merges into main is
announced through the server's one notifier (``notify_memory_changed``, which drops a head already
announced, so the git watcher seeing the same merge does not announce it twice); ``letta/status`` carries
the dream state (``dream_changed``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.work import DefragParams, DefragResult, DreamParams, ReportResult
from letta_ls.doctor import AuditResult
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.server.app import LettaServer
from letta_ls.server.chat import ChatService
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.server.features import Event, Feature
from letta_ls.server.review import announce_review
from letta_ls.server.runs import RunBoard
from letta_ls.server.typed import command
from letta_ls.session import Session
from letta_ls.subagents.defrag import AuditOf
from letta_ls.subagents.dream import DreamResult
from letta_ls.subagents.outcome import MergeOutcome
from letta_ls.subagents.runner import RunInfo, RunnerObserver, RunResult
from letta_ls.subagents.scheduler import DreamState
from letta_ls.subagents.service import MemorySubagents

log = logging.getLogger("letta_ls.server")
TITLES = {"dream": "Dreaming", "defrag": "Defragmenting memory"}


@dataclass(frozen=True)
class _End:
    message: str


class ProgressRelay:
    """One ``$/progress`` sequence per run, in order: the token is created (a request to the client) before
    the first report is sent, so reports wait in a queue drained by one task per run."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self._runs: dict[str, asyncio.Queue[Any]] = {}

    def report(self, run: RunInfo, message: str, percentage: int | None) -> None:
        queue = self._runs.get(run.run_id)
        if queue is None:
            queue = self._runs[run.run_id] = asyncio.Queue()
            self.ls.spawn(self._drain(run, queue), name=f"progress {run.run_id}")
        queue.put_nowait((message, percentage))

    def end(self, run_id: str, message: str) -> None:
        queue = self._runs.pop(run_id, None)
        if queue is not None:
            queue.put_nowait(_End(message))

    async def _drain(self, run: RunInfo, queue: asyncio.Queue[Any]) -> None:
        first = await queue.get()
        message = first.message if isinstance(first, _End) else first[0]
        token = await self.ls.begin_progress(TITLES.get(run.kind, f"Memory {run.kind}"), message)
        item = first
        while not isinstance(item, _End):
            item = await queue.get()
            if isinstance(item, _End):
                break
            self.ls.report_progress(token, item[0], item[1])
        self.ls.end_progress(token, item.message)


def finished_message(result: RunResult) -> str:
    if result.cancelled:
        return "cancelled"
    if result.error:
        return f"failed: {result.error}"
    if result.status == "merged" and result.outcome is not None:
        return f"done: {len(result.outcome.changed)} file(s) changed"
    return "done: no changes needed"


class _Observer(RunnerObserver):
    def __init__(self, service: DreamsService) -> None:
        self.service = service

    def progress(self, run: RunInfo, message: str, percentage: int | None) -> None:
        self.service.progress.report(run, message, percentage)

    def merged(self, run: RunInfo, outcome: MergeOutcome) -> None:
        self.service.announce(outcome)

    def finished(self, result: RunResult) -> None:
        self.service.progress.end(result.run_id, finished_message(result))


class DreamsService(Feature):
    """The current agent's ``MemorySubagents`` and their LSP side."""

    def __init__(self, ls: LettaServer, runs: RunBoard, chat: ChatService) -> None:
        self.ls = ls
        self.runs = runs
        self.chat = chat
        self.progress = ProgressRelay(ls)
        self.subagents: MemorySubagents | None = None
        self._ready: asyncio.Future[MemorySubagents] | None = None
        self._blocked_shown: str | None = None
        self._seats: dict[int, Any] = {}  # id(MemorySubagents) -> its runner's seat on the run board

    @property
    def state(self) -> DreamState:
        return self.subagents.dream_state if self.subagents is not None else "idle"

    def _audits_in_the_worker(self, session: Session) -> AuditOf:
        """A defrag's before and after audits: a large memory's in the audit worker process (issue 14: a save
        answered during a defrag of 10,000 files waited 0.8-1.3 s behind an audit in a server thread)."""
        publisher = self.ls.get_feature(DiagnosticsPublisher)

        async def audit_of(snapshot: MemorySnapshot) -> AuditResult:
            return await publisher.audit_for_a_command(session, snapshot)

        return audit_of

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._ready = asyncio.get_running_loop().create_future()
        self.ls.spawn(self._start(self._ready), name="memory subagents")

    async def _start(self, ready: asyncio.Future[MemorySubagents]) -> None:
        session = self.ls.current
        seat = self.runs.observer(session.agent.id)
        subagents = MemorySubagents(session, observers=[_Observer(self), seat], on_dream_state=self._state_changed,
                                    on_dream_result=self._dream_finished, audit_of=self._audits_in_the_worker(session))
        self.subagents = subagents
        self._seats[id(subagents)] = seat
        runtime = self.chat.current_runtime
        if runtime is not None:
            subagents.attach(runtime)
        try:
            recovered = await subagents.start()
        except Exception as exc:
            log.exception("the memory subagents could not start")
            if not ready.done():
                ready.set_exception(exc)
            return
        if recovered:
            log.info("recovered %d leftover subagent run(s) of %s", len(recovered), subagents.agent_id)
        if not ready.done():
            ready.set_result(subagents)

    async def ready(self) -> MemorySubagents:
        if self._ready is None:
            fail(ErrorKind.UNAVAILABLE, "the server is not initialized yet")
        try:
            return await asyncio.shield(self._ready)
        except Exception as exc:
            fail(ErrorKind.UNAVAILABLE, f"dreams and defrag are unavailable: {exc}")

    async def stop(self) -> None:
        subagents, self.subagents = self.subagents, None
        if subagents is not None:
            await self._close(subagents)

    async def _close(self, subagents: MemorySubagents) -> None:
        await subagents.close()
        seat = self._seats.pop(id(subagents), None)
        if seat is not None:
            self.runs.forget(seat)

    async def restart(self) -> None:
        """Another agent: its own subagents at once (commands wait for them); the old ones stop meanwhile."""
        old, self.subagents = self.subagents, None
        self.start()
        self._state_changed(self.state)
        if old is not None:
            await self._close(old)

    # ------------------------------------------------------------------ events from the editor and the chat
    def initialized(self) -> None:
        self.start()

    def agent_switched(self) -> None:
        self.ls.spawn(self.restart(), name="memory subagents restart")

    def activity(self) -> None:
        self.note_activity()

    def runtime_created(self, runtime: Any) -> None:
        self.attach(runtime)

    def note_activity(self) -> None:
        if self.subagents is not None:
            self.subagents.note_activity()

    def attach(self, runtime: Any) -> None:
        if self.subagents is not None:
            self.subagents.attach(runtime)

    def settings_changed(self) -> None:
        self._blocked_shown = None
        if self.subagents is not None:
            self.subagents.settings_changed(self.ls.current.settings)

    # ------------------------------------------------------------------ events from the core
    def announce(self, outcome: MergeOutcome) -> None:
        session = self.ls.session
        if session is not None and self.subagents is not None and session.agent.id == self.subagents.agent_id:
            self.ls.notify_memory_changed(outcome.head, outcome.changed)

    def _state_changed(self, state: DreamState) -> None:
        self.ls.fire(Event.DREAM_CHANGED, state)

    def _dream_finished(self, outcome: DreamResult | BaseException) -> None:
        if isinstance(outcome, BaseException):
            message = str(outcome)
            if message != self._blocked_shown:
                self._blocked_shown = message
                self.ls.show(f"letta: dreams are paused: {message}", types.MessageType.Warning)
            return
        if outcome.status == "pending_review" and outcome.run_id:
            announce_review(self.ls, outcome.run_id)  # also for a manual dream: the editor offers the review
        if outcome.trigger == "manual":
            return  # the command's caller gets the report
        if outcome.ok:
            first = outcome.report.strip().splitlines()[0] if outcome.report.strip() else outcome.status
            self.ls.window_log_message(types.LogMessageParams(
                type=types.MessageType.Info, message=f"letta: {first} ({len(outcome.commits)} commit(s))\n"
                                                     f"{outcome.report}"))
        else:
            self.ls.show(f"letta: the dream failed and will be retried later: {outcome.error}",
                         types.MessageType.Warning)


def register(server: LettaServer) -> None:
    service = server.add_feature(DreamsService(server, server.get_feature(RunBoard), server.get_feature(ChatService)))

    @command(server, "letta.dream")
    async def dream(ls: LettaServer, params: DreamParams) -> ReportResult:
        subagents = await service.ready()
        result = await subagents.dream()  # a RunnerBusyError is ``busy``
        if not result.ok:
            fail(ErrorKind.FAILED, result.report)
        held = result.run_id if result.status == "pending_review" else None
        return ReportResult(result.report, list(result.commits), pending_review=held)

    @command(server, "letta.defrag")
    async def defrag(ls: LettaServer, params: DefragParams) -> DefragResult:
        subagents = await service.ready()
        result = await subagents.defrag()
        if not result.ok:
            fail(ErrorKind.FAILED, f"{result.report}\nRestore the backup with letta.memory.restore "
                                   f"{{\"ref\": \"{result.backup}\"}} to undo what it changed.")
        return DefragResult(result.report, result.backup, list(result.commits))
