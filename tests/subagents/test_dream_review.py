"""``sleeptime.merge: "review"``: a dream's changes wait on its ref until the user accepts or rejects them, per file."""

from __future__ import annotations

import pytest

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.settings import structure_settings
from letta_ls.subagents.dream_review import REVIEW_REF_PREFIX, DreamReviews, ReviewError
from letta_ls.subagents.service import MemorySubagents
from tests.fakes import Script, scripted_openai
from tests.subagents.dreams_helpers import REPORT, agent_session, chat, dream_once, lesson, memory_call
from tests.subagents.helpers import AGENT, USER, branch_with, committed, doc, fsck, git, tracked_changes

NEW_NOTE = doc("How the team deploys.", "Deploys happen on Fridays.\n")


@pytest.fixture
def reviews(memory: MemoryRepo, tmp_path) -> DreamReviews:
    return DreamReviews(memory, tmp_path / "agent" / "dream-reviews.json")


def held_run(trees, reviews: DreamReviews, changes: dict, message: str = "dream: a lesson") -> str:
    """A dream run whose branch holds ``changes``, handed over for review the way the runner does it."""
    tree = branch_with(trees, changes, message)
    reviews.hold(tree.run_id, git(trees.main, "rev-parse", tree.ref).strip())
    trees.remove(tree, discard=True)
    return tree.run_id


def test_the_review_value_is_a_valid_merge_setting():
    assert structure_settings({"sleeptime": {"merge": "review"}}).sleeptime.merge == "review"


def test_held_changes_stay_off_main_and_are_listed_per_file_with_their_reason(memory, trees, reviews):
    head = memory.head()
    run = held_run(trees, reviews, {"notes.md": NOTES_EDITED, "team/deploys.md": NEW_NOTE,
                                    "system/human.md": None}, "dream: learn about deploys")
    assert memory.head() == head and git(memory, "branch", "--list", "letta/*") == ""
    assert git(memory, "for-each-ref", "--format=%(refname)", REVIEW_REF_PREFIX).strip() == REVIEW_REF_PREFIX + run
    assert reviews.pending() == [run]
    changes = {c.path: c for c in reviews.changes(run)}
    assert {p: c.kind for p, c in changes.items()} == {"notes.md": "modified", "team/deploys.md": "added",
                                                       "system/human.md": "deleted"}
    notes = changes["notes.md"]
    assert git(memory, "cat-file", "blob", notes.before_blob) == committed(memory, "notes.md")
    assert git(memory, "cat-file", "blob", notes.after_blob) == NOTES_EDITED
    assert notes.base == head and notes.reason == "dream: learn about deploys"
    assert changes["team/deploys.md"].before_blob is None and changes["system/human.md"].after_blob is None


def test_a_renamed_file_is_one_change_and_accepting_it_moves_the_file(memory, trees, reviews):
    text = committed(memory, "notes.md")
    run = held_run(trees, reviews, {"notes.md": None, "project/notes.md": text}, "dream: file the notes")
    [change] = reviews.changes(run)
    assert (change.kind, change.path, change.old_path) == ("renamed", "project/notes.md", "notes.md")
    reviews.accept(run, ["project/notes.md"], AGENT)
    assert committed(memory, "project/notes.md") == text and not (memory.path / "notes.md").exists()


def test_accept_some_merges_only_those_files_as_one_commit_naming_the_run(memory, trees, reviews):
    head = memory.head()
    run = held_run(trees, reviews, {"notes.md": NOTES_EDITED, "team/deploys.md": NEW_NOTE})
    result = reviews.accept(run, ["team/deploys.md"], AGENT)
    assert committed(memory, "team/deploys.md") == NEW_NOTE and committed(memory, "notes.md") != NOTES_EDITED
    assert git(memory, "rev-list", "--count", f"{head}..HEAD").strip() == "1"
    message = git(memory, "log", "-1", "--format=%B")
    assert run in message and "team/deploys.md" in message and "notes.md\n" not in message.replace("deploys.md", "")
    assert result.accepted == ("team/deploys.md",) and tracked_changes(memory) == ""
    # the rest still waits, on the ref, which is kept
    assert [c.path for c in reviews.changes(run)] == ["notes.md"] and reviews.pending() == [run]
    reviews.accept(run, None, AGENT)
    assert committed(memory, "notes.md") == NOTES_EDITED and reviews.pending() == []
    assert git(memory, "rev-parse", "--verify", "-q", REVIEW_REF_PREFIX + run).strip()
    fsck(memory)


def test_accepting_after_main_moved_keeps_both_sides(memory, trees, reviews):
    run = held_run(trees, reviews, {"notes.md": NOTES_EDITED})
    user_text = committed(memory, "notes.md").replace("line 9\n", "line 9 (checked by Dana)\n")
    memory.commit({"notes.md": user_text.encode()}, "user: check line 9", USER)
    moved = memory.head()
    reviews.accept(run, None, AGENT)
    text = committed(memory, "notes.md")
    assert "line 2 (the dream's)" in text and "line 9 (checked by Dana)" in text
    assert git(memory, "merge-base", "--is-ancestor", moved, "HEAD") == ""
    assert run in git(memory, "log", "-1", "--format=%B") and tracked_changes(memory) == ""


