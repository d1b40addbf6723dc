"""The subagent runner: one run per agent at a time, each in its own worktree, merged back into main.

API::

    runner = SubagentRunner(session, observers=[my_observer])
    await runner.start()                                   # salvage and clean what crashed runs left

    async def dream(ctx: RunContext) -> str:               # the caller's work
        runtime = ctx.runtime(provider, base_prompt=DREAM_PROMPT)
        ctx.progress("reviewing the conversation", 10)
        turn = await runtime.run_turn("Review and write lessons")   # writes into the worktree
        return turn.reply                                  # the run's report

    result = await runner.run(RunRequest("dream", dream, resolver=model_resolver))
    result.status        # merged | no_changes | discarded | merge_failed
    result.outcome       # merge.MergeOutcome: head, changed paths, per-file notes (None without a merge)
    result.commits       # the run's own commits; result.report, result.error, result.cancelled

    ticket = runner.submit(request)                        # the same without waiting; await ticket later
    runner.cancel()                                        # cancel the running (or queued) run
    runner.status                                          # RunnerStatus(state, running, queued)

A run: wait for its turn (state ``queued``) → take the agent's cross-process lock
(``memory-worktrees/.runner.lock``: two editor windows on one agent never run two at once) → recover
leftovers of crashed runs → create a worktree on ``letta/<kind>/<run-id>`` → ``await work(ctx)`` with a
``RunContext`` (``context.py``) → merge the branch into main with ``merge.merge_into_async`` and the
request's resolver → remove the worktree and branch → a ``RunResult``.

Queueing: while a run is running (or waiting for another process), one more request may wait. A newer
request of the same kind replaces the waiting one (whoever awaited the replaced one gets the newer run's
result); a request of another kind while one is waiting raises ``RunnerBusyError``.

Failures are never silent and never lose acknowledged work: if the work function raises or is
cancelled after committing, its commits are still merged (each was a valid, guarded commit) unless the
request says ``on_failure="discard"``; ``result.error`` carries the cause. If the merge itself fails, the
branch is kept and merged by the next start's recovery (``status="merge_failed"``).

The work function runs on the event loop: blocking calls (``ctx.operations()`` edits, git, files) go
through ``asyncio.to_thread``; ``ctx.progress`` may be called from any thread.

Observers (subclass ``RunnerObserver``; every method is optional) hear ``state_changed`` (idle / queued /
running, for ``letta/status``), ``progress`` (for ``$/progress``), ``merged`` (new head and paths, for
``letta/memoryChanged``; salvaged leftovers too) and ``finished``. They are called on the event loop and
must not block; an observer that raises is logged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from letta_ls import file_locks
from letta_ls.memfs.repo_errors import MemoryRepoError
from letta_ls.session import Session
from letta_ls.subagents.context import RunContext, run_title
from letta_ls.subagents.merge import MergeOutcome, Resolver, merge_into_async
from letta_ls.subagents.worktrees import RecoveredWorktree, Worktree, Worktrees, new_run_id

log = logging.getLogger(__name__)

RunState = Literal["idle", "queued", "running"]
RunStatus = Literal["merged", "no_changes", "discarded", "merge_failed", "pending_review"]
Work = Callable[[RunContext], Awaitable["str | None"]]
LOCK_NAME = ".runner.lock"
LOCK_POLL_SECONDS = 0.1


class RunnerBusyError(RuntimeError):
    """Another kind of run is already waiting; try again once it has started."""


@dataclass
class RunRequest:
    """What to run. ``message`` is the merge commit's message (default ``merge(<kind>): <report's first
    line>``); ``title`` the run conversation's title (default ``<kind> <date> <time>``)."""

    kind: str
    work: Work
    resolver: Resolver | None = None
    on_failure: Literal["merge", "discard"] = "merge"
    message: str | None = None
    title: str | None = None
    hold: Callable[[str, str], object] | None = None  # (run_id, tip): keep the work for review, merge nothing

    def __post_init__(self) -> None:
        new_run_id(self.kind)  # raises ValueError naming the rule for a kind that cannot name a branch
        if not callable(self.work):
            raise TypeError("a run needs a work function: async def work(ctx) -> report text")
        if self.on_failure not in ("merge", "discard"):
            raise ValueError(f"on_failure is 'merge' or 'discard', not {self.on_failure!r}")
        if self.resolver is not None and not callable(self.resolver):
            raise TypeError("resolver must be a function (path, base, ours, theirs) -> text or None")


