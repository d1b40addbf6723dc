"""Merging a subagent's branch into main keeps every side's work, on real git repositories."""

from __future__ import annotations

import asyncio

import pytest

from letta_ls.doctor import audit
from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import MemoryRepoError
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.settings import MemorySettings
from letta_ls.subagents.merge import MergeError, merge_into, merge_into_async
from tests.subagents.helpers import (
    AGENT,
    LINES,
    NOTES,
    USER,
    branch_with,
    committed,
    doc,
    fsck,
    git,
    is_ancestor,
    on_disk,
    tracked_changes,
)

SECRET = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2


def merge(memory, tree, **kw):
    return merge_into(memory, tree.ref, message="merge(dream): lessons", author=AGENT, label=tree.branch, **kw)


def edit_line(text: str, n: int, new: str) -> str:
    return text.replace(f"line {n}\n", f"{new}\n")


# ---------------------------------------------------------------------------------------------- the three kinds
def test_branch_ahead_of_main_is_fast_forwarded_and_lands_on_disk(memory, trees):
    tree = branch_with(trees, {"system/project.md": doc("Project facts", "We ship on Fridays.\n")})
    before = memory.head()
    outcome = merge(memory, tree)
    assert outcome.kind == "fast_forward" and outcome.previous == before
    assert outcome.head == git(memory, "rev-parse", tree.ref).strip() == memory.head()
    assert outcome.changed == ("system/project.md",)
    assert [(n.path, n.kind) for n in outcome.notes] == [("system/project.md", "clean")]
    assert on_disk(memory, "system/project.md").endswith("We ship on Fridays.\n")
    assert tracked_changes(memory) == ""
    fsck(memory)


def test_a_branch_main_already_holds_is_up_to_date_and_changes_nothing(memory, trees):
    tree = branch_with(trees, {"a.md": doc("A", "a\n")})
    merge(memory, tree)
    head = memory.head()
    again = merge(memory, tree)
    assert again.kind == "up_to_date" and again.head == head and again.changed == () and memory.head() == head
    assert "already up to date" in again.describe()


def test_main_moved_on_another_file_gives_a_merge_commit_with_both_parents(memory, trees):
    tree = branch_with(trees, {"system/project.md": doc("Project facts", "Use pnpm.\n")})
    user_commit = memory.commit({"system/human.md": doc("The user", "Dana prefers tabs.\n").encode()},
                                "user edit", USER).commit
    outcome = merge(memory, tree)
    assert outcome.kind == "merged" and outcome.previous == user_commit
    parents = git(memory, "rev-list", "--parents", "-n1", "HEAD").split()
    assert parents[1:] == [user_commit, git(memory, "rev-parse", tree.ref).strip()]
    assert git(memory, "log", "-1", "--format=%an %s").strip() == "Test Agent merge(dream): lessons"
    assert on_disk(memory, "system/project.md").endswith("Use pnpm.\n")
    assert on_disk(memory, "system/human.md").endswith("Dana prefers tabs.\n")
    assert outcome.changed == ("system/project.md",)
    assert tracked_changes(memory) == ""
    fsck(memory)


def test_same_file_different_lines_is_merged_line_by_line(memory, trees):
    tree = branch_with(trees, {"notes.md": edit_line(NOTES, 2, "line 2 from the dream")})
    memory.commit({"notes.md": edit_line(NOTES, 9, "line 9 from main").encode()}, "main edit", AGENT)
    outcome = merge(memory, tree)
    text = on_disk(memory, "notes.md")
    assert "line 2 from the dream\n" in text and "line 9 from main\n" in text and "<<<<<<<" not in text
    assert [(n.path, n.kind) for n in outcome.notes] == [("notes.md", "three_way")]
    assert committed(memory, "notes.md") == text


# ---------------------------------------------------------------------------------------------- same lines
def conflicting(memory, trees):
    tree = branch_with(trees, {"notes.md": edit_line(NOTES, 5, "line 5 says the dream")})
    memory.commit({"notes.md": edit_line(NOTES, 5, "line 5 says main").encode()}, "main edit", USER)
    return tree