def test_reject_some_keeps_main_and_history_and_records_it(memory, trees, reviews):
    head = memory.head()
    run = held_run(trees, reviews, {"notes.md": NOTES_EDITED, "team/deploys.md": NEW_NOTE})
    reviews.reject(run, ["notes.md"])
    assert memory.head() == head and [c.path for c in reviews.changes(run)] == ["team/deploys.md"]
    reviews.reject(run)
    assert memory.head() == head and reviews.pending() == [] and reviews.changes(run) == []
    assert reviews.decisions(run) == {"notes.md": "rejected", "team/deploys.md": "rejected"}
    history = git(memory, "log", "-p", "--format=%s", REVIEW_REF_PREFIX + run, "--", "notes.md")
    assert "+line 2 (the dream's)" in history
    # decisions survive a new reader (another process)
    assert DreamReviews(memory, reviews.state_path).decisions(run)["notes.md"] == "rejected"


def test_unknown_runs_and_paths_are_refused_with_a_reason(memory, trees, reviews):
    run = held_run(trees, reviews, {"notes.md": NOTES_EDITED})
    with pytest.raises(ReviewError, match=r"no dream run"):
        reviews.changes("dream-20990101-000000-deadbeef")
    with pytest.raises(ReviewError, match=r"nothing\.md"):
        reviews.accept(run, ["nothing.md"], AGENT)
    reviews.reject(run)
    with pytest.raises(ReviewError, match=r"already decided|no pending"):
        reviews.accept(run, ["notes.md"], AGENT)


def test_a_file_with_a_secret_is_not_accepted(memory, trees, reviews):
    # a ref written with plain git (not through the guarded memory writer) that carries a secret
    tree = trees.create("dream")
    (tree.path / "keys.md").write_text(doc("Keys", "token ghp_KlDTlyUXAO0IQleNJaZJpsaujaLHSLMhXRty\n"))
    git(tree.path, "add", "keys.md")
    git(tree.path, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qm", "dream: keys")
    reviews.hold(tree.run_id, git(memory, "rev-parse", tree.ref).strip())
    trees.remove(tree, discard=True)
    head = memory.head()
    with pytest.raises(ReviewError, match="secret"):
        reviews.accept(tree.run_id, None, AGENT)
    assert memory.head() == head and reviews.pending() == [tree.run_id]


NOTES_EDITED = doc("Project notes", "".join(f"line {n}\n" if n != 2 else "line 2 (the dream's)\n"
                                           for n in range(1, 11)))


# ---------------------------------------------------------------------------------------------- with a real dream
@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


async def test_a_review_dream_waits_for_the_user_and_nothing_reaches_main(model):
    session = agent_session(model.base_url, sleeptime={"merge": "review"})
    chat(session, "Call me Dana.", "Hi Dana.")
    head = session.repo.head()
    model.script.tool_call("memory", lesson("- The user's name is Dana.")).tool_call(
        "memory", memory_call("create", "dream: note deploy day", file_path="team/deploys.md",
                              description="How the team deploys.", file_text="Fridays.\n")).text(REPORT)
    result = await dream_once(session)
    assert result.status == "pending_review" and result.ok and result.run_id and result.commits == ()
    assert session.repo.head() == head and "Dana" not in session.repo.read("system/human.md").text
    assert git(session.repo, "branch", "--list", "letta/*") == ""  # no branch for recovery to merge on restart
    reviews = DreamReviews.for_agent(session.repo, session.agent)
    assert reviews.pending() == [result.run_id]
    changes = {c.path: c for c in reviews.changes(result.run_id)}
    assert set(changes) == {"system/human.md", "team/deploys.md"}
    assert changes["team/deploys.md"].reason == "dream: note deploy day"
    assert "waits for your review" in result.report and "team/deploys.md" in result.report
    # a restart does not salvage (merge) the held work
    again = MemorySubagents(session)
    await again.start()
    await again.close()
    assert session.repo.head() == head
    reviews.accept(result.run_id, ["system/human.md"], session.agent.author)
    assert "Dana" in session.repo.read("system/human.md").text and "team/deploys.md" not in session.repo.snapshot()


def test_with_no_run_held_the_status_asks_git_nothing(memory, trees, reviews, monkeypatch):
    """``letta/status`` lists held runs after every commit; with none held (most of the time) it reads the ref
    files and spawns no git (a ``git for-each-ref`` per commit slowed the read a save was followed by)."""
    calls: list[tuple] = []
    real = memory.run_git
    monkeypatch.setattr(memory, "run_git", lambda *args, **kw: calls.append(args) or real(*args, **kw))
    assert reviews.pending_counts() == [] and calls == []
    run = held_run(trees, reviews, {"team/deploys.md": NEW_NOTE})
    assert reviews.pending() == [run]  # a loose ref: found
    git(memory, "pack-refs", "--all")
    assert not (memory.common_dir / REVIEW_REF_PREFIX / run).exists()
    assert reviews.pending() == [run]  # a packed one too
