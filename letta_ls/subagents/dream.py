"""A dream: the agent reviews its conversations since the last successful dream and improves its memory.

API::

    dreamer = Dreamer(session, runner)                 # runner: the agent's SubagentRunner
    result = await dreamer.dream(trigger="manual")     # DreamResult
    result.status   # merged | no_changes | nothing_new | failed | cancelled
    result.report   # markdown: the model's report, then the commits that landed and the merge's notes
    result.commits  # what it added to main (its commits, then the merge commit if one was needed)

What happens:

1. The model is the agent's own (``models.subagent_provider``, as chat chooses it); with none,
   ``NoSubagentModel`` is raised before anything starts, with a message saying how to configure one.
2. The runner gives the dream its worktree and conversation (one run per agent; a dream requested while
   one runs waits). Inside, the slice since each conversation's cursor is collected (``review``); with
   nothing new, the dream ends at once ("nothing_new", no model call).
3. The dream is one agent turn with ``prompts/dream.md`` as its system prompt (with the worktree's memory
   compiled into it like the agent's own prompt: the tree with descriptions, ``system/`` inline) and the
   transcript slice as the user message. It writes lessons with the memory tools into its worktree.
4. The runner merges its commits into main; same-line conflicts go to ``resolve.model_resolver`` (the same
   model), and if its answer is not valid memory both versions are kept.
5. Only when the work was merged (or needed no change) do the cursors advance and the step count drop
   (``SleeptimeStore.advance``). A failed dream reports its cause and leaves the cursors where they were, so
   the next dream reviews the same messages; what it had already committed is still merged (every commit
   was a valid, guarded change), never lost.

With ``sleeptime.merge: "explicit"`` (the agent reviews before applying), a dream that changed something is
followed, in the same worktree and before the merge, by a review turn (``prompts/dream_review.md``): the
agent reads the dream's report and diff, fixes what is wrong with the memory tools, and answers a verdict.
"Rejected" (or a review that fails) reverts the dream's changes on its branch, so nothing unreviewed
reaches main while its commits stay in history; a failed review also leaves the cursor, so the next dream
retries. The verdict is part of the report. Core code: no LSP.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.runtime import load_prompt
from letta_ls.session import Session
from letta_ls.subagents.context import RunContext
from letta_ls.subagents.dream_review import DreamReviews, pending_section
from letta_ls.subagents.models import ProviderFactory, close_provider, subagent_provider
from letta_ls.subagents.reports import commits_section, landed_commits, merge_section, summarise_commits
from letta_ls.subagents.resolve import model_resolver
from letta_ls.subagents.review import REVIEW_BUDGET_CHARS, ReviewSlice, collect_review
from letta_ls.subagents.runner import RunRequest, RunResult, SubagentRunner
from letta_ls.subagents.sleeptime_state import SleeptimeStore

log = logging.getLogger(__name__)

DreamStatus = Literal["merged", "no_changes", "nothing_new", "failed", "cancelled", "pending_review"]
DREAM_STEP_LIMIT = 40
REVIEW_STEP_LIMIT = 12
REVIEW_DIFF_CHARS = 60_000  # a longer diff is cut; the reviewer can still `view` every file
NOTHING_NEW = "No changes needed: there is nothing new to review since the last dream."


class DreamFailed(RuntimeError):
    """The dream's model call failed; the message is the cause a person can act on."""


@dataclass(frozen=True)
class DreamResult:
    status: DreamStatus
    report: str
    commits: tuple[str, ...] = ()
    head: str | None = None
    changed: tuple[str, ...] = ()
    error: str | None = None
    reviewed: int = 0  # messages the dream reviewed
    backlog: int = 0  # messages left for the next dream
    trigger: str = "manual"
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("merged", "no_changes", "nothing_new", "pending_review")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"report": self.report, "commits": list(self.commits)}
        if self.status == "pending_review":
            data["pendingReview"] = self.run_id  # letta/dreamChanges {runId} lists what waits
        return data


@dataclass
class _Seen:
    """What the work function learned, read after the runner is done."""

    review: ReviewSlice | None = None
    steps: int = 0
    error: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