def test_same_lines_take_a_valid_resolution_from_the_resolver(memory, trees):
    tree = conflicting(memory, trees)
    calls = []

    def resolver(path, base, ours, theirs):
        calls.append((path, base, ours, theirs))
        return doc("Project notes", LINES.replace("line 5\n", "line 5 says main and the dream\n"))

    outcome = merge(memory, tree, resolver=resolver)
    (path, base, ours, theirs), = calls
    assert path == "notes.md" and base == NOTES
    assert "line 5 says main" in ours and "line 5 says the dream" in theirs
    assert "line 5 says main and the dream\n" in committed(memory, "notes.md")
    assert on_disk(memory, "notes.md") == committed(memory, "notes.md")
    assert [(n.path, n.kind) for n in outcome.notes] == [("notes.md", "resolved")]


async def test_an_async_resolver_is_awaited(memory, trees):
    tree = conflicting(memory, trees)

    async def resolver(path, base, ours, theirs):
        await asyncio.sleep(0)
        return doc("Project notes", "merged by a model\n")

    outcome = await merge_into_async(memory, tree.ref, message="merge(dream): x", author=AGENT, label=tree.branch,
                                     resolver=resolver)
    assert outcome.paths_with("resolved") == ["notes.md"]
    assert committed(memory, "notes.md").endswith("merged by a model\n")


def assert_kept_both(memory, tree, path="notes.md"):
    text = committed(memory, path)
    assert f"<<<<<<< main\nline 5 says main\n=======\nline 5 says the dream\n>>>>>>> {tree.branch}\n" in text
    parsed = parse_document(text)
    assert parsed.valid and parsed.description == "Project notes"
    assert on_disk(memory, path) == text
    findings = audit(MemorySnapshot.from_directory(memory.path), MemorySettings()).findings
    assert not [f for f in findings if f.path == path and f.severity == "error"]


@pytest.mark.parametrize("answer", [
    None,
    "",
    42,
    "no frontmatter at all\n",
    "---\ntitle: x\n---\nno description\n",
    "---\ndescription: unclosed\nbody\n",
    doc("Project notes", "<<<<<<< main\nstill\n=======\nconflicted\n>>>>>>> x\n"),
    doc("Project notes", f"the key is {SECRET}\n"),
])
def test_an_invalid_resolution_keeps_both_versions_marked_under_valid_frontmatter(memory, trees, answer):
    tree = conflicting(memory, trees)
    outcome = merge(memory, tree, resolver=lambda *args: answer)
    assert outcome.conflicts == ["notes.md"]
    note = next(n for n in outcome.notes if n.path == "notes.md")
    assert note.kind == "kept_both" and note.detail.startswith("the resolver")
    assert_kept_both(memory, tree)
    assert SECRET not in git(memory, "log", "-p", "--all")


def test_a_failing_resolver_keeps_both_versions_and_says_why(memory, trees):
    tree = conflicting(memory, trees)

    def resolver(*args):
        raise TimeoutError("the model took too long")

    outcome = merge(memory, tree, resolver=resolver)
    assert outcome.notes[0].kind == "kept_both" and "the model took too long" in outcome.notes[0].detail
    assert_kept_both(memory, tree)
    assert "both versions kept, marked in the file" in outcome.describe()
    assert "kept both: notes.md" in git(memory, "log", "-1", "--format=%B")


def test_without_a_resolver_both_versions_are_kept(memory, trees):
    tree = conflicting(memory, trees)
    outcome = merge(memory, tree)
    assert outcome.notes[0].detail == "no resolver"
    assert_kept_both(memory, tree)


def test_a_frontmatter_conflict_keeps_mains_frontmatter_and_shows_the_other_side_in_the_body(memory, trees):
    tree = branch_with(trees, {"notes.md": doc("Notes from the dream", edit_line(LINES, 3, "dream 3"))})
    memory.commit({"notes.md": doc("Notes from main", edit_line(LINES, 3, "main 3")).encode()}, "main", USER)
    merge(memory, tree)
    text = committed(memory, "notes.md")
    parsed = parse_document(text)
    assert parsed.valid and parsed.description == "Notes from main"
    assert (f"<<<<<<< main (frontmatter)\ndescription: Notes from main\n=======\n"
            f"description: Notes from the dream\n>>>>>>> {tree.branch} (frontmatter)\n") in parsed.body
    assert f"<<<<<<< main\nmain 3\n=======\ndream 3\n>>>>>>> {tree.branch}\n" in parsed.body


