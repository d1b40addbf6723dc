"""Defrag: a backup first, a reorganisation guided by the doctor, a before/after report, and a way back."""

from __future__ import annotations

import pytest

from letta_ls.memfs.repo import user_author
from letta_ls.subagents.models import NoSubagentModel
from letta_ls.subagents.service import MemorySubagents
from tests.subagents.dreams_helpers import agent_session, memory_call, user_messages
from tests.subagents.helpers import git

BUILD = "## Build\nRun `make build`; it needs Go 1.22 and writes to ./out. " + "Builds are cached per commit. " * 12
DEPLOY = "## Deploy\nRun `make ship` from a clean main; it tags the release. " + "Rollbacks use the previous tag. " * 12
PARAGRAPH = ("The staging server is kite.internal; it is rebuilt every night at 02:00 UTC from main, and anything "
             "deployed there by hand is lost at the next rebuild. Deploy to it with make stage only, and ask in "
             "the infra channel before resetting its database.")
REPORT = ("## Summary\nSplit the notes and merged the duplicate.\n## Changes\n- split\n## Left alone\nnone\n"
          "## Issues\nnone")


@pytest.fixture
def session(model):
    session = agent_session(model.base_url)
    ops = session.operations("user")
    ops.create("reference/notes.md", "Build and deploy notes", f"{BUILD}\n\n{DEPLOY}\n", "seed notes")
    ops.update_description("reference/notes.md", "Build and deploy notes", "seed")
    text = session.repo.read("reference/notes.md").text.replace("description:", "limit: 120\ndescription:", 1)
    ops.write_file("reference/notes.md", text, reason="cap the notes")
    ops.create("reference/staging.md", "The staging server", PARAGRAPH, "seed staging")
    ops.create("reference/servers.md", "Our servers", f"Production is on fly.io.\n\n{PARAGRAPH}\n", "seed servers")
    return session


def defrag_script(model) -> None:
    calls = [
        memory_call("rename", "defrag: notes become a folder", old_path="reference/notes.md",
                    new_path="reference/notes/overview.md"),
        memory_call("create", "defrag: split out the build notes", file_path="reference/notes/build.md",
                    description="How to build the project.", file_text=BUILD),
        memory_call("create", "defrag: split out the deploy notes", file_path="reference/notes/deploy.md",
                    description="How to deploy the project.", file_text=DEPLOY),
        memory_call("str_replace", "defrag: the overview links its parts", file_path="reference/notes/overview.md",
                    old_string=f"{BUILD}\n\n{DEPLOY}\n",
                    new_string="Related files:\n- [[reference/notes/build.md]]\n- [[reference/notes/deploy.md]]\n"),
        memory_call("delete", "defrag: staging is already in servers.md", file_path="reference/staging.md"),
    ]
    for call in calls:
        model.script.tool_call("memory", call)
    model.script.text(REPORT)


async def test_defrag_backs_up_reorganises_reports_and_can_be_undone(session, model, subagents):
    before = session.repo.snapshot()
    defrag_script(model)
    result = await subagents.defrag()

    assert result.status == "merged" and result.ok and len(result.commits) == 5
    assert result.backup.startswith("refs/letta-backup/defrag-")
    assert git(session.repo, "rev-parse", result.backup).strip() == before.head
    assert list(session.agent.backups_dir.glob("defrag-*.bundle"))
    after = session.repo.snapshot()
    assert {"reference/notes/overview.md", "reference/notes/build.md", "reference/notes/deploy.md"} <= set(after.files)
    assert "reference/notes.md" not in after and "reference/staging.md" not in after
    # the doctor guided it: the model was told about the oversized file and the duplicate
    told = user_messages(model.model_requests[0])[-1]
    assert "file-oversized" in told and "duplicate-content" in told and "reference/notes.md: " in told
    assert "defragmenting" in model.model_requests[0].system
    # the report: counts and tokens before and after, the backup, the commits
    assert result.before.files + 1 == result.after.files and result.before.findings > result.after.findings
    assert result.before.total_tokens > result.after.total_tokens > 0
    assert f"| memory files | {result.before.files:,} | {result.after.files:,} |" in result.report
    assert "| system/ tokens |" in result.report and "| total tokens |" in result.report
    assert result.backup in result.report and result.commits[0][:12] in result.report
    assert "Split the notes" in result.report

    restored = session.restore(result.backup)  # letta.memory.restore does this
    back = session.repo.snapshot()
    assert restored.commit is not None and back.head != before.head  # a new commit, history kept
    assert {p: f.blob for p, f in back.files.items()} == {p: f.blob for p, f in before.files.items()}
    assert git(session.repo, "log", "-1", "--format=%an").strip() == user_author(session.repo.path).name


async def test_defrag_without_a_model_does_nothing_and_says_how_to_configure_one(monkeypatch, session):
    monkeypatch.setitem(__import__("sys").modules, "letta_ls.agent.providers.local", None)
    service = MemorySubagents(session.__class__(settings={}))
    head = session.repo.head()
    with pytest.raises(NoSubagentModel, match="so a defrag cannot run"):
        await service.defrag()
    assert session.repo.backups() == [] and session.repo.head() == head


async def test_a_failed_defrag_says_why_and_keeps_the_backup(session, model, subagents):
    model.script.tool_call("memory", memory_call("delete", "defrag: duplicate", file_path="reference/staging.md"))
    model.script.error(500, "the model went away", should_retry=False)
    result = await subagents.defrag()
    assert result.status == "failed" and "the model went away" in result.report
    assert "reference/staging.md" not in session.repo.snapshot()  # committed work is kept...
    assert result.backup in result.report  # ...and the backup undoes it
    session.restore(result.backup)
    assert "reference/staging.md" in session.repo.snapshot()


async def test_the_before_and_after_audits_run_where_the_caller_says(session, model):
    """The language server sends a large memory's audits to its worker process (``audit_of``): a defrag must
    not audit in a thread of its own, where it would hold the server's GIL while requests wait."""
    audited: list[str | None] = []

    async def audit_elsewhere(snapshot):
        audited.append(snapshot.head)
        return session.audit(snapshot)

    subagents = MemorySubagents(session, audit_of=audit_elsewhere)
    await subagents.start()
    try:
        before = session.repo.head()
        defrag_script(model)
        result = await subagents.defrag()
    finally:
        await subagents.close()
    assert result.ok
    assert audited == [before, session.repo.head()]  # before the run, and after its merge
    assert "file-oversized" in user_messages(model.model_requests[0])[-1]  # the doctor's findings still guide it
