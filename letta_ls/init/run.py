"""/init: study the workspace, ask how the user likes to work, learn from earlier sessions, write memory.

API::

    initializer = MemoryInitializer(session, runner)       # runner: the agent's SubagentRunner
    provider, note = init_provider(session.settings.model)
    result = await initializer.run(InitRequest((Path("~/code/shop-api"),), depth=None, history=None),
                                   ask=ask_user, provider=provider, provider_note=note, progress=show)
    result.report      # markdown: files created or updated (descriptions, tokens), what was learned from
                       # earlier sessions, the answers, what was skipped or failed and why
    result.commits     # what /init added to main: its commits, then the merge commit
    result.to_json()   # {"report", "commits"} (SPEC section 7)

The phases, each reported through ``progress(message, percentage)``:

1. **inspect**: ``workspace.inspect_workspace`` over the folders (``NoWorkspaceError`` when there is none);
   earlier sessions are counted (``detect_history``) unless ``history`` is false.
2. **ask**: the questions still open (``init_questions``) go one at a time to ``ask(question)``, which returns
   the chosen button's title or None. The asking is the caller's: the language server shows
   ``window/showMessageRequest``, the CLI asks on the terminal, ``ask=None`` takes every default. A dismissed
   question takes its default; one not answered within ``question_timeout`` ends the asking (nobody is there)
   and every open question takes its default. Nothing here waits forever.
3. **the run**, through the runner (its own worktree and conversation; one memory subagent per agent at a
   time, so /init waits for a dream or another window's /init to finish):
   - **history** (``history`` defaults to true): this project's Claude Code and Codex sessions are read;
     unreadable ones become notes in the report. With a model they are shared out between parallel history
     workers (``init_workers``), each in its own worktree, whose work is merged into the /init branch.
   - **write**: with a model, the user's identity (from git) and answers are committed first (they are facts,
     not a model's guess), then the /init agent (``prompts/init.md``, with the workspace tools) writes memory
     from the workspace digest, the answers and the workers' findings; a ``[[link]]`` it leaves to a file the
     draft would have written gets that file. If it commits nothing (or fails before it does), the
     deterministic draft is committed instead. Without a model, the draft is committed (``init_draft``,
     written over existing files by ``init_refresh``: extended, never clobbered) and the report says what a
     model would add.
4. **merge**: the runner merges the /init branch into main (nothing dropped); what a run that failed midway
   had committed is merged too, and the report says what failed.

One /init per agent per process: a second one while one runs raises ``InitAlreadyRunning``. Core code: no
LSP, no printing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.runtime import load_prompt
from letta_ls.doctor import audit
from letta_ls.init.asking import QUESTION_TIMEOUT, Asker, ask_questions
from letta_ls.init.briefs import InitLayout, init_message, worker_message
from letta_ls.init.draft import HUMAN_PATH, MemoryDraft, draft_memory
from letta_ls.init.history import (
    HistoryInsights,
    HistorySources,
    ProjectMatcher,
    ReadLimits,
    SessionHistory,
    detect_history,
    merge_insights,
    read_history,
    session_insights,
    split_into_slices,
)
from letta_ls.init.history import Session as Transcript
from letta_ls.init.history_workers import run_history_workers, worker_count
from letta_ls.init.questions import Depth, InitAnswers, init_questions, resolve_answers
from letta_ls.init.report import (
    InitResult,
    InitSummary,
    files_changed,
    history_note,
    learned_from_sessions,
    render_report,
)
from letta_ls.init.workspace import WorkspaceFacts, inspect_workspace
from letta_ls.init.writes import commit_drafted, complete_links, memory_texts
from letta_ls.session import Session
from letta_ls.settings import ModelSettings
from letta_ls.subagents.context import Progress, RunContext, run_title
from letta_ls.subagents.resolve import model_resolver
from letta_ls.subagents.runner import RunInfo, RunnerObserver, RunnerStatus, RunRequest, RunResult, SubagentRunner

if TYPE_CHECKING:
    from letta_ls.agent.providers.base import Provider

log = logging.getLogger(__name__)

INIT_STEPS: dict[str, int] = {"standard": 40, "deep": 100}


class InitError(RuntimeError):
    """/init cannot start; the message says what to do."""


class NoWorkspaceError(InitError):
    """There is no workspace folder to study."""


class InitAlreadyRunning(InitError):
    """A second /init was asked for while one runs in this process."""


@dataclass(frozen=True)
class InitRequest:
    folders: tuple[Path, ...]
    depth: Depth | None = None  # None: ask (default standard)
    history: bool | None = None  # None: ask when earlier sessions exist (default true)

    def __post_init__(self) -> None:
        if self.depth not in (None, "standard", "deep"):
            raise ValueError(f"depth is 'standard' or 'deep', not {self.depth!r}")
        if self.history is not None and not isinstance(self.history, bool):
            raise ValueError(f"history is true or false, not {self.history!r}")


def init_provider(model: ModelSettings, env: Mapping[str, str] = os.environ) -> tuple[Provider | None, str | None]:
    """The model /init uses, and a note when a configured one cannot be used.

    The agent's own model, chosen as chat chooses it; the embedded 135M-parameter model only when the user
    chose it explicitly (writing a whole memory is beyond it, and the deterministic draft does better)."""
    try:
        provider = select_provider(model, env)
    except ProviderError as exc:
        return None, (f"The configured model cannot be used ({exc}), so the deterministic draft was written; "
                      "fix the model settings and run /init again to let a model extend it.")
    if provider is not None and provider.name == "local" and model.provider != "local":
        return None, None
    return provider, None


@dataclass
class _RunState:
    """What the work function learned, read after the runner is done."""

    base: str | None = None
    branch_head: str | None = None
    history: SessionHistory | None = None
    insights: HistoryInsights | None = None  # of every session read, computed once


class _Relay(RunnerObserver):
    """The runner's events about this /init run, passed on as progress. Waiting for another run (a dream,
    another window's /init) is said only when the wait lasts, not for the instant every run is queued."""

    WAIT_NOTICE_SECONDS = 0.5

    def __init__(self, report: Progress) -> None:
        self.report = report
        self.run_id: str | None = None
        self.started = False
        self._notice: asyncio.TimerHandle | None = None

    def _ours(self, run: RunInfo | None) -> bool:
        return run is not None and run.kind == "init" and (self.run_id is None or run.run_id == self.run_id)

    def state_changed(self, status: RunnerStatus) -> None:
        if self._ours(status.queued) and not self.started and self._notice is None:
            self._notice = asyncio.get_running_loop().call_later(self.WAIT_NOTICE_SECONDS, self._still_waiting)

    def _still_waiting(self) -> None:
        if not self.started:
            self.report("waiting for another memory run (a dream, a defrag, another window's /init) to finish", None)

    def progress(self, run: RunInfo, message: str, percentage: int | None) -> None:
        if self._ours(run):
            self.started = True
            self.report(message, percentage)

    def close(self) -> None:
        if self._notice is not None:
            self._notice.cancel()