def test_a_frontmatter_change_on_one_side_merges_cleanly_beside_a_body_conflict(memory, trees):
    tree = branch_with(trees, {"notes.md": doc("Notes, refined", edit_line(LINES, 5, "line 5 says the dream"))})
    memory.commit({"notes.md": edit_line(NOTES, 5, "line 5 says main").encode()}, "main edit", USER)
    merge(memory, tree)
    parsed = parse_document(committed(memory, "notes.md"))
    assert parsed.description == "Notes, refined" and "(frontmatter)" not in parsed.body
    assert "<<<<<<< main\nline 5 says main\n" in parsed.body


def test_both_sides_adding_the_same_path_is_a_same_lines_conflict(memory, trees):
    tree = branch_with(trees, {"system/project.md": doc("Project", "Uses Rust.\n")})
    memory.commit({"system/project.md": doc("Project", "Uses Go.\n").encode()}, "user adds", USER)
    seen = []
    merge(memory, tree, resolver=lambda path, base, ours, theirs: seen.append(base) or None)
    assert seen == [None]
    text = committed(memory, "system/project.md")
    assert "Uses Go.\n" in text and "Uses Rust.\n" in text and "<<<<<<< main" in text
    assert parse_document(text).description == "Project"


# ---------------------------------------------------------------------------------------------- other conflicts
def test_delete_on_main_and_modify_on_the_branch_keeps_the_modified_file(memory, trees):
    tree = branch_with(trees, {"notes.md": edit_line(NOTES, 1, "kept by the dream")})
    memory.commit({"notes.md": None}, "user deletes notes", USER)
    outcome = merge(memory, tree)
    assert "kept by the dream\n" in committed(memory, "notes.md") and (memory.path / "notes.md").exists()
    assert outcome.notes[0].kind == "modified_over_delete" and "deleted in main" in outcome.notes[0].detail


def test_modify_on_main_and_delete_on_the_branch_keeps_the_modified_file(memory, trees):
    tree = branch_with(trees, {"notes.md": None})
    memory.commit({"notes.md": edit_line(NOTES, 1, "kept by the user").encode()}, "user edits", USER)
    outcome = merge(memory, tree)
    assert "kept by the user\n" in committed(memory, "notes.md")
    assert outcome.paths_with("modified_over_delete") == ["notes.md"]


def test_binary_conflicts_keep_both_files(memory, trees):
    memory.commit({"avatar.png": b"\x89PNG\x00base"}, "avatar", USER)
    tree = branch_with(trees, {"avatar.png": b"\x89PNG\x00dream"})
    memory.commit({"avatar.png": b"\x89PNG\x00main"}, "new avatar", USER)
    outcome = merge(memory, tree)
    other = f"avatar.{tree.branch.replace('/', '-')}.png"
    assert (memory.path / "avatar.png").read_bytes() == b"\x89PNG\x00main"
    assert (memory.path / other).read_bytes() == b"\x89PNG\x00dream"
    note = next(n for n in outcome.notes if n.path == "avatar.png")
    assert note.kind == "kept_both_files" and other in note.detail and outcome.conflicts == ["avatar.png"]
    assert tracked_changes(memory) == ""


def test_non_utf8_and_non_markdown_conflicts_keep_both_files_without_markers(memory, trees):
    memory.commit({"skills/x/run.py": b"print(1)\n", "latin.md": b"caf\xe9\n"}, "files", USER)
    tree = branch_with(trees, {"skills/x/run.py": b"print(2)\n", "latin.md": b"caf\xe9 dream\n"})
    memory.commit({"skills/x/run.py": b"print(3)\n", "latin.md": b"caf\xe9 main\n"}, "edits", USER)
    outcome = merge(memory, tree)
    assert sorted(outcome.conflicts) == ["latin.md", "skills/x/run.py"]
    slug = tree.branch.replace("/", "-")
    assert (memory.path / "skills/x/run.py").read_bytes() == b"print(3)\n"
    assert (memory.path / f"skills/x/run.{slug}.py").read_bytes() == b"print(2)\n"
    assert (memory.path / f"latin.{slug}.md").read_bytes() == b"caf\xe9 dream\n"


