"""/init's history workers: earlier sessions shared out between parallel subagents, each in its own worktree
and conversation, and their work combined into the /init run's branch with the shared merge.

API::

    count = worker_count("standard", history)       # 0 without sessions; 2-3 standard, 3-5 deep, never more
                                                     # than there are sessions
    slices = split_into_slices(history.sessions, count, roots)
    results = await run_history_workers(ctx, slices, provider, message_for=brief, on_done=report)

Each worker gets a worktree ``memory-worktrees/init-history-<stamp>-<hex>`` on branch
``letta/init-history/<run-id>``, all started from the same commit of the /init branch, and its own
conversation (``init history 2/3 2026-12-01 14:03``, marked ``subagent: "init-history"``), and answers one
agent turn over its slice. The workers run at the same time. When all of them are done (or failed, or were
cancelled), every worker branch holding commits is merged into the /init branch with
``merge.merge_into_async``, in slice order so the result does not depend on who finished first, with the
run's resolver for lines two workers both changed (without one, or when its answer is not valid memory,
both versions stay in the file, marked). A merged worker's worktree and branch are removed: its commits
live on in the /init branch. A worker whose merge failed keeps its branch, which the runner's recovery
merges into main on the next start. Nothing a worker committed is dropped, whatever failed.

Core code: no LSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.runtime import AgentRuntime, load_prompt
from letta_ls.init.history import HistorySlice, SessionHistory
from letta_ls.init.questions import Depth
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError
from letta_ls.session import Session
from letta_ls.subagents.context import RunContext, RunConversationStore, WorktreeSession, run_title
from letta_ls.subagents.merge import MergeOutcome, Resolver, merge_into_async
from letta_ls.subagents.worktrees import Worktree, Worktrees

if TYPE_CHECKING:
    from letta_ls.agent.providers.base import Provider

log = logging.getLogger(__name__)

WORKER_KIND = "init-history"
WORKER_RANGE: dict[str, tuple[int, int, int]] = {"standard": (2, 3, 3), "deep": (3, 5, 2)}  # low, high, sessions each
WORKER_STEPS: dict[str, int] = {"standard": 16, "deep": 32}
DIGEST_CHARS: dict[str, int] = {"standard": 12_000, "deep": 24_000}

MessageFor = Callable[["HistorySlice", str], str]  # (slice, the worker's branch) -> the worker's user message
OnDone = Callable[["WorkerResult", int, int], None]  # (result, workers done, workers in all)


def worker_count(depth: Depth, history: SessionHistory) -> int:
    """How many workers share ``history``: Letta Code's 2-3 (standard) or 3-5 (deep), one per few
    sessions, and never more than there are sessions."""
    sessions = len(history.main_sessions()) or len(history.sessions)
    if sessions == 0:
        return 0
    low, high, each = WORKER_RANGE[depth]
    return min(sessions, max(low, min(high, math.ceil(sessions / each))))


@dataclass
class WorkerResult:
    """What one history worker did: its slice, its reply (the findings), its commits and how they merged."""

    index: int  # 1-based
    count: int
    sessions: int
    start: datetime | None
    end: datetime | None
    branch: str
    worktree: Path
    conversation_id: str | None = None
    reply: str = ""
    commits: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # memory paths its commits changed
    error: str | None = None  # the model failed or the worker broke; its commits are still merged
    cancelled: bool = False
    merge: MergeOutcome | None = None
    merge_error: str | None = None  # its branch was kept for the next start's recovery
    started: float = 0.0  # loop time, to show the workers ran at the same time
    finished: float = 0.0

    @property
    def label(self) -> str:
        return f"history worker {self.index}/{self.count}"

    @property
    def span(self) -> str:
        if self.start and self.end:
            first, last = self.start.date().isoformat(), self.end.date().isoformat()
            return first if first == last else f"{first} to {last}"
        return "undated"


@dataclass
class _Worker:
    slice: HistorySlice
    tree: Worktree
    repo: MemoryRepo
    result: WorkerResult
    task: asyncio.Task[None] | None = field(default=None, repr=False)


async def run_history_workers(
    ctx: RunContext, slices: Sequence[HistorySlice], provider: Provider, *, message_for: MessageFor,
    depth: Depth = "standard", resolver: Resolver | None = None, workspace: Sequence[Path] = (),
    on_done: OnDone | None = None, step_limit: int | None = None,
) -> list[WorkerResult]:
    """Run one worker per slice at the same time, then merge their branches into ``ctx``'s worktree
    (see the module docstring). Returns one ``WorkerResult`` per slice, in slice order."""
    if not slices:
        return []
    base = await asyncio.to_thread(ctx.repo.head)
    trees = Worktrees(ctx.main, ctx.agent.worktrees_dir)
    parent: Session = getattr(ctx.session, "parent", ctx.session)
    prompt = load_prompt("init_history.md")
    workers: list[_Worker] = []
    try:
        for item in slices:
            tree = await asyncio.to_thread(trees.create, WORKER_KIND, base=base)
            result = WorkerResult(item.index, item.count, len(item.sessions), item.start, item.end, tree.branch,
                                  tree.path)
            workers.append(_Worker(item, tree, await asyncio.to_thread(trees.open, tree), result))
        done = 0

        async def one(worker: _Worker) -> None:
            nonlocal done
            try:
                await _run_worker(worker, parent, provider, prompt, message_for, workspace,
                                  step_limit or WORKER_STEPS[depth])
            finally:
                done += 1
                if on_done is not None and not worker.result.cancelled:
                    on_done(worker.result, done, len(workers))

        for worker in workers:
            worker.task = asyncio.create_task(one(worker), name=f"letta-{worker.tree.run_id}")
        await asyncio.gather(*(w.task for w in workers if w.task is not None))
    finally:
        pending = [w.task for w in workers if w.task is not None and not w.task.done()]
        for task in pending:
            task.cancel()
        await _uncancellable(_finish(pending, ctx, trees, workers, base, resolver))
    return [w.result for w in workers]


async def _finish(pending: list[asyncio.Task[None]], ctx: RunContext, trees: Worktrees, workers: list[_Worker],
                  base: str | None, resolver: Resolver | None) -> None:
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    await _combine(ctx, trees, workers, base, resolver)


async def _uncancellable(work: Awaitable[None]) -> None:
    """Run ``work`` to the end even if the caller is cancelled (again) meanwhile; the cancellation is passed on
    once it is done. Combining the workers' commits is short git work, and stopping halfway would leave it
    for the next start's recovery instead of this run's merge."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


