"""Moving a branch and its work tree: compare-and-swap, nothing on disk overwritten, crashes finished on reopen."""

from __future__ import annotations

import subprocess

import pytest

from letta_ls.memfs import checkout
from letta_ls.memfs.checkout import ADVANCE_JOURNAL, BranchMovedError, advance_branch
from letta_ls.memfs.repo import Author, MemoryRepo

AUTHOR = Author("t", "t@x")


class Crash(BaseException):
    """Stands for the process dying: nothing catches it, nothing cleans up after it."""


def status(repo: MemoryRepo) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo.path,
                          capture_output=True, text=True, check=True).stdout


def side_commit(repo: MemoryRepo, changes: dict[str, bytes | None]) -> tuple[str, str]:
    """A commit on top of HEAD made without touching the work tree (as a merge builds one): (old, new)."""
    old = repo.head()
    assert old is not None
    repo.run_git("branch", "-f", "side", old)
    wt = repo.path.parent / "side-wt"
    repo.run_git("worktree", "add", "-q", str(wt), "side")
    MemoryRepo(wt).commit(changes, "side change", AUTHOR)
    new = repo.run_git("rev-parse", "side").decode().strip()
    repo.run_git("worktree", "remove", "--force", str(wt))
    return old, new


def test_advance_moves_the_branch_and_exactly_the_changed_files(repo):
    (repo.path / "untouched-scratch.txt").write_text("mine")
    old, new = side_commit(repo, {"system/new.md": b"---\ndescription: n\n---\nnew\n", "system/human.md": None})
    with repo.locked():
        result = advance_branch(repo, old, new)
    assert repo.head() == new and result.paths == ("system/human.md", "system/new.md")
    assert not (repo.path / "system/human.md").exists()
    assert (repo.path / "system/new.md").read_text().endswith("new\n")
    assert (repo.path / "untouched-scratch.txt").read_text() == "mine"
    assert status(repo) == "" and not (repo.git_dir / ADVANCE_JOURNAL).exists()


def test_advance_refuses_when_the_branch_moved_and_changes_nothing(repo):
    old, new = side_commit(repo, {"system/new.md": b"---\ndescription: n\n---\nnew\n"})
    repo.commit({"other.md": b"---\ndescription: o\n---\no\n"}, "someone else", AUTHOR)
    with repo.locked(), pytest.raises(BranchMovedError):
        advance_branch(repo, old, new)
    assert not (repo.path / "system/new.md").exists() and status(repo) == ""


def test_a_crash_after_the_ref_moved_is_rolled_forward_on_reopen(repo, monkeypatch):
    old, new = side_commit(repo, {"system/human.md": b"---\ndescription: h\n---\nafter\n",
                                  "system/added.md": b"---\ndescription: a\n---\nadded\n"})

    def die(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(checkout, "_bring_work_tree", die)
    with pytest.raises(Crash), repo.locked():
        advance_branch(repo, old, new)
    monkeypatch.undo()
    assert repo.head() == new and (repo.git_dir / ADVANCE_JOURNAL).exists()
    assert not (repo.path / "system/added.md").exists()  # the crash left the work tree behind HEAD
    reopened = MemoryRepo(repo.path)
    reopened.recover()
    assert (repo.path / "system/human.md").read_text().endswith("after\n")
    assert (repo.path / "system/added.md").exists()
    assert status(reopened) == "" and not (repo.git_dir / ADVANCE_JOURNAL).exists()


def test_a_crash_halfway_through_the_files_is_rolled_forward(repo, monkeypatch):
    old, new = side_commit(repo, {f"f{i}.md": f"---\ndescription: {i}\n---\n{i}\n".encode() for i in range(5)})
    written = []
    real = MemoryRepo._apply_to_worktree

    def write_two_then_die(self, changes):
        if len(written) == 2:
            raise Crash()
        written.append(changes)
        real(self, changes)

    monkeypatch.setattr(MemoryRepo, "_apply_to_worktree", write_two_then_die)
    with pytest.raises(Crash), repo.locked():
        advance_branch(repo, old, new)
    monkeypatch.undo()
    assert sum((repo.path / f"f{i}.md").exists() for i in range(5)) == 2
    reopened = MemoryRepo(repo.path)
    reopened.commit({"later.md": b"---\ndescription: l\n---\nl\n"}, "the next write finishes it first", AUTHOR)
    assert all((repo.path / f"f{i}.md").exists() for i in range(5))
    assert status(reopened) == ""


def test_a_crash_before_the_ref_moved_is_rolled_back(repo, monkeypatch):
    old, new = side_commit(repo, {"system/human.md": b"---\ndescription: h\n---\nafter\n"})
    real = MemoryRepo.run_git

    def die_on_update_ref(self, *args, **kwargs):
        if args[0] == "update-ref":
            raise Crash()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MemoryRepo, "run_git", die_on_update_ref)
    with pytest.raises(Crash), repo.locked():
        advance_branch(repo, old, new)
    monkeypatch.undo()
    before = (repo.path / "system/human.md").read_text()
    assert (repo.git_dir / ADVANCE_JOURNAL).exists()
    MemoryRepo(repo.path).recover()
    assert repo.head() == old and (repo.path / "system/human.md").read_text() == before
    assert not (repo.git_dir / ADVANCE_JOURNAL).exists() and status(repo) == ""


def test_an_edit_made_between_the_crash_and_the_recovery_is_kept_aside(repo, monkeypatch):
    old, new = side_commit(repo, {"system/human.md": b"---\ndescription: h\n---\nmerged\n"})
    monkeypatch.setattr(checkout, "_bring_work_tree", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash), repo.locked():
        advance_branch(repo, old, new)
    monkeypatch.undo()
    (repo.path / "system/human.md").write_text("typed after the crash")
    MemoryRepo(repo.path).recover()
    asides = [p for p in (repo.path / "system").iterdir() if ".moved-aside-" in p.name]
    assert [p.read_text() for p in asides] == ["typed after the crash"]
    assert (repo.path / "system/human.md").read_text().endswith("merged\n") and status(repo) == ""


def test_changed_path_names_is_what_the_watcher_announces(repo, tmp_path):
    first = repo.head()
    second = repo.commit({"reference/a.md": b"a\n", "system/human.md": None}, "two changes", AUTHOR).commit
    assert checkout.changed_path_names(repo, first, second) == ["reference/a.md", "system/human.md"]
    # nothing announced yet: every file of the commit, with no hard-coded empty-tree id (SHA-256 repositories too)
    assert checkout.changed_path_names(repo, None, second) == ["reference/a.md", "system/persona.md"]
    other = MemoryRepo.create(tmp_path / "other", {"x.md": "x\n"}, AUTHOR)
    assert checkout.changed_path_names(repo, other.head(), second) == ["reference/a.md", "system/persona.md"]