@dataclass(frozen=True)
class RunInfo:
    kind: str
    run_id: str
    requested: str  # ISO time


@dataclass(frozen=True)
class RunnerStatus:
    state: RunState
    running: RunInfo | None = None
    queued: RunInfo | None = None


@dataclass(frozen=True)
class RunResult:
    run_id: str
    kind: str
    status: RunStatus
    report: str | None
    commits: tuple[str, ...]  # the run's own commits, oldest first
    outcome: MergeOutcome | None
    conversation_id: str | None
    error: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled and self.status != "merge_failed"


class RunnerObserver:
    """Hears what the runner does; override what you need (all are no-ops here)."""

    def state_changed(self, status: RunnerStatus) -> None: ...

    def progress(self, run: RunInfo, message: str, percentage: int | None) -> None: ...

    def merged(self, run: RunInfo, outcome: MergeOutcome) -> None: ...

    def finished(self, result: RunResult) -> None: ...


@dataclass(eq=False)
class _Job:
    request: RunRequest
    info: RunInfo
    future: asyncio.Future[RunResult]
    replaced: list[asyncio.Future[RunResult]] = field(default_factory=list)
    work_task: asyncio.Task[Any] | None = None
    context: RunContext | None = None
    cancel_requested: bool = False
    replaced_by: _Job | None = None

    def current(self) -> _Job:
        """This job, or the newer request that took its place in the queue."""
        job = self
        while job.replaced_by is not None:
            job = job.replaced_by
        return job

    def settle(self, result: RunResult | None = None, error: BaseException | None = None) -> None:
        for future in (self.future, *self.replaced):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif result is None:
                future.cancel()
            else:
                future.set_result(result)


class RunTicket:
    """A submitted run: ``await ticket`` for its ``RunResult``; ``ticket.cancel()`` to cancel it."""

    def __init__(self, runner: SubagentRunner, job: _Job) -> None:
        self._runner = runner
        self._job = job

    @property
    def run_id(self) -> str:
        """The id of the run that will answer this ticket (a newer request may have taken its place)."""
        return self._job.current().info.run_id

    def cancel(self) -> bool:
        return self._runner.cancel(self.run_id)

    def __await__(self) -> Generator[Any, None, RunResult]:
        return asyncio.shield(self._job.future).__await__()