async def _run_worker(worker: _Worker, parent: Session, provider: Provider, prompt: str, message_for: MessageFor,
                      workspace: Sequence[Path], step_limit: int) -> None:
    result = worker.result
    loop = asyncio.get_running_loop()
    result.started = loop.time()
    try:
        session = WorktreeSession(parent, worker.repo)
        directory = session.agent.conversations_dir
        title = run_title(f"init history {result.index}/{result.count}")
        info = await asyncio.to_thread(ConversationStore(directory).create, title, subagent=WORKER_KIND)
        result.conversation_id = info.conversation_id
        runtime = AgentRuntime(session, provider, store=RunConversationStore(directory, info.conversation_id),
                               base_prompt=prompt, step_limit=step_limit, workspace=list(workspace))
        turn = await runtime.run_turn(message_for(worker.slice, worker.tree.branch))
        result.reply = turn.reply.strip()
        result.error = turn.error
    except asyncio.CancelledError:
        result.cancelled = True
        raise
    except Exception as exc:  # a bug or an I/O failure: this worker's loss only, and said so
        log.warning("%s failed: %s", result.label, exc, exc_info=True)
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.finished = loop.time()


async def _combine(ctx: RunContext, trees: Worktrees, workers: list[_Worker], base: str | None,
                   resolver: Resolver | None) -> None:
    """Merge every worker's commits into the /init branch, in slice order; then clean up."""
    for worker in workers:
        result = worker.result
        try:
            commits, changed = await asyncio.to_thread(_branch_work, ctx.repo, base, worker.tree.ref)
        except MemoryRepoError as exc:
            commits, changed = (), ()
            result.merge_error = f"could not read its branch: {exc}"
        result.commits, result.changed = commits, changed
        if commits:
            try:
                result.merge = await merge_into_async(
                    ctx.repo, worker.tree.ref, author=ctx.agent.author, resolver=resolver, label=worker.tree.branch,
                    message=f"init: combine the findings of {result.label} ({result.span})")
            except (MemoryRepoError, OSError) as exc:
                log.warning("could not merge %s: %s", worker.tree.branch, exc)
                result.merge_error = (f"{exc}. Its work is kept on branch {worker.tree.branch} and merged into "
                                      "memory on the next start")
        await asyncio.to_thread(_clean_up, trees, worker.tree, keep_branch=result.merge_error is not None)


def _branch_work(repo: MemoryRepo, base: str | None, ref: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The branch's commits since ``base`` (oldest first) and the memory paths they changed."""
    span = f"{base}..{ref}" if base else ref
    commits = tuple(repo.run_git("rev-list", "--reverse", span).decode().split())
    if not commits:
        return (), ()
    if base:
        names = repo.run_git("diff", "--name-only", "--no-renames", "-z", base, ref)
    else:
        names = repo.run_git("ls-tree", "-r", "--name-only", "-z", ref)
    return commits, tuple(sorted(p for p in names.decode("utf-8", "surrogateescape").split("\x00") if p))


def _clean_up(trees: Worktrees, tree: Worktree, *, keep_branch: bool) -> None:
    """Remove a worker's worktree; its branch too unless its work still needs it."""
    try:
        if keep_branch:
            with contextlib.suppress(MemoryRepoError):
                trees.main.run_git("worktree", "remove", "--force", "--force", str(tree.path))
            trees.prune()
        else:
            trees.remove(tree, discard=True)  # merged into the /init branch: nothing is dropped
    except MemoryRepoError as exc:  # the next start's recovery removes it
        log.warning("could not remove %s: %s", tree.path, exc)
