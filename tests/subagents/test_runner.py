"""The subagent runner: a run's work lands in main, runs never overlap, failures are reported, nothing is lost."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy
from letta_ls.session import Session
from letta_ls.subagents.runner import RunnerBusyError, RunnerObserver, RunRequest, SubagentRunner
from letta_ls.subagents.worktrees import Worktrees
from tests.subagents.helpers import DREAM, doc, git, is_ancestor, tracked_changes

RUN_PROCESS = str(Path(__file__).with_name("run_process.py"))
FAST = RetryPolicy(max_retries=0, base_delay=0.01, max_delay=0.05, max_total_wait=1)


class Recorder(RunnerObserver):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def state_changed(self, status):
        self.events.append(("state", status.state))

    def progress(self, run, message, percentage):
        self.events.append(("progress", run.kind, message, percentage))

    def merged(self, run, outcome):
        self.events.append(("merged", run.kind, outcome.head, outcome.changed))

    def finished(self, result):
        self.events.append(("finished", result.status))

    def of(self, kind: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == kind]


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(session, recorder) -> SubagentRunner:
    return SubagentRunner(session, observers=[recorder])


def create(ctx, path: str, body: str = "noted", reason: str = "a lesson"):
    return asyncio.to_thread(ctx.operations().create, path, f"about {path}", body, reason)


def leftovers(session: Session) -> tuple[list, dict]:
    trees = Worktrees(session.repo, session.agent.worktrees_dir)
    return trees.list(), trees.branches()


# ---------------------------------------------------------------------------------------------- a run
async def test_a_run_works_in_its_worktree_and_its_commits_are_merged_into_main(session, runner, recorder):
    seen = {}

    async def work(ctx):
        edit = await create(ctx, "system/lesson.md", "Run the linter before committing.")
        seen["main_during"] = (session.repo.path / "system/lesson.md").exists()
        seen["worktree"] = ctx.repo.path
        seen["commits"] = await asyncio.to_thread(ctx.commits)
        assert ctx.session.repo is ctx.repo and ctx.main is session.repo and edit.commit
        ctx.progress("wrote a lesson", 60)
        return "Learned one lesson.\nDetails follow."

    result = await runner.run(RunRequest("dream", work))
    assert result.status == "merged" and result.ok and result.report.startswith("Learned one lesson.")
    assert seen["main_during"] is False and seen["worktree"].parent == session.agent.worktrees_dir
    assert list(result.commits) == seen["commits"] and len(result.commits) == 1
    assert all(is_ancestor(session.repo, c) for c in result.commits)
    assert (session.repo.path / "system/lesson.md").read_text().endswith("Run the linter before committing.\n")
    assert result.outcome.kind == "fast_forward"  # main had not moved: the run's commit is main's head
    assert git(session.repo, "log", "-1", "--format=%s").strip() == "a lesson"
    assert leftovers(session) == ([], {}) and not seen["worktree"].exists()
    assert tracked_changes(session.repo) == ""
    assert recorder.of("merged") == [("dream", session.repo.head(), ("system/lesson.md",))]
    assert ("dream", "wrote a lesson", 60) in recorder.of("progress")
    assert recorder.of("finished") == [("merged",)]


async def test_a_run_that_commits_nothing_reports_no_changes(session, runner):
    head = session.repo.head()
    result = await runner.run(RunRequest("dream", lambda ctx: asyncio.sleep(0, "nothing to learn")))
    assert result.status == "no_changes" and result.commits == () and result.outcome is None
    assert session.repo.head() == head and leftovers(session) == ([], {})


async def test_work_that_fails_after_committing_is_still_merged_and_the_cause_reported(session, runner):
    async def work(ctx):
        await create(ctx, "system/kept.md", "valid and guarded")
        session.repo.commit({"system/human.md": doc("User", "Dana.\n").encode()}, "meanwhile", DREAM)
        raise RuntimeError("the model stopped answering")

    result = await runner.run(RunRequest("dream", work))
    assert result.status == "merged" and not result.ok
    assert result.error == "RuntimeError: the model stopped answering"
    assert (session.repo.path / "system/kept.md").exists()
    assert "failed after committing (RuntimeError: the model stopped answering)" in git(
        session.repo, "log", "-1", "--format=%B")


async def test_a_failed_run_can_ask_for_its_commits_to_be_discarded(session, runner):
    async def work(ctx):
        await create(ctx, "system/half.md")
        raise ValueError("half done")

    result = await runner.run(RunRequest("defrag", work, on_failure="discard"))
    assert result.status == "discarded" and result.error == "ValueError: half done" and len(result.commits) == 1
    assert not (session.repo.path / "system/half.md").exists() and leftovers(session) == ([], {})


async def test_cancelling_a_run_keeps_what_it_committed(session, runner):
    started = asyncio.Event()

    async def work(ctx):
        await create(ctx, "system/first.md")
        started.set()
        await asyncio.Event().wait()

    ticket = runner.submit(RunRequest("dream", work))
    await started.wait()
    assert runner.cancel() is True
    result = await ticket
    assert result.cancelled and result.status == "merged" and (session.repo.path / "system/first.md").exists()


async def test_a_merge_conflict_in_a_run_goes_to_the_requests_resolver(session, runner):
    base = doc("Team facts", "".join(f"fact {n}\n" for n in range(1, 8)))
    session.repo.commit({"system/team.md": base.encode()}, "facts", DREAM)

    async def work(ctx):
        text = ctx.repo.read("system/team.md").text
        await asyncio.to_thread(ctx.operations().write_file, "system/team.md", text.replace("fact 4", "fact 4 (dream)"),
                                reason="dream edit")
        session.repo.commit({"system/team.md": base.replace("fact 4", "fact 4 (user)").encode()}, "user", DREAM)
        return "edited fact 4"

    async def resolver(path, base_text, ours, theirs):
        return ours.replace("fact 4 (user)", "fact 4 (user, confirmed by the dream)")

    result = await runner.run(RunRequest("dream", work, resolver=resolver))
    assert result.outcome.paths_with("resolved") == ["system/team.md"]
    assert "fact 4 (user, confirmed by the dream)" in (session.repo.path / "system/team.md").read_text()


# ---------------------------------------------------------------------------------------------- conversation
async def test_a_run_with_a_model_writes_through_the_memory_tool_and_keeps_its_conversation(session, runner,
                                                                                          openai_server):
    openai_server.script.tool_call("memory", {
        "command": "create", "file_path": "system/preferences.md", "description": "How the user likes to work",
        "file_text": "Prefers pnpm.", "reason": "learned from the conversation"})
    openai_server.script.text("Stored one preference.")
    provider = OpenAIProvider("gpt-test", api_key="sk-test-key", base_url=openai_server.base_url, retry=FAST)
    store = ConversationStore(session.agent.conversations_dir)
    store.ensure_default()

    async def work(ctx):
        runtime = ctx.runtime(provider)
        turn = await runtime.run_turn("Review the recent conversation and store lessons.")
        assert not (session.repo.path / "system/preferences.md").exists()
        return turn.reply

    result = await runner.run(RunRequest("dream", work))
    assert result.report == "Stored one preference." and result.status == "merged"
    assert (session.repo.path / "system/preferences.md").read_text().endswith("Prefers pnpm.\n")
    info = store.get(result.conversation_id)
    assert info.subagent == "dream" and re.fullmatch(r"dream \d{4}-\d{2}-\d{2} \d{2}:\d{2}", info.title)
    assert [m.role for m in store.messages(result.conversation_id)][:2] == ["user", "assistant"]
    assert store.last_used() == "default"  # the user's conversation to resume is untouched
    index = json.loads((session.agent.conversations_dir / "index.json").read_text())
    assert {"conversationId": result.conversation_id, "subagent": "dream"}.items() <= next(
        i for i in index if i["conversationId"] == result.conversation_id).items()
    assert "Stored one preference." in store.render_markdown(result.conversation_id)


async def test_a_run_that_never_talks_to_a_model_creates_no_conversation(session, runner):
    async def work(ctx):
        await create(ctx, "a.md")

    result = await runner.run(RunRequest("defrag", work))
    assert result.conversation_id is None
    assert [c.conversation_id for c in ConversationStore(session.agent.conversations_dir).list()] == ["default"]


# ---------------------------------------------------------------------------------------------- queueing
async def test_one_run_at_a_time_with_one_queued_and_a_newer_request_replaces_it(session, runner, recorder):
    release = asyncio.Event()
    ran: list[str] = []

    def work_named(name: str, wait: bool = False):
        async def work(ctx):
            ran.append(name)
            await create(ctx, f"runs/{name}.md")
            if wait:
                await release.wait()
            return name
        return work

    first = runner.submit(RunRequest("dream", work_named("first", wait=True)))
    while ran != ["first"]:
        await asyncio.sleep(0.01)
    assert runner.status.state == "running" and runner.status.running.run_id == first.run_id
    older = runner.submit(RunRequest("dream", work_named("older")))
    newer = runner.submit(RunRequest("dream", work_named("newer")))
    assert runner.status.queued.run_id == newer.run_id == older.run_id
    with pytest.raises(RunnerBusyError, match="dream run is already waiting"):
        runner.submit(RunRequest("defrag", work_named("defrag")))
    release.set()
    results = [await first, await older, await newer]
    assert ran == ["first", "newer"]
    assert [r.report for r in results] == ["first", "newer", "newer"] and results[1] is results[2]
    assert runner.status.state == "idle"
    states = [e[0] for e in recorder.of("state")]
    assert states[0] == "queued" and "running" in states and states[-1] == "idle"
    assert (session.repo.path / "runs/first.md").exists() and (session.repo.path / "runs/newer.md").exists()
    assert not (session.repo.path / "runs/older.md").exists()


async def test_a_waiting_run_can_be_cancelled_before_it_starts(session, runner):
    release = asyncio.Event()

    async def blocking(ctx):
        await release.wait()

    running = runner.submit(RunRequest("dream", blocking))
    await asyncio.sleep(0.05)
    waiting = runner.submit(RunRequest("defrag", blocking))
    assert waiting.cancel() is True
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    assert (await running).status == "no_changes"


async def test_start_salvages_a_worktree_a_crashed_run_left(session, runner, recorder):
    trees = Worktrees(session.repo, session.agent.worktrees_dir)
    tree = trees.create("dream")
    trees.open(tree).commit({"system/salvaged.md": doc("Salvaged", "from a crash\n").encode()}, "lesson", DREAM)
    done = await runner.start()
    assert [(d.run_id, d.action) for d in done] == [(tree.run_id, "salvaged")]
    assert (session.repo.path / "system/salvaged.md").exists() and leftovers(session) == ([], {})
    assert recorder.of("merged")[0][0] == "dream"


def test_runs_in_two_processes_never_overlap(session, tmp_path):
    log = tmp_path / "runs.log"
    procs = [subprocess.Popen([sys.executable, RUN_PROCESS, name, "2", str(log)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("left", "right")]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert out.count("merged") == 2
    spans: dict[tuple[str, str], list[float]] = {}
    for line in log.read_text().splitlines():
        _event, name, i, when = line.split()
        spans.setdefault((name, i), []).append(float(when))
    intervals = sorted(spans.values())
    assert len(intervals) == 4
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end <= next_start, "two runs of one agent overlapped"
    snap = Session().repo.snapshot()
    assert all(f"runs/{n}-{i}.md" in snap for n in ("left", "right") for i in range(2))


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"kind": "Dream!"}, ValueError),
    ({"kind": ""}, ValueError),
    ({"work": None}, TypeError),
    ({"on_failure": "keep"}, ValueError),
    ({"resolver": "a model"}, TypeError),
])
def test_a_malformed_request_is_refused_before_anything_runs(session, kwargs, error):
    async def work(ctx):
        return "never"

    with pytest.raises(error):
        RunRequest(**{"kind": "dream", "work": work, **kwargs})
    assert leftovers(session) == ([], {})