@dataclass
class _Context:
    """One /init's inputs, shared by its phases."""

    facts: WorkspaceFacts
    answers: InitAnswers
    matcher: ProjectMatcher
    sources: HistorySources
    provider: Provider | None
    folders: list[Path]
    summary: InitSummary
    asked_anyone: bool
    state: _RunState = field(default_factory=_RunState)

    @property
    def roots(self) -> list[str]:
        return [f.path for f in self.facts.folders]


class MemoryInitializer:
    """/init for the agent of ``session`` (which must not switch agents while it is used)."""

    def __init__(self, session: Session, runner: SubagentRunner, *, sources: HistorySources | None = None,
                 limits: ReadLimits | None = None, question_timeout: float = QUESTION_TIMEOUT) -> None:
        self.session = session
        self.runner = runner
        self.sources = sources
        self.limits = limits or ReadLimits()
        self.question_timeout = question_timeout
        self._started: datetime | None = None

    @property
    def running(self) -> bool:
        return self._started is not None

    async def run(self, request: InitRequest, *, ask: Asker | None = None, provider: Provider | None = None,
                  provider_note: str | None = None, progress: Progress | None = None) -> InitResult:
        if self._started is not None:
            since = self._started.astimezone().strftime("%H:%M:%S")
            raise InitAlreadyRunning(f"/init is already running for {self.session.agent.name} (since {since}); wait "
                                     "for it to finish (or cancel it) before starting another")
        self._started = datetime.now(UTC)
        try:
            return await self._run(request, ask, provider, provider_note, progress or (lambda _m, _p: None))
        finally:
            self._started = None

    # ------------------------------------------------------------------ phases 1 and 2: inspect, ask
    async def _run(self, request: InitRequest, ask: Asker | None, provider: Provider | None,
                   provider_note: str | None, progress: Progress) -> InitResult:
        folders = [Path(f).expanduser() for f in request.folders]
        if not folders:
            raise NoWorkspaceError("/init studies a project, but no workspace folder is open: open the project's "
                                   "folder in the editor (or run `letta-ls init DIR`)")
        progress("inspecting the workspace", 5)
        facts = await asyncio.to_thread(inspect_workspace, folders)
        if not facts.folders:
            raise NoWorkspaceError("/init found no workspace folder to study: " + "; ".join(facts.notes))
        settings = self.session.settings
        summary = InitSummary(projects=[f.name for f in facts.folders], system_budget=settings.memory.systemTokenBudget,
                              model=f"{provider.name} {provider.model}" if provider else None, model_note=provider_note)
        summary.skipped += list(facts.notes) + [f"{f.name}: {note}" for f in facts.folders for note in f.notes]
        remotes = [url for f in facts.folders if f.git for url in f.git.remotes.values()]
        matcher = ProjectMatcher.for_folders([f.path for f in facts.folders], remotes=remotes)
        sources = self.sources or HistorySources.from_home()
        detected = None
        if request.history is not False and ask is not None:  # only the question needs the count
            progress("looking for earlier sessions", 10)
            detected = await asyncio.to_thread(detect_history, matcher, sources, limits=self.limits)
        progress("asking about your working style", 15)
        questions = init_questions(depth=request.depth, history=request.history, detected=detected)
        answers = await ask_questions(questions, ask, self.question_timeout)
        summary.asked = answers.asked
        if answers.timed_out:
            summary.skipped.append(f"No answer came within {self.question_timeout:g} seconds, so the open "
                                   "questions took their defaults.")
        resolved = resolve_answers(answers.values, depth=request.depth, history=request.history)
        summary.depth = resolved.depth
        if not resolved.read_history:
            summary.history_note = ("Not read: you chose to skip them." if request.history is None else
                                    "Not read: /init was asked to leave earlier sessions alone (history: false).")
        run = _Context(facts, resolved, matcher, sources, provider, folders, summary, answers.anyone)
        return await self._through_runner(run, progress)

    # ------------------------------------------------------------------ phase 3: the run
    async def _through_runner(self, run: _Context, progress: Progress) -> InitResult:
        relay = _Relay(progress)
        provider = run.provider
        resolver = model_resolver(provider, ours="main", theirs="/init") if provider else None
        names = ", ".join(run.summary.projects)

        async def work(ctx: RunContext) -> str:
            run.state.base = ctx.worktree.base
            try:
                return await self._work(ctx, run)
            finally:
                run.state.branch_head = await asyncio.to_thread(ctx.repo.head)

        request = RunRequest("init", work, resolver=resolver, title=run_title("init"),
                             message=f"init: memory for {names} from the workspace, your answers and earlier sessions")
        self.runner.observers.append(relay)
        try:
            ticket = self.runner.submit(request)
            relay.run_id = ticket.run_id
            try:
                result = await ticket
            except asyncio.CancelledError:
                ticket.cancel()
                raise
        finally:
            relay.close()
            self.runner.observers.remove(relay)
        progress("writing the report", 98)
        return await asyncio.to_thread(self._conclude, run, result)

    async def _work(self, ctx: RunContext, run: _Context) -> str:
        summary, answers = run.summary, run.answers
        sessions: list[Transcript] = []
        if answers.read_history:
            ctx.progress("reading earlier sessions", 20)
            history = await asyncio.to_thread(read_history, run.matcher, run.sources, limits=self.limits)
            run.state.history = history
            sessions = history.sessions
            if sessions:
                run.state.insights = await asyncio.to_thread(
                    lambda: merge_insights(session_insights(s, run.roots) for s in sessions))
            summary.sessions_read = len(history.main_sessions())
            summary.skipped += [str(note) for note in history.notes]
            summary.history_note = history_note(history, run.provider is not None)
        existing = memory_texts(await asyncio.to_thread(ctx.repo.snapshot))
        draft = await asyncio.to_thread(
            draft_memory, run.facts, style=answers.style, sessions=sessions, existing=existing,
            settings=ctx.session.settings.memory, roots=run.roots, insights=run.state.insights)
        summary.skipped += draft.notes
        guard = ctx.operations("agent").guard
        if run.provider is None:
            ctx.progress("writing the draft", 60)
            written = await asyncio.to_thread(commit_drafted, ctx.repo, draft.files, draft.reason, ctx.agent.author,
                                              guard)
            summary.skipped += written.notes
            summary.learned = learned_from_sessions(run.state.insights)
            if not summary.model_note:
                summary.draft_reason = ("No model is configured, so /init wrote a deterministic draft from the "
                                        "workspace" + (" and the earlier sessions" if sessions else "") + ". With a "
                                        "model, parallel history workers would study each session and the /init "
                                        "agent would read the code and write richer, linked memory: configure one "
                                        "(see the `model` settings) and run /init again; it extends what is here.")
            return f"init: memory for {', '.join(summary.projects)} from the workspace (draft)"
        return await self._write_with_model(ctx, run, draft, guard)

    async def _write_with_model(self, ctx: RunContext, run: _Context, draft: MemoryDraft, guard) -> str:
        summary, answers, provider = run.summary, run.answers, run.provider
        assert provider is not None
        layouts = InitLayout.from_draft(draft, run.facts)
        if HUMAN_PATH in draft.files:
            await asyncio.to_thread(commit_drafted, ctx.repo, {HUMAN_PATH: draft.files[HUMAN_PATH]},
                                    "init: who you are (from git) and how you like to work (your answers)",
                                    ctx.agent.author, guard)
        history = run.state.history
        conflicts: list[str] = []
        if history is not None and history.sessions:
            count = worker_count(answers.depth, history)
            slices = split_into_slices(history.sessions, count, run.roots)
            ctx.progress(f"history workers 0/{len(slices)} done", 25)

            def done(worker, finished: int, total: int) -> None:
                ctx.progress(f"history workers {finished}/{total} done", 25 + 35 * finished // total)

            summary.workers = await run_history_workers(
                ctx, slices, provider, depth=answers.depth, workspace=run.folders, on_done=done,
                resolver=model_resolver(provider, ours="memory so far", theirs="a history worker"),
                message_for=lambda item, branch: worker_message(item, branch, layouts, answers.depth, run.roots))
            for worker in summary.workers:
                if worker.error:
                    summary.failures.append(f"{worker.label} failed: {worker.error}")
                if worker.merge_error:
                    summary.failures.append(f"{worker.label}'s work is not combined yet: {worker.merge_error}")
                if worker.merge is not None:
                    conflicts += worker.merge.conflicts
        ctx.progress("writing memory", 65)
        snapshot = await asyncio.to_thread(ctx.repo.snapshot)
        tokens = audit(snapshot, ctx.session.settings.memory, ctx.session.counter).tokens.system
        runtime = ctx.runtime(provider, base_prompt=load_prompt("init.md"), step_limit=INIT_STEPS[answers.depth],
                              workspace=run.folders)
        runtime.step_listeners.append(lambda _c, step: ctx.progress(f"writing memory (step {step})",
                                                                    min(92, 65 + step)))
        brief = init_message(run.facts, answers, layouts, settings=ctx.session.settings.memory, system_tokens=tokens,
                             history_note=summary.history_note or "none were read.", workers=summary.workers,
                             conflicts=sorted(set(conflicts)), asked=run.asked_anyone)
        turn = await runtime.run_turn(brief)
        summary.init_reply = turn.reply.strip()
        if turn.error:
            summary.failures.append(f"the /init agent's model failed: {turn.error}")
        if not turn.commits:
            ctx.progress("writing the draft", 93)
            existing = memory_texts(await asyncio.to_thread(ctx.repo.snapshot))
            fallback = await asyncio.to_thread(
                draft_memory, run.facts, style=answers.style, sessions=history.sessions if history else (),
                existing=existing, settings=ctx.session.settings.memory, roots=run.roots,
                insights=run.state.insights)
            written = await asyncio.to_thread(commit_drafted, ctx.repo, fallback.files, fallback.reason,
                                              ctx.agent.author, guard)
            summary.skipped += written.notes
            why = "failed before writing anything" if turn.error else "wrote nothing"
            summary.draft_reason = f"The /init agent {why}, so the deterministic draft was committed instead."
        else:
            linked = await asyncio.to_thread(complete_links, ctx.repo, draft.files,
                                             "init: files the new memory links to", ctx.agent.author, guard)
            summary.skipped += linked.notes
            if linked.paths:
                summary.skipped.append("Linked files the /init agent did not write were added from the draft: "
                                       + ", ".join(f"`{p}`" for p in linked.paths) + ".")
        return summary.init_reply.splitlines()[0] if summary.init_reply else "init: memory written"

    # ------------------------------------------------------------------ phase 4: after the merge
    def _conclude(self, run: _Context, result: RunResult) -> InitResult:
        summary, state = run.summary, run.state
        summary.outcome = result.outcome
        if result.cancelled:
            summary.status = "cancelled"
            summary.failures.append("/init was cancelled")
        elif result.status == "merge_failed":
            summary.status = "merge_failed"
            summary.failures.append(result.error or "the merge failed")
        elif result.error:
            summary.status = "failed"
            summary.failures.append(f"/init stopped: {result.error}")
        else:
            summary.status = "merged" if result.status == "merged" else "no_changes"
        repo, counter = self.session.repo, self.session.counter
        merged = result.status == "merged" and result.outcome is not None
        snapshot = repo.snapshot() if merged or not state.branch_head else repo.snapshot(state.branch_head)
        checked = audit(snapshot, self.session.settings.memory, counter)
        summary.audit = checked
        summary.system_tokens = checked.tokens.system
        summary.files = files_changed(repo, state.base, state.branch_head, snapshot, counter)
        commits = list(result.commits)
        outcome = result.outcome
        if outcome is not None and outcome.kind == "merged" and outcome.head not in commits:
            commits.append(outcome.head)
        return InitResult(summary.status, render_report(summary), tuple(commits),
                          outcome.head if outcome is not None else None,
                          outcome.changed if outcome is not None else (), tuple(summary.files),
                          tuple(summary.workers), "; ".join(summary.failures) or None)