class SubagentRunner:
    """The subagent runs of ``session``'s current agent (one runner per agent per process)."""

    def __init__(self, session: Session, *, observers: Iterable[RunnerObserver] = ()) -> None:
        self.session = session
        self.agent = session.agent
        self.main = session.repo
        self.worktrees = Worktrees(self.main, self.agent.worktrees_dir)
        self.observers: list[RunnerObserver] = list(observers)
        self._running: _Job | None = None
        self._queued: _Job | None = None
        self._driver: asyncio.Task[None] | None = None
        self._waiting_for_lock = False

    # ------------------------------------------------------------------ public
    @property
    def status(self) -> RunnerStatus:
        running = self._running.info if self._running else None
        queued = self._queued.info if self._queued else None
        state: RunState = "running" if running else "queued" if queued else "idle"
        return RunnerStatus(state, running, queued)

    async def start(self) -> list[RecoveredWorktree]:
        """Salvage what crashed runs left, unless another process is running a run right now."""
        fd = await asyncio.to_thread(self._open_lock)
        try:
            if not file_locks.try_lock(fd):
                return []  # that process owns the worktrees; it recovers before its own runs
            try:
                return await self._recover()
            finally:
                file_locks.unlock(fd)
        finally:
            os.close(fd)

    def submit(self, request: RunRequest) -> RunTicket:
        """Queue a run (see the module docstring for the one-waiting rule) and return its ticket."""
        info = RunInfo(request.kind, new_run_id(request.kind), datetime.now(UTC).isoformat(timespec="seconds"))
        job = _Job(request, info, asyncio.get_running_loop().create_future())
        waiting = self._queued
        if waiting is not None:
            if waiting.request.kind != request.kind:
                raise RunnerBusyError(f"a {waiting.request.kind} run is already waiting to start; try the "
                                      f"{request.kind} again once it has started")
            job.replaced = [waiting.future, *waiting.replaced]
            waiting.replaced_by = job
        self._queued = job
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive(), name=f"letta-subagents-{self.agent.id}")
        self._notify_state()
        return RunTicket(self, job)

    async def run(self, request: RunRequest) -> RunResult:
        """Submit and wait; cancelling the caller cancels the run."""
        ticket = self.submit(request)
        try:
            return await ticket
        except asyncio.CancelledError:
            ticket.cancel()
            raise

    def cancel(self, run_id: str | None = None) -> bool:
        """Cancel the run ``run_id`` (default: the running one, else the waiting one); False if none matched.

        A waiting run is dropped (its awaiters get ``CancelledError``); a running one has its work cancelled,
        and what it already committed is merged or discarded as its request says."""
        queued, running = self._queued, self._running
        if running is not None and run_id in (None, running.info.run_id):
            running.cancel_requested = True
            if running.context is not None:
                running.context.cancel_requested.set()
            if running.work_task is not None:
                running.work_task.cancel()
            return True
        if queued is not None and run_id in (None, queued.info.run_id):
            self._queued = None
            queued.settle(None)
            self._notify_state()
            return True
        return False

    async def close(self) -> None:
        """Cancel what waits and what runs, and wait for the runner to stop."""
        if self._queued is not None:
            self.cancel(self._queued.info.run_id)
        self.cancel()
        if self._driver is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver

    # ------------------------------------------------------------------ the driver
    async def _drive(self) -> None:
        while self._queued is not None:
            fd = await asyncio.to_thread(self._open_lock)
            try:
                if not await self._take_lock(fd):
                    continue
                try:
                    job, self._queued = self._queued, None
                    if job is None:
                        continue
                    self._running = job
                    self._notify_state()
                    try:
                        job.settle(await self._execute(job))
                    except asyncio.CancelledError:
                        job.settle(None)
                        raise
                    except Exception as exc:  # a bug or an I/O failure outside the work: tell the caller
                        log.exception("the %s run %s failed", job.info.kind, job.info.run_id)
                        job.settle(error=exc)
                    finally:
                        self._running = None
                        self._notify_state()
                finally:
                    file_locks.unlock(fd)
            finally:
                os.close(fd)

    def _open_lock(self) -> int:
        self.worktrees.root.mkdir(parents=True, exist_ok=True)
        return os.open(self.worktrees.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)

    async def _take_lock(self, fd: int) -> bool:
        """Wait for the agent's run lock (another process may hold it); False if nothing waits any more."""
        return await file_locks.lock_async(fd, poll_seconds=LOCK_POLL_SECONDS,
                                          still_wanted=lambda: self._queued is not None)

    async def _recover(self) -> list[RecoveredWorktree]:
        done = await asyncio.to_thread(self.worktrees.recover, self.agent.author)
        for item in done:
            if item.outcome is not None and item.outcome.kind != "up_to_date":
                info = RunInfo(item.branch.split("/")[1] if item.branch else "run", item.run_id, "")
                self._emit("merged", info, item.outcome)
        return done

    async def _execute(self, job: _Job) -> RunResult:
        info, request = job.info, job.request
        await self._recover()
        self._emit("progress", info, f"starting the {info.kind}", 0)
        tree: Worktree = await asyncio.to_thread(self.worktrees.create, info.kind, run_id=info.run_id)
        repo = await asyncio.to_thread(self.worktrees.open, tree)
        loop = asyncio.get_running_loop()

        def progress(message: str, percentage: int | None) -> None:
            """Observers always hear progress on the event loop, even from a work function's thread."""
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            if on_loop:
                self._emit("progress", info, message, percentage)
            else:
                loop.call_soon_threadsafe(self._emit, "progress", info, message, percentage)

        ctx = RunContext(run_id=info.run_id, kind=info.kind, worktree=tree, repo=repo, session=self.session,
                         progress=progress, title=request.title or run_title(info.kind))
        job.context = ctx
        report, error, cancelled = None, None, False
        if job.cancel_requested:
            cancelled = True
        else:
            job.work_task = asyncio.create_task(request.work(ctx), name=f"letta-{info.run_id}")
            try:
                result = await job.work_task
                report = str(result) if result is not None else None
            except asyncio.CancelledError:
                if not job.cancel_requested:
                    raise  # the runner itself is being cancelled
                cancelled = True
            except Exception as exc:
                log.warning("the %s run %s failed: %s", info.kind, info.run_id, exc, exc_info=True)
                error = f"{type(exc).__name__}: {exc}"
        commits = tuple(await asyncio.to_thread(self.worktrees.unmerged, tree))
        conversation = ctx._conversation_id
        failed = error is not None or cancelled

        def result(status: RunStatus, outcome: MergeOutcome | None = None, merge_error: str | None = None):
            return RunResult(info.run_id, info.kind, status, report, commits, outcome, conversation,
                             merge_error or error, cancelled)

        if not commits or (failed and request.on_failure == "discard"):
            await asyncio.to_thread(self.worktrees.remove, tree, discard=True)
            final = result("discarded" if commits else "no_changes")
            self._emit("finished", final)
            return final
        if request.hold is not None:  # sleeptime.merge "review": the user decides (subagents/dream_review.py)
            await asyncio.to_thread(request.hold, info.run_id, await asyncio.to_thread(self.main.rev_parse, tree.ref))
            await asyncio.to_thread(self.worktrees.remove, tree, discard=True)
            final = result("pending_review")
            self._emit("finished", final)
            return final
        self._emit("progress", info, "merging the work into memory", None)
        try:
            outcome = await merge_into_async(self.main, tree.ref, message=self._message(job, report, error),
                                             author=self.agent.author, resolver=request.resolver, label=tree.branch)
        except (MemoryRepoError, OSError) as exc:
            log.warning("merging the %s run %s failed: %s", info.kind, info.run_id, exc)
            final = result("merge_failed", merge_error=f"could not merge the {info.kind}'s work: {exc}. It is kept "
                           f"on branch {tree.branch} and will be merged on the next start")
            self._emit("finished", final)
            return final
        if outcome.kind != "up_to_date":
            self._emit("merged", info, outcome)
        try:
            await asyncio.to_thread(self.worktrees.remove, tree)
        except MemoryRepoError as exc:  # merged, so nothing is lost; the next start cleans it
            log.warning("could not remove the worktree of %s: %s", info.run_id, exc)
        final = result("merged", outcome)
        self._emit("finished", final)
        return final

    @staticmethod
    def _message(job: _Job, report: str | None, error: str | None) -> str:
        if job.request.message:
            return job.request.message
        lines = [line.strip() for line in (report or "").splitlines()]
        first = next((line for line in lines if line and not line.startswith("#")), "")  # a heading says little
        summary = (first[:69] + "…") if len(first) > 70 else first
        message = f"merge({job.info.kind}): {summary or 'run ' + job.info.run_id}"
        if error:
            message += f"\n\nThe run failed after committing ({error}); its commits are kept."
        elif job.cancel_requested:
            message += "\n\nThe run was cancelled after committing; its commits are kept."
        return message

    # ------------------------------------------------------------------ observers
    def _notify_state(self) -> None:
        self._emit("state_changed", self.status)

    def _emit(self, event: str, *args: Any) -> None:
        for observer in list(self.observers):
            try:
                getattr(observer, event)(*args)
            except Exception:
                log.exception("a subagent runner observer failed on %s", event)
