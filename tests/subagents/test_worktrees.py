"""Worktrees: a private branch of memory per run, removed after, and salvaged when a crash leaves one."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest

from letta_ls.memfs.operations import MemoryOperations
from letta_ls.subagents.worktrees import UnmergedWorkError, Worktrees
from tests.subagents.helpers import AGENT, DREAM, branch_with, doc, fsck, git, is_ancestor, tracked_changes


def test_a_worktree_is_a_memory_repo_on_its_own_branch_that_leaves_main_alone(memory, trees):
    head = memory.head()
    tree = trees.create("dream")
    assert tree.path.parent == trees.root and tree.path.name == tree.run_id and tree.run_id.startswith("dream-")
    assert tree.branch == f"letta/dream/{tree.run_id}" and tree.base == head
    wt = trees.open(tree)
    assert wt.head() == head and wt.head_ref() == tree.ref
    result = MemoryOperations(wt, DREAM).create("system/lesson.md", "A lesson", "Run tests first.", reason="learned")
    assert wt.head() == result.commit and wt.history(limit=1)[0].message == "learned"
    assert wt.read("system/lesson.md").text.endswith("Run tests first.\n")
    assert memory.head() == head and not (memory.path / "system/lesson.md").exists()
    assert trees.unmerged(tree) == [result.commit]
    assert [t.run_id for t in trees.list()] == [tree.run_id]


def test_a_worktree_commits_while_the_main_agent_holds_its_lock(memory, trees):
    tree = trees.create("dream")
    wt = trees.open(tree)
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_main() -> None:
        with memory.locked():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_main)
    holder.start()
    held.wait(10)
    worker = threading.Thread(target=lambda: (wt.commit({"a.md": doc("a", "a\n").encode()}, "a", DREAM), done.set()))
    worker.start()
    finished = done.wait(20)
    release.set()
    holder.join()
    worker.join()
    assert finished, "a worktree commit waited for main's writer lock"


def test_remove_deletes_worktree_and_branch_but_refuses_to_drop_unmerged_work(memory, trees):
    tree = branch_with(trees, {"a.md": doc("a", "a\n")})
    with pytest.raises(UnmergedWorkError, match="1 commit"):
        trees.remove(tree)
    assert tree.path.exists() and tree.branch in trees.branches()
    trees.remove(tree, discard=True)
    assert not tree.path.exists() and trees.branches() == {} and trees.list() == []


def test_stray_untracked_files_in_a_worktree_never_block_its_removal(memory, trees):
    tree = trees.create("defrag")
    (tree.path / "scratch.txt").write_text("left by a tool")
    (tree.path / "system" / "half-written.md").write_text("an uncommitted edit")
    trees.remove(tree)
    assert not tree.path.exists() and trees.branches() == {}


def test_a_run_kind_must_be_a_plain_name(trees):
    for bad in ("", "Dream", "../x", "a/b", "-x"):
        with pytest.raises(ValueError):
            trees.create(bad)


def test_recover_salvages_a_crashed_worktree_with_commits_and_removes_empty_ones(memory, trees):
    crashed = branch_with(trees, {"system/lesson.md": doc("A lesson", "Prefer small commits.\n")})
    work = git(memory, "rev-parse", crashed.ref).strip()
    (crashed.path / "stray.tmp").write_text("junk")
    empty = trees.create("dream")
    memory.commit({"system/human.md": doc("User", "Dana.\n").encode()}, "main moved on", AGENT)
    done = {item.run_id: item for item in Worktrees(memory, trees.root).recover(AGENT)}
    assert done[crashed.run_id].action == "salvaged" and done[crashed.run_id].commits == 1
    assert done[crashed.run_id].outcome.kind == "merged"
    assert done[empty.run_id].action == "removed"
    assert is_ancestor(memory, work)
    assert (memory.path / "system/lesson.md").read_text().endswith("Prefer small commits.\n")
    assert "salvage the work of interrupted run" in git(memory, "log", "-1", "--format=%s")
    assert trees.list() == [] and trees.branches() == {} and not crashed.path.exists()
    assert tracked_changes(memory) == ""
    fsck(memory)


def test_recover_salvages_a_branch_whose_worktree_folder_was_deleted(memory, trees):
    tree = branch_with(trees, {"reference/api.md": doc("API", "v2\n")})
    shutil.rmtree(tree.path)
    done = trees.recover(AGENT)
    assert [(d.branch, d.action) for d in done] == [(tree.branch, "salvaged")]
    assert (memory.path / "reference/api.md").exists() and trees.branches() == {}
    assert git(memory, "worktree", "list").count("\n") == 1


def test_recover_deletes_folders_git_never_registered(memory, trees):
    (trees.root / "dream-20260101-000000-deadbeef" / "system").mkdir(parents=True)
    (trees.root / ".runner.lock").write_text("")
    done = trees.recover(AGENT)
    assert [d.action for d in done] == ["removed"]
    assert [p.name for p in trees.root.iterdir()] == [".runner.lock"]


def test_recover_salvages_letta_code_reflection_worktrees_too(memory, trees):
    path = trees.root / "reflection-20260101000000-abcdef12"
    git(memory, "worktree", "add", "-q", "-b", "letta/reflection/abcdef12", str(path))
    wt = type(memory)(path)
    wt.commit({"system/reflection.md": doc("Reflection", "learned\n").encode()}, "reflect", DREAM)
    done = trees.recover(AGENT)
    assert [d.action for d in done] == ["salvaged"]
    assert (memory.path / "system/reflection.md").exists()


def test_recover_leaves_a_letta_branch_checked_out_in_the_users_own_worktree_alone(memory, trees, tmp_path):
    own = tmp_path / "my-own-worktree"
    git(memory, "worktree", "add", "-q", "-b", "letta/mine/experiment", str(own))
    type(memory)(own).commit({"mine.md": doc("mine", "x\n").encode()}, "mine", DREAM)
    assert trees.recover(AGENT) == []
    assert own.exists() and "letta/mine/experiment" in trees.branches()
    assert not (memory.path / "mine.md").exists()


def break_like_a_killed_worktree_add(memory, trees):
    """`git worktree add` writes the new worktree's HEAD as the null id before it checks anything out: a kill
    in between leaves an admin entry whose HEAD points at nothing, which makes `git fetch` and `git fsck` fail."""
    tree = trees.create("dream")
    admin = memory.common_dir / "worktrees" / tree.run_id
    (admin / "HEAD").write_text("0" * 40 + "\n")
    return tree, admin


def test_recover_drops_a_worktree_whose_head_points_at_nothing(memory, trees):
    tree, admin = break_like_a_killed_worktree_add(memory, trees)
    trees.recover(AGENT)
    assert not admin.exists() and not tree.path.exists()
    fsck(memory)


def test_a_sync_after_a_killed_worktree_add_succeeds(memory, trees, tmp_path):
    from letta_ls.sync.memory_sync import sync_memory
    from tests.sync.remotes import bare_repository

    bare = bare_repository(tmp_path / "remote.git")
    sync_memory(memory, str(bare), author=AGENT, backups_dir=tmp_path / "backups")
    other = tmp_path / "other"  # another machine pushes, so this sync has something to fetch
    subprocess.run(["git", "clone", "-q", str(bare), str(other)], check=True)
    (other / "notes.md").write_text("---\ndescription: Notes\n---\nfrom the other machine\n")
    subprocess.run(["git", "-C", str(other), "add", "notes.md"], check=True)
    subprocess.run(["git", "-C", str(other), "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "n"],
                   check=True)
    subprocess.run(["git", "-C", str(other), "push", "-q", "origin", "HEAD:main"], check=True)
    break_like_a_killed_worktree_add(memory, trees)
    result = sync_memory(memory, str(bare), author=AGENT, backups_dir=tmp_path / "backups")
    assert result.head == memory.head()
    fsck(memory)