# ---------------------------------------------------------------------------------------------- main's work tree
def test_stray_untracked_files_never_block_a_merge(memory, trees):
    (memory.path / "scratch.txt").write_text("the user's scratch")
    (memory.path / "system" / "draft.md.swp").write_bytes(b"\x00vim")
    tree = branch_with(trees, {"system/project.md": doc("Project", "x\n")})
    memory.commit({"system/human.md": doc("User", "y\n").encode()}, "user", USER)
    outcome = merge(memory, tree)
    assert outcome.kind == "merged"
    assert (memory.path / "scratch.txt").read_text() == "the user's scratch"
    assert (memory.path / "system" / "draft.md.swp").read_bytes() == b"\x00vim"


def test_an_untracked_file_where_the_merge_writes_is_moved_aside_not_overwritten(memory, trees):
    tree = branch_with(trees, {"system/project.md": doc("Project", "from the dream\n")})
    (memory.path / "system" / "project.md").write_text("the user's own draft")
    outcome = merge(memory, tree)
    (aside,) = outcome.paths_with("moved_aside")
    moved = next(n for n in outcome.notes if n.kind == "moved_aside").detail
    assert aside == "system/project.md" and moved.startswith("system/project.md.moved-aside-")
    assert (memory.path / moved).read_text() == "the user's own draft"
    assert on_disk(memory, "system/project.md").endswith("from the dream\n")
    assert "moved aside" in outcome.describe()


def test_an_untracked_file_where_the_merge_needs_a_folder_is_moved_aside(memory, trees):
    tree = branch_with(trees, {"reference/api.md": doc("API", "endpoints\n")})
    (memory.path / "reference").write_text("a file named like the folder")
    outcome = merge(memory, tree)
    moved = next(n for n in outcome.notes if n.kind == "moved_aside").detail
    assert (memory.path / moved).read_text() == "a file named like the folder"
    assert on_disk(memory, "reference/api.md").endswith("endpoints\n")


def test_an_uncommitted_user_edit_is_saved_first_and_survives_the_merge(memory, trees):
    tree = branch_with(trees, {"notes.md": edit_line(NOTES, 2, "line 2 from the dream")})
    (memory.path / "notes.md").write_text(edit_line(NOTES, 9, "line 9 typed by the user, unsaved"))
    outcome = merge(memory, tree, user=USER)
    text = on_disk(memory, "notes.md")
    assert "line 2 from the dream\n" in text and "line 9 typed by the user, unsaved\n" in text
    assert outcome.saved_edits is not None and outcome.kind == "merged"
    saved = git(memory, "log", "-1", "--format=%an|%s", outcome.saved_edits).strip()
    assert saved == "Dana|save uncommitted memory edits before merging"
    assert outcome.notes[0].kind == "saved_user_edit"
    assert tracked_changes(memory) == ""


def test_an_uncommitted_deletion_is_saved_too(memory, trees):
    tree = branch_with(trees, {"system/project.md": doc("Project", "x\n")})
    (memory.path / "system" / "human.md").unlink()
    merge(memory, tree, user=USER)
    assert "system/human.md" not in MemoryOperations(memory, USER).repo.snapshot()
    assert tracked_changes(memory) == ""


def test_an_uncommitted_edit_holding_a_secret_is_never_committed_and_never_lost(memory, trees):
    tree = branch_with(trees, {"notes.md": edit_line(NOTES, 2, "line 2 from the dream")})
    dirty = edit_line(NOTES, 9, f"token {SECRET}")
    (memory.path / "notes.md").write_text(dirty)
    outcome = merge(memory, tree, user=USER)
    assert SECRET not in git(memory, "log", "-p", "--all")
    assert outcome.paths_with("left_uncommitted") == ["notes.md"]
    moved = next(n for n in outcome.notes if n.kind == "moved_aside").detail
    assert (memory.path / moved).read_text() == dirty
    assert "line 2 from the dream" in on_disk(memory, "notes.md")


