"""How many history workers /init starts, where they write, and what the /init agent is told."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from letta_ls.init.briefs import InitLayout, init_message, worker_message
from letta_ls.init.draft import draft_memory
from letta_ls.init.history import HistorySlice, Message, Session, SessionHistory
from letta_ls.init.history_workers import WorkerResult, worker_count
from letta_ls.init.questions import InitAnswers, WorkingStyle
from letta_ls.init.workspace import inspect_workspace
from letta_ls.settings import MemorySettings
from tests.init.workspaces import make_node_workspace


def session(n: int, day: int = 1) -> Session:
    return Session("claude-code", f"s{n}", Path(f"/x/s{n}.jsonl"), cwd="/x",
                   started_at=datetime(2026, 1, day, 9, n, tzinfo=UTC),
                   messages=[Message("user", f"request {n}")])


@pytest.mark.parametrize(("sessions", "depth", "workers"), [
    (0, "standard", 0), (1, "standard", 1), (2, "standard", 2), (4, "standard", 2), (7, "standard", 3),
    (40, "standard", 3), (2, "deep", 2), (7, "deep", 4), (40, "deep", 5),
])
def test_workers_are_two_to_three_or_three_to_five_and_never_more_than_the_sessions(sessions, depth, workers):
    history = SessionHistory(sessions=[session(n) for n in range(sessions)])
    assert worker_count(depth, history) == workers


@pytest.fixture
def shop(tmp_path: Path):
    facts = inspect_workspace([make_node_workspace(tmp_path / "shop-api")])
    return facts, InitLayout.from_draft(draft_memory(facts), facts)


def test_files_are_named_after_the_project_and_each_slice_gets_its_own(shop):
    _facts, (layout,) = shop
    assert (layout.overview, layout.reference) == ("system/project/shop-api.md", "reference/shop-api")
    same_day = [HistorySlice(i, 2, (session(i, day=3),)) for i in (1, 2)]
    names = {layout.sessions_file(item) for item in same_day}
    assert names == {"reference/shop-api/sessions/2026-01-03_2026-01-03-1.md",
                     "reference/shop-api/sessions/2026-01-03_2026-01-03-2.md"}
    spread = HistorySlice(1, 2, (session(1, day=3), session(2, day=9)))
    assert layout.sessions_file(spread) == "reference/shop-api/sessions/2026-01-03_2026-01-09.md"


def test_a_worker_is_told_its_slice_its_files_and_its_branch(shop):
    _facts, layouts = shop
    item = HistorySlice(2, 3, (session(1), session(2)))
    text = worker_message(item, "letta/init-history/init-history-x", layouts, "deep", ["/x"])
    assert text.startswith("Slice 2 of 3: 2 transcripts (Claude Code)")
    assert "`system/project/shop-api.md`" in text and "`system/human.md`" in text
    assert "letta/init-history/init-history-x" in text and "request 1" in text and "Depth: deep" in text


def test_the_init_agent_is_told_the_answers_the_findings_the_conflicts_and_the_budget(shop):
    facts, layouts = shop
    answers = InitAnswers("standard", True, WorkingStyle(replies="detailed"))
    worker = WorkerResult(1, 2, 3, None, None, "letta/init-history/a", Path("/w"), reply="- uses pnpm",
                          changed=("system/human.md",), error="ProviderError: overloaded")
    text = init_message(facts, answers, layouts, settings=MemorySettings(systemTokenBudget=9000, fileTokenLimit=900),
                        system_tokens=1234, history_note="3 earlier sessions.", workers=[worker],
                        conflicts=["system/human.md"])
    assert "1,234 of its 9,000 tokens" in text and "under 900 tokens" in text
    assert "Prefers detailed replies" in text and "- uses pnpm" in text and "failed (ProviderError" in text
    assert "conflict markers" in text and "`system/human.md`" in text
    assert "<workspace>" in text and "pnpm" in text and "overview `system/project/shop-api.md`" in text
    quiet = init_message(facts, InitAnswers(), layouts, settings=MemorySettings(), system_tokens=0,
                         history_note="none were read.", asked=False)
    assert "they did not say (no one could be asked)" in quiet
