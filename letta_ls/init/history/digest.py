"""Bounded text digests of earlier sessions for a model, and the split of a history into slices.

A history worker (an /init subagent) gets a budget in characters, not a transcript. ``digest_session``
and ``digest_history`` fill that budget with what teaches most first: corrections and stated preferences,
then what the user asked for, then the commands that recur, the files that changed and what failed,
then compaction summaries and the rest. Every line competes for the budget by priority and the result
is printed in a fixed section order, so the digest never exceeds the budget and a small budget keeps the
most useful lines rather than the first ones.

``split_into_slices`` cuts the sessions, in time order, into N contiguous slices of about equal weight,
one per parallel worker; ``HistorySlice.digest`` gives each worker its part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from letta_ls.init.history.insights import (
    HistoryInsights,
    Said,
    SessionInsights,
    distinct,
    merge_insights,
    session_insights,
)
from letta_ls.init.history.model import Session
from letta_ls.subagents.budget import BudgetedText
from letta_ls.subagents.text import clip, one_line

_SECTIONS = ("head", "told", "asked", "commands", "edited", "errors", "summary", "read", "other")
_TITLES = {
    "told": "Corrections and stated preferences:",
    "asked": "Requests:",
    "commands": "Commands the agent ran:",
    "edited": "Files changed:",
    "errors": "Errors:",
    "summary": "Compaction summary (the model's words):",
    "read": "Files read:",
    "other": "Other:",
}
_MIN_SESSION_BUDGET = 300


def _budget() -> BudgetedText:
    return BudgetedText(_SECTIONS, _TITLES)


def _date(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when else "unknown date"


def _said_line(said: Said) -> str:
    return f"- [{said.kind}] {one_line(said.text, 300)}"


def _count_line(item: str, count: int, quote: bool = True) -> str:
    shown = f"`{item}`" if quote else item
    return f"- {shown}" + (f" ×{count}" if count > 1 else "")


def _session_heading(session: Session) -> str:
    parts = [f"{session.label} {'subagent' if session.is_subagent else 'session'} {session.id[:8]}",
             _date(session.started_at)]
    if session.git_branch:
        parts.append(f"branch {session.git_branch}")
    if session.model:
        parts.append(session.model)
    if session.title:
        parts.append(f"“{one_line(session.title, 80)}”")
    return "## " + " · ".join(parts)


def _fill_session(budget: BudgetedText, insights: SessionInsights) -> None:
    session = insights.session
    budget.add("head", _session_heading(session), 0)
    first = session.first_prompt
    if first:
        label = "Task given" if session.is_subagent else "First request"
        budget.add("head", f"{label}: {one_line(first, 400)}", 2)
    for said in insights.corrections + insights.preferences:
        if said.text != first:  # already shown as the first request
            budget.add("told", _said_line(said), 1)
    for refused in insights.refused:
        budget.add("told", f"- [refused] the agent's `{refused}`", 2)
    for index, said in enumerate(insights.requests):
        if said.text != first:
            budget.add("asked", _said_line(said), 3 if index < 5 else 6)
    for family, count in insights.commands.most_common(12):
        budget.add("commands", _count_line(family, count), 4)
    for path, count in insights.files_edited.most_common(15):
        budget.add("edited", _count_line(path, count), 4)
    for error in dict.fromkeys(insights.errors):
        budget.add("errors", f"- {error}", 5)
    for summary in insights.summaries[-2:]:
        budget.add("summary", clip(summary, 1200), 7)
    for path, count in insights.files_read.most_common(10):
        budget.add("read", _count_line(path, count), 8)
    if insights.user_commands:
        budget.add("other", "- the user typed: " + ", ".join(dict.fromkeys(insights.user_commands)), 6)
    if insights.interruptions:
        budget.add("other", f"- the user interrupted the agent {insights.interruptions}×", 5)
    if session.compactions:
        budget.add("other", f"- the context was compacted {session.compactions}×", 9)


def digest_session(session: Session, budget_chars: int = 4000, roots: Sequence[str] = ()) -> str:
    """At most ``budget_chars`` characters about one session, the most telling first."""
    budget = _budget()
    _fill_session(budget, session_insights(session, roots))
    return budget.render(budget_chars)


def _overview(total: HistoryInsights, heading: str) -> BudgetedText:
    budget = _budget()
    sources = ", ".join(f"{n} {label}" for label, n in total.by_source.most_common())
    span = f"{_date(total.first)} to {_date(total.last)}" if total.first else "dates unknown"
    budget.add("head", f"# {heading}: {total.sessions} sessions ({sources or 'none'}), {span}", 0)
    if total.branches:
        budget.add("head", "Branches: " + ", ".join(b for b, _n in total.branches.most_common(6)), 3)
    for said in distinct(total.corrections + total.preferences, 12):
        budget.add("told", _said_line(said) + (f" ({said.source}, {_date(said.when)[:10]})" if said.when else ""), 1)
    for refused, count in total.refused.most_common(5):
        budget.add("told", f"- [refused] the agent's `{refused}`" + (f" ×{count}" if count > 1 else ""), 2)
    for family, count in total.commands.most_common(10):
        if count > 1:
            budget.add("commands", _count_line(family, count), 2)
    for path, count in total.files_edited.most_common(10):
        if count > 1:
            budget.add("edited", _count_line(path, count), 3)
    for error, count in total.errors.most_common(5):
        if count > 1:
            budget.add("errors", f"- {error} ×{count}", 4)
    return budget


def digest_history(
    sessions: Sequence[Session], budget_chars: int = 12_000, roots: Sequence[str] = (),
    heading: str = "Earlier sessions",
) -> str:
    """At most ``budget_chars`` characters about several sessions: what recurs across them first (a
    quarter of the budget), then each session, sharing the rest by how much each has to say."""
    items = [session_insights(s, roots) for s in sessions]
    total = merge_insights(items)
    overview = _overview(total, heading).render(max(budget_chars // 4, min(budget_chars, 200)))
    remaining = budget_chars - len(overview) - 2
    parts = [overview]
    if items and remaining > 0:
        shares = _shares(items, remaining - 2 * len(items))
        for item, share in zip(items, shares, strict=True):
            if share <= 0:
                continue
            budget = _budget()
            _fill_session(budget, item)
            parts.append(budget.render(share))
    return "\n\n".join(p for p in parts if p)[:budget_chars]


def _shares(items: list[SessionInsights], total: int) -> list[int]:
    """Split ``total`` between sessions by how much each has to say, each getting a readable minimum; when
    there is not room for all, main sessions (most recent first) come before subagents."""
    count = len(items)
    if total <= 0 or not count:
        return [0] * count
    floor = min(_MIN_SESSION_BUDGET, total // count)
    if floor < 120:
        fit = total // 120
        ranked = sorted(range(count), key=lambda i: (items[i].session.is_subagent, -_timestamp(items[i].session)))
        chosen = set(ranked[:fit])
        return [total // max(fit, 1) if i in chosen else 0 for i in range(count)]
    spare = total - floor * count
    weight_sum = sum(item.weight for item in items) or 1
    return [floor + spare * item.weight // weight_sum for item in items]


def _timestamp(session: Session) -> float:
    return session.started_at.timestamp() if session.started_at else 0.0


@dataclass(frozen=True)
class HistorySlice:
    """Sessions for one parallel worker: a contiguous stretch of the history."""

    index: int  # 1-based
    count: int
    sessions: tuple[Session, ...]

    @property
    def start(self) -> datetime | None:
        times = [s.started_at for s in self.sessions if s.started_at]
        return min(times, default=None)

    @property
    def end(self) -> datetime | None:
        times = [when for s in self.sessions if (when := s.ended_at or s.started_at) is not None]
        return max(times, default=None)

    def digest(self, budget_chars: int = 12_000, roots: Sequence[str] = ()) -> str:
        return digest_history(self.sessions, budget_chars, roots, heading=f"Slice {self.index} of {self.count}")


def split_into_slices(sessions: Sequence[Session], n: int, roots: Sequence[str] = ()) -> list[HistorySlice]:
    """``sessions`` in time order cut into at most ``n`` contiguous slices of about equal weight.

    A subagent's transcript stays in the slice of the session that started it.
    """
    if n < 1:
        raise ValueError("the number of slices must be at least 1")
    main = sorted((s for s in sessions if not s.is_subagent),
                  key=lambda s: (s.started_at is None, s.started_at or datetime.min, s.id))
    children: dict[str, list[Session]] = {}
    orphans: list[Session] = []
    ids = {s.id for s in main}
    for s in sessions:
        if s.is_subagent:
            (children.setdefault(s.parent_id or "", []) if s.parent_id in ids else orphans).append(s)
    groups = [[s, *children.get(s.id, [])] for s in main] + [[s] for s in orphans]
    if not groups:
        return []
    weights = [sum(session_insights(s, roots).weight for s in group) for group in groups]
    n = min(n, len(groups))
    slices: list[list[Session]] = []
    remaining_weight = sum(weights)
    current: list[Session] = []
    current_weight = 0
    for position, (group, weight) in enumerate(zip(groups, weights, strict=True)):
        slices_left = n - len(slices)
        groups_left = len(groups) - position
        target = remaining_weight / slices_left
        if current and (current_weight + weight / 2 > target or groups_left < slices_left) and slices_left > 1:
            slices.append(current)
            remaining_weight -= current_weight
            current, current_weight = [], 0
        current += group
        current_weight += weight
    slices.append(current)
    return [HistorySlice(i + 1, len(slices), tuple(group)) for i, group in enumerate(slices)]