# ---------------------------------------------------------------------------------------------- refusals
def test_unrelated_histories_are_refused_and_nothing_changes(memory, tmp_path):
    other = type(memory).create(tmp_path / "other", {"x.md": doc("x", "x\n")}, AGENT)
    git(memory, "fetch", "-q", str(other.path), "main:refs/remotes/other/main")
    head = memory.head()
    with pytest.raises(MergeError, match="shares no history"):
        merge_into(memory, "refs/remotes/other/main", message="sync", author=AGENT)
    assert memory.head() == head
    outcome = merge_into(memory, "refs/remotes/other/main", message="sync", author=AGENT, allow_unrelated=True)
    assert outcome.kind == "merged" and (memory.path / "x.md").exists() and (memory.path / "notes.md").exists()


def test_an_empty_message_is_refused(memory, trees):
    tree = branch_with(trees, {"a.md": doc("a", "a\n")})
    with pytest.raises(ValueError, match="message"):
        merge_into(memory, tree.ref, message="  ", author=AGENT)


def test_the_branch_survives_until_its_work_is_on_main(memory, trees):
    tree = branch_with(trees, {"a.md": doc("a", "a\n")})
    source = git(memory, "rev-parse", tree.ref).strip()
    merge(memory, tree)
    assert is_ancestor(memory, source) and git(memory, "rev-parse", tree.ref).strip() == source


def test_an_unknown_source_is_refused_with_a_clear_error(memory):
    head = memory.head()
    with pytest.raises(MemoryRepoError, match="unknown revision 'letta/dream/nope'"):
        merge_into(memory, "letta/dream/nope", message="merge", author=AGENT)
    assert memory.head() == head and tracked_changes(memory) == ""


def test_markdown_without_frontmatter_on_either_side_keeps_both_files(memory, trees):
    memory.commit({"loose.md": b"just text\nline 2\n"}, "loose", AGENT)
    tree = branch_with(trees, {"loose.md": "dream text\nline 2\n"})
    memory.commit({"loose.md": b"main text\nline 2\n"}, "edit", USER)
    outcome = merge(memory, tree)
    note = next(n for n in outcome.notes if n.path == "loose.md")
    assert note.kind == "kept_both_files"
    assert on_disk(memory, "loose.md") == "main text\nline 2\n"
    other = note.detail.rsplit(" ", 1)[-1]
    assert on_disk(memory, other) == "dream text\nline 2\n"


def test_a_writer_committing_while_the_resolver_thinks_is_kept_and_the_resolver_not_asked_twice(memory, trees):
    tree = conflicting(memory, trees)
    calls = []

    def resolver(path, base, ours, theirs):
        calls.append(path)
        # another writer commits to main while the model is thinking (the lock is not held meanwhile)
        memory.commit({"system/human.md": doc("The user", "Dana moved to Lisbon.\n").encode()}, "user", USER)
        return doc("Project notes", LINES.replace("line 5\n", "line 5 agreed\n"))

    outcome = merge(memory, tree, resolver=resolver)
    assert calls == ["notes.md"] and outcome.attempts == 2
    assert on_disk(memory, "system/human.md").endswith("Dana moved to Lisbon.\n")
    assert "line 5 agreed\n" in committed(memory, "notes.md")
    assert git(memory, "log", "-1", "--format=%P").split()[0] == outcome.previous
    assert committed(memory, "system/human.md", outcome.previous).endswith("Dana moved to Lisbon.\n")


def test_after_repeated_races_the_merge_is_made_holding_the_lock_and_loses_no_racer(memory, trees, monkeypatch):
    from letta_ls.subagents import merge as merge_module

    tree = branch_with(trees, {"system/project.md": doc("Project", "from the dream\n")})
    memory.commit({"system/human.md": doc("The user", "Dana.\n").encode()}, "main moved", USER)
    racers = []
    real_commit = merge_module._Merge._commit

    def racing_commit(self, plan):
        if len(racers) < 3:
            racers.append(memory.commit({f"racer/{len(racers)}.md": doc("r", "r\n").encode()}, "racer", USER).commit)
        return real_commit(self, plan)

    monkeypatch.setattr(merge_module._Merge, "_commit", racing_commit)
    outcome = merge(memory, tree)
    assert outcome.attempts == 4 and len(racers) == 3
    assert all(is_ancestor(memory, c) for c in racers)
    assert (memory.path / "system/project.md").exists() and tracked_changes(memory) == ""