def dream_message(review: ReviewSlice, now: datetime) -> str:
    """The dream's user message: the date, the slice, and what to do with it."""
    local = now.astimezone()
    return (f"Today is {local.strftime('%A %Y-%m-%d')}, {local.strftime('%H:%M %Z')}. Review these conversations "
            f"since your last dream ({review.describe()}); earlier messages were reviewed by earlier dreams.\n\n"
            f"<transcript>\n{review.render()}\n</transcript>\n\n"
            "Work through the four phases, make your changes with the memory tool, then reply with your report.")


def review_message(report: str, diff: str) -> str:
    """The review turn's user message: the dream's report and its diff (cut past ``REVIEW_DIFF_CHARS``)."""
    if len(diff) > REVIEW_DIFF_CHARS:
        diff = diff[:REVIEW_DIFF_CHARS] + "\n[... the diff goes on; `view` the files it names to see the rest]"
    return (f"<dream_report>\n{report}\n</dream_report>\n\n<diff>\n{diff}\n</diff>\n\n"
            "Review these changes, fix what is wrong, then reply with your verdict.")


async def review_before_applying(ctx: RunContext, provider: Any, report: str, seen: _Seen) -> str:
    """``sleeptime.merge: "explicit"``: the agent reviews the dream's changes on its branch before the merge.
    Answers the review section of the report; a rejection, or a review that fails, reverts the dream's
    changes on the branch (a failure also raises ``DreamFailed``, so the cursor stays)."""
    ctx.progress("reviewing the dream's changes before they are applied", 92)
    base = ctx.worktree.base
    diff = (await asyncio.to_thread(ctx.repo.run_git, "diff", f"{base}..HEAD")).decode("utf-8", "replace")
    reviewer = ctx.runtime(provider, base_prompt=load_prompt("dream_review.md"), step_limit=REVIEW_STEP_LIMIT)
    turn = await reviewer.run_turn(review_message(report, diff))
    verdict = turn.reply.strip()
    if turn.error or "rejected" in verdict.split("\n## Fixes", 1)[0].casefold():
        await asyncio.to_thread(_revert_to_base, ctx)
        if turn.error:
            seen.error = f"the review of the dream failed, so its changes were undone: {turn.error}"
            raise DreamFailed(seen.error)
    return "## Review before applying\n\n" + (verdict or "(the review wrote no verdict)")


def _revert_to_base(ctx: RunContext) -> None:
    """One commit on the run's branch that puts memory back as it was when the dream started."""
    base = ctx.worktree.base
    changes: dict[str, bytes | None] = {}
    listing = ctx.repo.run_git("diff", "--no-renames", "--name-status", "-z", base, "HEAD").decode().split("\0")
    for status, path in zip(listing[0::2], listing[1::2], strict=False):
        changes[path] = None if status == "A" else ctx.repo.run_git("cat-file", "blob", f"{base}:{path}")
    if changes:
        ctx.repo.commit(changes, "dream: the review rejected these changes; undone before the merge",
                        ctx.agent.author)


