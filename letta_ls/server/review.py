"""Dreams the user reviews, over LSP (``sleeptime.merge: "review"``): the announcement, the listing, the decisions.

- ``letta/dreamChanges {runId}`` → ``{runId, changes: [{path, kind, oldPath, beforeUri, afterUri, reason}]}``:
  the run's undecided changes; ``beforeUri`` / ``afterUri`` are ``letta-memory-rev://`` URIs the existing
  ``workspace/textDocumentContent`` serves (None for the side where the file does not exist), so an editor
  opens them in its own diff view.
- ``letta.dreamAccept {runId, paths?}`` → ``{runId, accepted, head}`` merges only those files (all when
  ``paths`` is absent) as one commit; ``letta.dreamReject {runId, paths?}`` → ``{runId, rejected}`` records them.
- ``letta/dreamReview {runId, changes, message}`` (notification) when a dream finishes waiting for review;
  ``letta/status`` carries ``reviews: [{runId, changes}]`` for the status bar (``pending_reviews``).

Why a module of its own: the core (``subagents/dream_review.py``) owns the refs and the decisions; this is
only their LSP face, so the dream module stays as it is. Git work runs off the event loop.
"""

from __future__ import annotations

from typing import Any

from letta_ls.contract.review import (
    DreamAcceptResult,
    DreamChange,
    DreamChangesParams,
    DreamChangesResult,
    DreamDecisionParams,
    DreamRejectResult,
    DreamReview,
)
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event
from letta_ls.server.typed import command, notify, request
from letta_ls.server.uris import revision_uri
from letta_ls.subagents.dream_review import DreamReviews, PendingChange

DREAM_CHANGES = "letta/dreamChanges"
DREAM_REVIEW = "letta/dreamReview"
DREAM_ACCEPT = "letta.dreamAccept"
DREAM_REJECT = "letta.dreamReject"


def reviews_of(ls: LettaServer) -> DreamReviews:
    session = ls.current
    return DreamReviews.for_agent(session.repo, session.agent)


def pending_reviews(ls: LettaServer) -> list[dict[str, Any]]:
    """``letta/status``'s ``reviews``: held runs with undecided changes (blocking: git)."""
    return [{"runId": run_id, "changes": count} for run_id, count in reviews_of(ls).pending_counts()]


def change_of(agent_id: str, change: PendingChange) -> DreamChange:
    before_path = change.old_path or change.path
    return DreamChange(
        path=change.path, kind=change.kind, old_path=change.old_path,
        before_uri=revision_uri(agent_id, change.base, before_path) if change.before_blob else None,
        after_uri=revision_uri(agent_id, change.head, change.path) if change.after_blob else None,
        reason=change.reason)


def announce_review(ls: LettaServer, run_id: str) -> None:
    """A dream finished and waits: tell the editor (its extension offers Review / Accept / Reject)."""

    async def send() -> None:
        count = len(await ls.run_blocking(lambda: reviews_of(ls).changes(run_id)))
        notify(ls, DREAM_REVIEW, DreamReview(
            run_id, count, f"letta: a dream changed {count} memory file(s); they wait for your review"))
        ls.fire(Event.REVIEW_CHANGED)

    ls.spawn(send(), name=f"announce review {run_id}")


def register(server: LettaServer) -> None:
    @request(server, DREAM_CHANGES)
    async def dream_changes(ls: LettaServer, params: DreamChangesParams) -> DreamChangesResult:
        agent_id = ls.current.agent.id
        changes = await ls.run_blocking(lambda: reviews_of(ls).changes(params.run_id))
        return DreamChangesResult(params.run_id, [change_of(agent_id, c) for c in changes])

    @command(server, DREAM_ACCEPT)
    async def dream_accept(ls: LettaServer, params: DreamDecisionParams) -> DreamAcceptResult:
        session = ls.current
        result = await ls.run_blocking(lambda: reviews_of(ls).accept(params.run_id, params.paths,
                                                                      session.agent.author))
        outcome = result.outcome
        if outcome.kind != "up_to_date":
            ls.notify_memory_changed(outcome.head, outcome.changed)
        ls.fire(Event.REVIEW_CHANGED)
        return DreamAcceptResult(params.run_id, list(result.accepted), outcome.head)

    @command(server, DREAM_REJECT)
    async def dream_reject(ls: LettaServer, params: DreamDecisionParams) -> DreamRejectResult:
        rejected = await ls.run_blocking(lambda: reviews_of(ls).reject(params.run_id, params.paths))
        ls.fire(Event.REVIEW_CHANGED)
        return DreamRejectResult(params.run_id, list(rejected))
