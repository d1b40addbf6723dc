"""/init end to end in the core: a scripted model, real worktrees and merges, realistic sample sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy
from letta_ls.doctor import audit
from letta_ls.init import run as init_run
from letta_ls.init.history import HistorySources
from letta_ls.init.run import InitAlreadyRunning, InitRequest, MemoryInitializer, NoWorkspaceError
from letta_ls.memfs.frontmatter import parse_document
from letta_ls.session import Session
from letta_ls.subagents.runner import SubagentRunner
from letta_ls.subagents.worktrees import Worktrees
from tests.fakes import Reply, Script, ScriptedError, scripted_openai
from tests.init.conftest import SECRETS
from tests.init.helpers import (
    MALFORMED_SESSION,
    InitModel,
    assert_links_resolve,
    finding_worker,
    history_home,
    memory_call,
    worker_file,
)
from tests.init.workspaces import GH_TOKEN, NPM_TOKEN, make_node_workspace
from tests.subagents.helpers import git, is_ancestor

FAST = RetryPolicy(max_retries=0, base_delay=0.01, max_delay=0.05, max_total_wait=1)
ANSWERS = {"Standard": None, "Read them": None, "Short and direct": None, "Ask me first": None,
           "Leave commits to me": None}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_node_workspace(tmp_path / "shop-api")


@pytest.fixture
def sources(tmp_path: Path, workspace: Path) -> HistorySources:
    return HistorySources.from_home(history_home(tmp_path / "home", workspace), env={})


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def initializer(session: Session, sources: HistorySources) -> MemoryInitializer:
    return MemoryInitializer(session, SubagentRunner(session), sources=sources)


def answering(*titles: str, asked: list | None = None):
    """An ``ask`` callback that picks these buttons in order (None: dismiss), recording each question."""
    queue = list(titles)

    async def ask(question):
        if asked is not None:
            asked.append(question)
        choice = queue.pop(0) if queue else None
        assert choice is None or choice in question.titles, (choice, question.titles)
        return choice

    return ask


def provider_for(server) -> OpenAIProvider:
    return OpenAIProvider("gpt-test", api_key="sk-test-key", base_url=server.base_url, retry=FAST)


def assert_no_secret_in_memory(session: Session) -> None:
    for file in session.repo.snapshot():
        for secret in (*SECRETS, NPM_TOKEN, GH_TOKEN):
            assert secret not in (file.text or ""), (file.path, secret)


async def test_history_workers_run_in_parallel_in_their_own_worktrees_and_memory_lands_linked(
        session, initializer, workspace):
    model = InitModel(parallel=3, memory_dir=session.repo.path)
    progress: list[tuple[str, int | None]] = []
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        result = await initializer.run(
            InitRequest((workspace,)), provider=provider_for(server),
            ask=answering("Standard", "Read them", "Short and direct", "Ask me first", "Leave commits to me"),
            progress=lambda message, percentage: progress.append((message, percentage)))

    assert result.ok and result.status == "merged", result.report
    workers = result.workers
    assert len(workers) == 3  # 7 sessions (one found by the git remote it recorded), standard depth: 3 workers
    # they ran at the same time (the barrier in the model proves both first requests were in flight at once) ...
    assert max(w.started for w in workers) < min(w.finished for w in workers)
    # ... each in its own worktree on its own branch, beside the /init run's
    seen = model.worktrees_seen
    assert sorted(b.split("/")[1] for b in seen) == ["init", "init-history", "init-history", "init-history"]
    assert {w.branch for w in workers} == {b for b in seen if b.startswith("letta/init-history/")}
    assert len({w.worktree for w in workers}) == 3
    # ... and each had its own conversation, kept as a subagent's
    conversations = {i.conversation_id: i for i in ConversationStore(session.agent.conversations_dir).list()}
    assert len({w.conversation_id for w in workers}) == 3
    assert all(conversations[w.conversation_id].subagent == "init-history" for w in workers)
    # every slice went to exactly one worker, and the workers did not get the same sessions
    assert len(set(model.worker_briefs.values())) == 3

    memory = session.repo.snapshot()
    for worker in workers:
        assert not worker.error and worker.commits and worker.merge is not None
        assert all(is_ancestor(session.repo, commit) for commit in worker.commits)
        assert any(path.startswith("reference/shop-api/sessions/") for path in worker.changed)
    human = memory.get("system/human.md").text
    assert all(f"(seen in slice {i})" in human for i in (1, 2, 3))  # the workers' same-line additions
    assert "<<<<<<<" not in human and model.resolved  # ... combined by the resolver
    assert "Prefers short, direct replies" in human and "Ada Lovelace" in human  # the answers, git identity
    assert "system/project/shop-api.md" in memory and "reference/shop-api/architecture.md" in memory
    assert assert_links_resolve(session.repo.snapshot()) >= 3
    checked = audit(memory, session.settings.memory)
    assert [f for f in checked.findings if f.severity == "error"] == []
    assert_no_secret_in_memory(session)

    # the /init agent was briefed with the workers' findings, the answers and the workspace
    brief = model.init_requests[0].messages[1]["content"]
    assert "integer cents" in brief and "Prefers short, direct replies" in brief and "pnpm" in brief

    # nothing left behind; what landed is reported
    assert Worktrees(session.repo, session.agent.worktrees_dir).list() == []
    assert "letta/" not in git(session.repo, "branch", "--list")
    assert result.commits and all(is_ancestor(session.repo, c) for c in result.commits)
    report = result.report
    assert report.startswith("# /init: memory for shop-api")
    assert "created `system/project/shop-api.md` (system, " in report and "tokens): What shop-api is" in report
    assert "### History worker 1/3" in report and "integer cents" in report
    assert "`system/` now holds" in report and "The doctor finds no error" in report
    phases = [message for message, _pct in progress]
    for phase in ("inspecting the workspace", "asking about your working style", "reading earlier sessions",
                  "history workers 0/3 done", "history workers 3/3 done", "writing memory",
                  "merging the work into memory"):
        assert phase in phases, phases
    assert phases.index("history workers 3/3 done") < phases.index("writing memory")


async def test_without_a_model_the_draft_is_committed_through_a_worktree_and_passes_the_doctor(
        session, initializer, workspace):
    before = session.repo.head()
    result = await initializer.run(InitRequest((workspace,)), provider=None)

    assert result.status == "merged"
    memory = session.repo.snapshot()
    assert "system/project/shop-api.md" in memory and "reference/shop-api/history.md" in memory
    assert is_ancestor(session.repo, before) and len(result.commits) >= 1
    merges = git(session.repo, "log", "--merges", "--format=%s", f"{before}..HEAD")
    assert merges.startswith("init: memory for shop-api") or result.commits[-1] == session.repo.head()
    assert [f for f in audit(memory, session.settings.memory).findings if f.severity == "error"] == []
    assert_links_resolve(session.repo.snapshot())
    assert_no_secret_in_memory(session)
    assert "No model is configured" in result.report and "no model (deterministic draft)" in result.report
    assert "7 earlier sessions" in result.report  # read, without a model
    assert Worktrees(session.repo, session.agent.worktrees_dir).list() == []


async def test_history_false_reads_no_session(session, initializer, workspace, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("a session was read although history is false")

    monkeypatch.setattr(init_run, "read_history", no_reading)
    monkeypatch.setattr(init_run, "detect_history", no_reading)
    asked: list = []
    result = await initializer.run(InitRequest((workspace,), history=False), provider=None,
                                   ask=answering(asked=asked))
    assert result.ok
    assert "history" not in [q.key for q in asked]
    assert "Not read: /init was asked to leave earlier sessions alone" in result.report
    assert "reference/shop-api/history.md" not in session.repo.snapshot()


async def test_skipping_history_when_asked_reads_no_session(session, initializer, workspace, monkeypatch):
    monkeypatch.setattr(init_run, "read_history", lambda *a, **k: pytest.fail("read although skipped"))
    result = await initializer.run(InitRequest((workspace,)), provider=None,
                                   ask=answering("Deep", "Skip", None, None, None))
    assert "Not read: you chose to skip them." in result.report and "Depth deep" in result.report


async def test_a_malformed_session_file_is_reported_and_skipped(session, initializer, workspace):
    result = await initializer.run(InitRequest((workspace,)), provider=None)
    assert result.ok
    skipped = result.report.split("## Skipped", 1)[1]
    assert MALFORMED_SESSION in skipped and "no conversation in this file" in skipped
    assert "7 earlier sessions" in result.report  # the others were read


async def test_a_failing_worker_keeps_the_others_work_and_its_own(session, initializer, workspace):
    def workers(index, request):
        if index == 2:  # writes its file, then its model fails for good
            return [memory_call("create", file_path=worker_file(request), description="Findings of slice 2",
                                file_text="- pnpm, not npm\n", reason="slice 2"),
                    Reply(error=ScriptedError(400, "the model refused this request"))]
        return finding_worker(index, request)

    model = InitModel(workers=workers)
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        result = await initializer.run(InitRequest((workspace,)), provider=provider_for(server))

    assert result.status == "merged"
    first, second, third = result.workers
    assert first.error is None and third.error is None and second.error and "refused" in second.error
    memory = session.repo.snapshot()
    for worker in (first, second, third):
        assert [p for p in worker.changed if p.startswith("reference/")], worker
        for path in worker.changed:
            assert path in memory
    assert "history worker 2/3 failed" in result.report and "What it wrote before is kept" in result.report
    assert "system/project/shop-api.md" in memory  # the /init agent still wrote memory


async def test_the_init_agent_failing_before_writing_commits_the_draft(session, initializer, workspace):
    model = InitModel(init=[Reply(error=ScriptedError(400, "bad request: model not found"))])
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        result = await initializer.run(InitRequest((workspace,), history=False), provider=provider_for(server))
    assert result.status == "merged"
    assert "model not found" in result.report
    assert "failed before writing anything, so the deterministic draft was committed instead" in result.report
    memory = session.repo.snapshot()
    assert "system/project/shop-api.md" in memory
    assert [f for f in audit(memory, session.settings.memory).findings if f.severity == "error"] == []


async def test_the_init_agent_failing_midway_keeps_what_it_wrote(session, initializer, workspace):
    script = [memory_call("create", file_path="system/project/shop-api.md", description="What shop-api is.",
                          file_text="# shop-api\n\nDetails: [[reference/shop-api/layout]]\n", reason="overview"),
              Reply(error=ScriptedError(400, "context window exceeded by a mile"))]
    model = InitModel(init=script)
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        result = await initializer.run(InitRequest((workspace,), history=False), provider=provider_for(server))
    memory = session.repo.snapshot()
    assert "Details: [[reference/shop-api/layout]]" in memory.get("system/project/shop-api.md").text
    assert "reference/shop-api/layout.md" in memory  # its link completed from the draft
    assert "the /init agent's model failed" in result.report
    assert_links_resolve(session.repo.snapshot())


async def test_a_second_init_while_one_runs_is_refused_and_the_first_finishes(session, initializer, workspace):
    release = asyncio.Event()

    async def slow_ask(question):
        await release.wait()
        return None

    first = asyncio.create_task(initializer.run(InitRequest((workspace,), history=False), ask=slow_ask))
    await asyncio.sleep(0.2)
    with pytest.raises(InitAlreadyRunning, match="already running"):
        await initializer.run(InitRequest((workspace,), history=False))
    release.set()
    result = await first
    assert result.ok and "system/project/shop-api.md" in session.repo.snapshot()
    assert not initializer.running


async def test_no_workspace_folder_is_a_clear_error_and_changes_nothing(session, initializer, tmp_path):
    head = session.repo.head()
    with pytest.raises(NoWorkspaceError, match="no workspace folder is open"):
        await initializer.run(InitRequest(()))
    with pytest.raises(NoWorkspaceError, match="not a folder that exists"):
        await initializer.run(InitRequest((tmp_path / "gone",)))
    assert session.repo.head() == head
    with pytest.raises(ValueError, match="standard' or 'deep'"):
        InitRequest((tmp_path,), depth="thorough")


async def test_unanswered_questions_take_their_defaults_and_init_goes_on(session, sources, workspace):
    async def never(question):
        await asyncio.Event().wait()

    initializer = MemoryInitializer(session, SubagentRunner(session), sources=sources, question_timeout=0.2)
    result = await initializer.run(InitRequest((workspace,)), ask=never)
    assert result.ok
    assert "No answer came within 0.2 seconds" in result.report
    assert "7 earlier sessions" in result.report  # history took its default: read


async def test_running_init_again_extends_memory_and_keeps_the_users_edits(session, initializer, workspace):
    await initializer.run(InitRequest((workspace,), history=False))
    overview = "system/project/shop-api.md"
    ops = session.operations("user")
    ops.insert(overview, 10_000, "- Deploys go out on Tuesdays only.\n", reason="a rule of ours")
    ops.create("system/project/notes.md", "My own notes.", "Nothing yet.\n", reason="my notes")
    (workspace / "justfile").write_text("check:\n\tpnpm lint\n")

    result = await initializer.run(InitRequest((workspace,), history=False))
    assert result.ok
    memory = session.repo.snapshot()
    text = memory.get(overview).text
    assert "Deploys go out on Tuesdays only." in text  # the user's line stays
    assert memory.get("system/project/notes.md").text.endswith("Nothing yet.\n")
    assert parse_document(text).description
    layout = memory.get("reference/shop-api/ci.md").text
    assert "justfile" in layout  # the project's change came in


async def test_cancelling_init_midway_keeps_what_the_workers_had_committed(session, sources, workspace):
    def workers(index, request):
        return [memory_call("create", file_path=worker_file(request), description=f"Findings of slice {index}",
                            file_text=f"- seen in slice {index}\n", reason=f"slice {index}"),
                Reply(text="too late", first_delay=30)]

    model = InitModel(workers=workers)
    runner = SubagentRunner(session)
    initializer = MemoryInitializer(session, runner, sources=sources)
    with scripted_openai(Script().respond(model).repeat_last()) as server:
        task = asyncio.create_task(initializer.run(InitRequest((workspace,)), provider=provider_for(server)))
        for _ in range(600):  # every worker has committed its file and waits for its model
            if len({index for index, step, _t in model.worker_requests if step == 1}) == 3:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(600):
            if runner.status.state == "idle":
                break
            await asyncio.sleep(0.05)
    assert runner.status.state == "idle"
    memory = session.repo.snapshot()
    assert len([p for p in memory.files if p.startswith("reference/shop-api/sessions/")]) == 3
    assert Worktrees(session.repo, session.agent.worktrees_dir).list() == []
    assert "letta/" not in git(session.repo, "branch", "--list")


async def test_a_later_init_without_a_model_never_overwrites_what_the_init_agent_wrote(session, initializer,
                                                                                        workspace):
    with scripted_openai(Script().respond(InitModel()).repeat_last()) as server:
        await initializer.run(InitRequest((workspace,), history=False), provider=provider_for(server))
    overview = "system/project/shop-api.md"
    written = session.repo.snapshot().get(overview).text
    assert "Order, payment and refund API." in written

    result = await initializer.run(InitRequest((workspace,), history=False), provider=None)
    assert session.repo.snapshot().get(overview).text == written
    assert f"`{overview}` exists and was not written by /init's draft" in result.report


async def test_init_waits_its_turn_while_another_process_runs_a_memory_subagent(session, initializer, workspace):
    import fcntl
    import os

    lock_file = Path(session.agent.worktrees_dir) / ".runner.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what another window's dream would hold
    progress: list[str] = []
    task = asyncio.create_task(initializer.run(InitRequest((workspace,), history=False),
                                               progress=lambda message, _pct: progress.append(message)))
    try:
        for _ in range(200):
            if any(message.startswith("waiting for another memory run") for message in progress):
                break
            await asyncio.sleep(0.05)
        assert any(message.startswith("waiting for another memory run") for message in progress), progress
        assert not task.done() and "system/project/shop-api.md" not in session.repo.snapshot()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    result = await task
    assert result.ok and "system/project/shop-api.md" in session.repo.snapshot()