class Dreamer:
    """Dreams of one agent (``session``'s, which must not switch agents while it is used)."""

    def __init__(self, session: Session, runner: SubagentRunner, *, state: SleeptimeStore | None = None,
                 provider_factory: ProviderFactory | None = None, budget_chars: int = REVIEW_BUDGET_CHARS,
                 step_limit: int = DREAM_STEP_LIMIT) -> None:
        self.session = session
        self.runner = runner
        self.state = state or SleeptimeStore(session.agent.conversations_dir)
        self.provider_factory = provider_factory
        self.budget_chars = budget_chars
        self.step_limit = step_limit

    def store(self) -> ConversationStore:
        return ConversationStore(self.session.agent.conversations_dir)

    def reviews(self) -> DreamReviews:
        return DreamReviews.for_agent(self.session.repo, self.session.agent)

    async def dream(self, trigger: str = "manual") -> DreamResult:
        """Run one dream now (waiting for a run in progress); raises ``NoSubagentModel`` without a model and
        ``RunnerBusyError`` when another kind of run is already waiting."""
        settings = self.session.settings
        explicit = settings.sleeptime.merge == "explicit"
        provider = subagent_provider(settings.model, "a dream", self.provider_factory)
        seen = _Seen()

        async def work(ctx: RunContext) -> str:
            state = await asyncio.to_thread(self.state.read)
            review = await asyncio.to_thread(collect_review, self.store(), state.cursors,
                                             budget_chars=self.budget_chars)
            seen.review, seen.steps = review, state.steps
            if not any(conv.rendered for conv in review.conversations):
                return NOTHING_NEW
            ctx.progress(f"reviewing {review.describe()}", 10)
            runtime = ctx.runtime(provider, base_prompt=load_prompt("dream.md"), step_limit=self.step_limit)
            runtime.step_listeners.append(
                lambda _conv, step: ctx.progress(f"dreaming (step {step})", min(90, 10 + 8 * step)))
            turn = await runtime.run_turn(dream_message(review, seen.started))
            if turn.error:
                seen.error = turn.error
                raise DreamFailed(turn.error)
            report = turn.reply.strip() or "(the model wrote no report)"
            if explicit and await asyncio.to_thread(ctx.commits):
                report += "\n\n" + await review_before_applying(ctx, provider, report, seen)
            return report

        resolver = model_resolver(provider, ours="main", theirs="dream",
                                  max_output_tokens=max(settings.model.maxOutputTokens, 4096))
        hold = self.reviews().hold if settings.sleeptime.merge == "review" else None
        try:
            result = await self.runner.run(RunRequest("dream", work, resolver=resolver, hold=hold))
        finally:
            await close_provider(provider)
        return await asyncio.to_thread(self._conclude, result, seen, trigger)

    # ------------------------------------------------------------------ after the run
    def _conclude(self, result: RunResult, seen: _Seen, trigger: str) -> DreamResult:
        review = seen.review
        outcome = result.outcome
        held = result.status == "pending_review"  # its commits wait on the review ref: nothing landed on main
        landed = () if held else tuple(landed_commits(result.commits, outcome))
        head = outcome.head if outcome is not None else None
        changed = outcome.changed if outcome is not None else ()
        reviewed = review.message_count if review is not None else 0
        backlog = review.remaining if review is not None else 0
        common = {"commits": landed, "head": head, "changed": changed, "reviewed": reviewed, "backlog": backlog,
                  "trigger": trigger, "run_id": result.run_id}
        summaries = summarise_commits(self.session.repo, result.commits) if result.commits else []

        if result.cancelled or not result.ok:
            cause = seen.error or result.error or "the dream was cancelled"
            failed: DreamStatus = "cancelled" if result.cancelled else "failed"
            self.state.record_failure(cause)
            lines = [f"# Dream {failed}", "",
                     f"The dream {'was cancelled' if result.cancelled else 'failed'}: {cause}", "",
                     "The conversations it was reviewing stay queued for the next dream (the cursor did not move)."]
            if result.commits:
                lines += ["", "What it had already written was kept:", "", commits_section(summaries)]
                if outcome is not None:
                    lines += ["", merge_section(outcome)]
            return DreamResult(failed, "\n".join(lines), error=cause, **common)

        if review is None:  # a newer dream request took this one's place and did the work (and the cursors)
            status: DreamStatus = "merged" if result.status == "merged" else "no_changes"
            return DreamResult(status, result.report or NOTHING_NEW, **common)
        self.state.advance(review.cursors(), seen.steps, result.status)
        if review.is_empty or (result.report == NOTHING_NEW and not result.commits):
            return DreamResult("nothing_new", NOTHING_NEW, **common)
        status = result.status if result.status in ("merged", "pending_review") else "no_changes"
        parts = [f"# Dream {seen.started.astimezone().strftime('%Y-%m-%d %H:%M')}", "",
                 f"Reviewed {review.describe()}.", "", (result.report or "").strip() or "(no report)", "",
                 commits_section(summaries)]
        if outcome is not None:
            parts += ["", merge_section(outcome)]
        if status == "pending_review":
            parts += ["", pending_section(self.reviews(), result.run_id)]
        return DreamResult(status, "\n".join(parts).rstrip() + "\n", **common)
