"""What a history worker gets: insights, budgeted digests, and slices of the history."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.init.history import (
    classify,
    command_families,
    digest_history,
    digest_session,
    read_history,
    session_insights,
    split_into_slices,
)
from tests.init.conftest import PROJECT, S1, SECRETS


@pytest.fixture
def history(sources, matcher):
    return read_history(matcher, sources)


@pytest.mark.parametrize(("text", "kind"), [
    ("no, use pnpm, not npm", "correction"),
    ("Don't read .env files, they hold live keys.", "correction"),
    ("Actually, amounts are integers in cents everywhere.", "correction"),
    ("stop running the whole suite", "correction"),
    ("That's not what I asked for", "correction"),
    ("Use the logger instead of print", "correction"),
    ("I prefer small commits with conventional commit messages", "preference"),
    ("Keep answers short please", "preference"),
    ("Fix it with Tailwind classes, not inline styles.", "preference"),
    ("Tests first. Always run them before committing.", "preference"),
    ("from now on write the changelog entry too", "preference"),
    ("make it NOT NULL, the app always sends the header", "request"),
    ("Add a test for a partial refund", "request"),
    ("Nothing fancy here: rename Order to Purchase", "request"),
])
def test_what_the_user_says_is_classified(text, kind):
    assert classify(text) == kind


@pytest.mark.parametrize(("line", "families"), [
    ("pnpm test -- orders", ["pnpm test"]),
    ("cd web && pnpm --filter web test", ["pnpm --filter web test"]),
    ("git add src/a.ts && git commit -m 'feat: x'", ["git add", "git commit"]),
    ("NODE_ENV=test npx vitest run src/services", ["npx vitest run"]),
    ("python -m pytest -q tests/test_x.py", ["python -m pytest"]),
    ("uv run pytest -q", ["uv run pytest"]),
    ("cargo test -p core --release", ["cargo test"]),
    ("go test ./...", ["go test"]),
    ("ls -la && cat README.md | head", []),
    ("rg -n refund src", []),
    ("pytest -q tests/x.py", ["pytest -q"]),
    ("make lint", ["make lint"]),
    ("pnpm db:migrate", ["pnpm db:migrate"]),
])
def test_commands_are_reduced_to_what_recurs(line, families):
    assert command_families(line) == families


def test_insights_of_a_session(history):
    s1 = next(s for s in history.sessions if s.id == S1)
    insights = session_insights(s1, [PROJECT])
    assert [c.text for c in insights.corrections] == [
        "no, use pnpm, not npm. This repo is a pnpm workspace.",
        "Don't read .env files, they hold live keys. The redis URL is in src/config.ts.",
    ]
    assert [p.text for p in insights.preferences] == [
        "I prefer small commits with conventional commit messages, like feat(orders): ..."]
    assert insights.refused == ["npm test -- orders"]
    assert insights.commands == {"pnpm test": 2, "npm test": 1, "git add": 1, "git commit": 1}
    assert dict(insights.files_edited) == {"src/routes/orders.ts": 1}  # relative to the project root
    assert insights.errors == ["`pnpm test -- orders`: FAIL src/routes/orders.test.ts > POST /orders > rejects a "
                               "duplicate idempotency key"]
    assert insights.user_commands == ["/clear"] and insights.interruptions == 1


def test_files_changed_from_a_subfolder_are_relative_to_the_project(history):
    web = [s for s in history.sessions if s.cwd == f"{PROJECT}/web" and not s.is_subagent]
    changed = set()
    for session in web:
        changed |= set(session_insights(session, [PROJECT]).files_edited)
    assert changed == {"web/src/pages/Checkout.tsx", "web/src/components/CheckoutButton.tsx"}


def test_a_session_digest_leads_with_what_teaches_most(history):
    s1 = next(s for s in history.sessions if s.id == S1)
    text = digest_session(s1, 4000, [PROJECT])
    assert text.startswith("## Claude Code session 3f1c2a9e · 2025-10-02 09:00 · branch main")
    assert text.index("Corrections and stated preferences:") < text.index("Commands the agent ran:")
    assert "- [correction] no, use pnpm, not npm. This repo is a pnpm workspace." in text
    assert "- [refused] the agent's `npm test -- orders`" in text
    assert "- `pnpm test` ×2" in text and "- `src/routes/orders.ts`" in text
    small = digest_session(s1, 300, [PROJECT])
    assert len(small) <= 300
    assert "no, use pnpm" in small and "Commands the agent ran" not in small


def test_a_history_digest_shows_what_recurs_across_sessions(history):
    text = digest_history(history.sessions, 12_000, [PROJECT])
    assert text.startswith("# Earlier sessions: 6 sessions (3 Codex, 3 Claude Code), 2025-08-14")
    overview = text.split("\n\n## ", 1)[0]
    assert "- `pnpm test` ×4" in overview
    assert "Please never print environment variables again" in overview
    assert all(f"session {s.id[:8]}" in text for s in history.sessions if not s.is_subagent)
    assert not any(secret in text for secret in SECRETS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(min_value=1, max_value=20_000))
def test_a_digest_never_exceeds_its_budget(history, budget):
    assert len(digest_history(history.sessions, budget, [PROJECT])) <= budget
    assert len(digest_session(history.sessions[1], budget, [PROJECT])) <= budget


def test_slices_cut_the_history_in_time_order_and_keep_subagents_with_their_session(history):
    slices = split_into_slices(history.sessions, 3, [PROJECT])
    assert [s.index for s in slices] == [1, 2, 3] and all(s.count == 3 for s in slices)
    flat = [session.id for piece in slices for session in piece.sessions]
    assert sorted(flat) == sorted(s.id for s in history.sessions)  # each session exactly once
    for earlier, later in itertools.pairwise(slices):
        assert earlier.end <= later.start
    for piece in slices:
        ids = {s.id for s in piece.sessions}
        assert all(s.parent_id in ids for s in piece.sessions if s.is_subagent)
    part = slices[0].digest(2000, [PROJECT])
    assert part.startswith("# Slice 1 of 3:") and len(part) <= 2000


def test_more_slices_than_sessions_gives_one_session_each(history):
    main = [s for s in history.sessions if not s.is_subagent]
    slices = split_into_slices(history.sessions, 50)
    assert len(slices) == len(main)
    assert split_into_slices([], 4) == []
    with pytest.raises(ValueError, match="at least 1"):
        split_into_slices(history.sessions, 0)


def test_slices_are_about_equally_heavy(history):
    sessions = history.sessions * 1  # six main sessions of different sizes
    one, two = split_into_slices(sessions, 2, [PROJECT])
    weight = lambda piece: sum(session_insights(s, [PROJECT]).weight for s in piece.sessions)  # noqa: E731
    assert 0.4 <= weight(one) / (weight(one) + weight(two)) <= 0.7
