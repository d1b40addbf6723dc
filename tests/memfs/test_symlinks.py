"""issue 11.1: no write, delete or clean-up reaches ``.git`` or leaves the work tree through a symbolic link.

Every shape of link (to ``.git``, to its files, to its hooks, to outside, chained, a tracked folder
replaced by a link, a link swapped in by a racing process) is tried against every way memory is written:
the user's save, the agent's memory tool (create, str_replace, insert, delete, rename incl. folder moves),
restore, and the clean-up of a failed commit. Each case checks that ``.git/config``, ``.git/HEAD``,
``.git/description`` and the hooks are byte-identical afterwards, that nothing outside the tree changed,
and that a ``core.fsmonitor`` payload (which would touch a marker file on the next git call) never ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from letta_ls.memfs.operations import MemoryOperations, MemoryToolError
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError, user_author
from tests.conftest import AGENT, SEED

REFUSALS = (MemoryToolError, UnsafePathError, MemoryRepoError)
HOOK = "#!/bin/sh\necho user hook\n"


class Sentinel:
    """The files an attack would overwrite or delete, with their bytes before it; a marker the payload touches."""

    def __init__(self, repo: MemoryRepo, outside: Path) -> None:
        self.repo = repo
        self.git = repo.path / ".git"
        self.outside = outside
        self.marker = outside.parent / "fsmonitor-ran"
        hook = self.git / "hooks" / "post-commit"
        hook.write_text(HOOK)
        hook.chmod(0o755)
        self.payload = f'[core]\n\tfsmonitor = "touch {self.marker}"\n'
        self.watched = [self.git / name for name in ("config", "HEAD", "description", "hooks/post-commit")]
        self.before = {p: p.read_bytes() for p in self.watched}
        self.git_entries = sorted(os.listdir(self.git))
        self.hook_entries = sorted(os.listdir(self.git / "hooks"))
        self.outside_before = sorted(os.listdir(outside))
        self.folders = [self.git, self.git / "hooks", outside]
        self.rearm()

    def rearm(self) -> None:
        """Take the folders' stamps again, after a test's own commits set the scene."""
        self.folder_stamps = [folder.stat().st_mtime_ns for folder in self.folders]

    def assert_untouched(self, *, nothing_committed: bool = True) -> None:
        """``nothing_committed``: the case only had refusals, so not even a file created and removed again
        (a write before the refusal, then its clean-up) may have touched ``.git``, its hooks or the outside."""
        if nothing_committed:
            stamps = [folder.stat().st_mtime_ns for folder in self.folders]
            assert stamps == self.folder_stamps, "something was written into .git, its hooks or outside, then removed"
        for path, data in self.before.items():
            assert path.exists(), f"{path} was deleted"
            assert path.read_bytes() == data, f"{path} was changed"
        assert sorted(os.listdir(self.git / "hooks")) == self.hook_entries
        new_in_git = set(os.listdir(self.git)) - set(self.git_entries) - {"letta-tmp", "letta-ls.lock", "index",
                                                                           "COMMIT_EDITMSG", "ORIG_HEAD", "logs"}
        assert not new_in_git, f"written into .git: {new_in_git}"
        assert sorted(os.listdir(self.outside)) == self.outside_before
        subprocess.run(["git", "status", "--porcelain"], cwd=self.repo.path, capture_output=True, check=False)
        assert not self.marker.exists(), "a core.fsmonitor payload ran"
        assert self.repo.run_git("rev-parse", "--abbrev-ref", "HEAD").strip() == b"main"


@pytest.fixture
def sentinel(tmp_path: Path) -> Sentinel:
    repo = MemoryRepo.create(tmp_path / "memory", {
        **SEED,
        "notes/a.md": "---\ndescription: a note\n---\nalpha\n",
        "notes/sub/b.md": "---\ndescription: b note\n---\nbeta\n",
        "hooked/config": "[core]\n\tbare = false\n",
        "hooked/HEAD": "ref: refs/heads/main\n",
    }, AGENT)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside the tree\n")
    return Sentinel(repo, outside)


def ops(repo: MemoryRepo, actor: str) -> MemoryOperations:
    return MemoryOperations(repo, user_author(repo.path) if actor == "user" else AGENT, actor=actor)  # type: ignore[arg-type]


# ------------------------------------------------------------------ link shapes planted in the work tree
def link_chains(sentinel: Sentinel) -> dict[str, list[tuple[str, str | Path]]]:
    """Each link shape as the links to make, (where, pointing to); the first one is the way in."""
    return {
        "dir_to_git": [("notes/gitlink", "../.git")],
        "dir_to_git_absolute": [("notes/gitlink", sentinel.git)],
        "dir_to_hooks": [("notes/gitlink", "../.git/hooks")],
        "dir_outside": [("notes/gitlink", sentinel.outside)],
        "chained": [("notes/gitlink", "hop2"), ("notes/hop2", "hop3"), ("notes/hop3", "../.git")],
        # a link to a folder inside memory that is itself a link to .git
        "chained_through_tree": [("system/gitlink", "../notes/hop"), ("notes/hop", "../.git")],
    }


def plant(sentinel: Sentinel, shape: str) -> str:
    """Plant one link shape; return the folder (or file) path in memory that now leads somewhere it must not."""
    links = link_chains(sentinel)[shape]
    for where, target in links:
        os.symlink(target, sentinel.repo.path / where)
    return links[0][0]


DIR_SHAPES = ["dir_to_git", "dir_to_git_absolute", "dir_to_hooks", "dir_outside", "chained", "chained_through_tree"]


def inner(shape: str, name: str) -> str:
    """The file inside the linked folder that the attack aims at."""
    if shape == "dir_to_hooks":
        return {"config": "post-commit", "HEAD": "pre-commit"}.get(name, name)
    return name


@pytest.mark.parametrize("shape", DIR_SHAPES)
@pytest.mark.parametrize("target", ["config", "HEAD", "hooks/post-commit", "description", "keep.txt"])
def test_user_save_through_a_linked_folder_is_refused_before_writing(sentinel, shape, target):
    folder = plant(sentinel, shape)
    path = f"{folder}/{inner(shape, target)}"
    with pytest.raises(REFUSALS) as err:
        ops(sentinel.repo, "user").write_file(path, sentinel.payload, reason="save")
    assert "link" in str(err.value)
    sentinel.assert_untouched()


@pytest.mark.parametrize("name", ["config", "HEAD", "hooks/post-commit", "description"])
@pytest.mark.parametrize("absolute", [False, True])
def test_user_save_onto_a_file_linked_to_git_is_refused(sentinel, name, absolute):
    link = sentinel.repo.path / "notes" / "linked.md"
    os.symlink(sentinel.git / name if absolute else f"../.git/{name}", link)
    with pytest.raises(REFUSALS) as err:
        ops(sentinel.repo, "user").write_file("notes/linked.md", sentinel.payload, reason="save")
    assert "link" in str(err.value)
    sentinel.assert_untouched()
    assert os.path.islink(link)


@pytest.mark.parametrize("shape", DIR_SHAPES)
@pytest.mark.parametrize("actor", ["agent", "user"])
def test_create_through_a_linked_folder_is_refused(sentinel, shape, actor):
    folder = plant(sentinel, shape)
    with pytest.raises(REFUSALS):
        ops(sentinel.repo, actor).create(f"{folder}/config.md", "payload", sentinel.payload, reason="create")
    with pytest.raises(REFUSALS):
        ops(sentinel.repo, actor).create(f"{folder}/new/deeper.md", "payload", sentinel.payload, reason="create")
    sentinel.assert_untouched()


# ------------------------------------------------------------------ a tracked folder replaced by a link
def replace_folder_with_link(sentinel: Sentinel, folder: str, target: str) -> None:
    path = sentinel.repo.path / folder
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()
    os.symlink(target, path)


def link_hooked(sentinel: Sentinel, kind: str) -> None:
    if kind == "to_git":
        replace_folder_with_link(sentinel, "hooked", ".git")
    elif kind == "outside":
        replace_folder_with_link(sentinel, "hooked", str(sentinel.outside))
    else:
        os.symlink(".git", sentinel.repo.path / "hop")
        replace_folder_with_link(sentinel, "hooked", "hop")


@pytest.mark.parametrize("kind", ["to_git", "outside", "chained"])
@pytest.mark.parametrize("actor", ["agent", "user"])
def test_str_replace_insert_delete_of_a_file_under_a_folder_swapped_for_a_link(sentinel, kind, actor):
    link_hooked(sentinel, kind)
    tool = ops(sentinel.repo, actor)
    with pytest.raises(REFUSALS):
        tool.str_replace("hooked/config", "bare = false", sentinel.payload, reason="edit")
    with pytest.raises(REFUSALS):
        tool.str_replace("hooked/HEAD", "ref: refs/heads/main", "garbage", reason="edit")
    with pytest.raises(REFUSALS):
        tool.delete("hooked/config", reason="delete")
    with pytest.raises(REFUSALS):
        tool.delete("hooked", reason="delete the folder")
    with pytest.raises(REFUSALS):
        tool.rename("hooked/config", "moved/config", reason="move")
    with pytest.raises(REFUSALS):
        tool.rename("hooked", "elsewhere", reason="move the folder")
    sentinel.assert_untouched()


@pytest.mark.parametrize("kind", ["to_git", "outside", "chained"])
def test_insert_under_a_folder_swapped_for_a_link(sentinel, kind):
    repo = sentinel.repo
    ops(repo, "user").write_file("linked/config.md", "---\ndescription: c\n---\nbody\n", reason="add")
    (repo.path / "linked" / "config.md").unlink()
    (repo.path / "linked").rmdir()
    os.symlink({"to_git": ".git", "outside": str(sentinel.outside), "chained": "hop"}[kind], repo.path / "linked")
    if kind == "chained":
        os.symlink(".git", repo.path / "hop")
    sentinel.rearm()
    with pytest.raises(REFUSALS):
        ops(repo, "agent").insert("linked/config.md", 0, sentinel.payload, reason="edit")
    assert not (sentinel.git / "config.md").exists()
    sentinel.assert_untouched()


@pytest.mark.parametrize("shape", DIR_SHAPES)
@pytest.mark.parametrize("actor", ["agent", "user"])
def test_rename_into_a_linked_folder_is_refused(sentinel, shape, actor):
    folder = plant(sentinel, shape)
    tool = ops(sentinel.repo, actor)
    with pytest.raises(REFUSALS):
        tool.rename("notes/a.md", f"{folder}/config.md", reason="move")
    with pytest.raises(REFUSALS):
        tool.rename("notes/sub", f"{folder}/sub", reason="move the folder")
    sentinel.assert_untouched()
    assert tool.view("notes/a.md").endswith("alpha")
    assert (sentinel.repo.path / "notes" / "a.md").read_text().endswith("alpha\n")


@pytest.mark.parametrize("kind", ["to_git", "outside", "chained"])
def test_restore_through_a_folder_swapped_for_a_link(sentinel, kind):
    repo = sentinel.repo
    old = repo.head()
    ops(repo, "user").delete("hooked", reason="drop it")
    os.makedirs(repo.path / "hooked", exist_ok=True)
    link_hooked(sentinel, kind)
    sentinel.rearm()
    with pytest.raises(REFUSALS):
        repo.restore(old, user_author(repo.path))
    sentinel.assert_untouched()


def test_deleting_a_committed_link_removes_only_the_link(sentinel):
    plant(sentinel, "dir_to_git")
    repo = sentinel.repo
    subprocess.run(["git", "add", "notes/gitlink"], cwd=repo.path, check=True)
    subprocess.run(["git", "-c", "user.name=U", "-c", "user.email=u@x", "commit", "-qm", "a link"], cwd=repo.path,
                   check=True)
    result = ops(repo, "user").delete("notes/gitlink", reason="remove the stray link")
    assert result.paths == ("notes/gitlink",)
    assert not os.path.lexists(repo.path / "notes" / "gitlink")
    sentinel.assert_untouched(nothing_committed=False)


def test_a_failed_commit_cleans_up_without_following_a_link(sentinel, monkeypatch):
    """The clean-up after a failing ``git commit`` deletes what the change added: never through a link that a
    racing process planted meanwhile."""
    repo = sentinel.repo
    real_git = repo._git

    def failing_git(*args, **kwargs):
        if args[0] in ("commit", "commit-tree"):  # whichever makes the commit
            # the folder the write went into is swapped for a link to .git before the clean-up runs
            folder = repo.path / "fresh"
            shutil.rmtree(folder)
            os.symlink(".git", folder)
            raise MemoryRepoError("git commit failed: simulated")
        return real_git(*args, **kwargs)

    monkeypatch.setattr(repo, "_git", failing_git)
    with pytest.raises(MemoryRepoError):
        repo.commit({"fresh/config": b"x", "fresh/description": b"y", "fresh/hooks/post-commit": b"z"}, "add",
                     user_author(repo.path))
    sentinel.assert_untouched(nothing_committed=False)  # `git add` ran: the index in .git changed


# ------------------------------------------------------------------ a link swapped in by a racing process
RACER = r"""
import os, sys, time
root, git, stop = sys.argv[1], sys.argv[2], sys.argv[3]
race = os.path.join(root, "race")
n = 0
while not os.path.exists(stop):
    n += 1
    try:
        os.rename(race, os.path.join(root, f"parked-{n}"))
    except OSError:
        pass
    try:
        os.symlink(git, race)
    except OSError:
        pass
    time.sleep(0.0005)
    try:
        os.unlink(race)
    except OSError:
        pass
    try:
        os.mkdir(race)
    except OSError:
        pass
"""


def test_a_link_swapped_in_by_a_racing_process_never_redirects_a_write(sentinel):
    repo = sentinel.repo
    stop = repo.path.parent / "stop-racing"
    (repo.path / "race").mkdir()
    racer = subprocess.Popen([sys.executable, "-c", RACER, str(repo.path), str(sentinel.git), str(stop)])
    tool = ops(repo, "user")
    written = refused = 0
    try:
        deadline = time.monotonic() + 6
        i = 0
        while time.monotonic() < deadline or i < 60:
            i += 1
            name = ["config", "HEAD", "description", "hooks/post-commit"][i % 4]
            try:
                tool.write_file(f"race/{name}", sentinel.payload + f"# {i}\n", reason=f"save {i}")
                written += 1
            except REFUSALS:
                refused += 1
            if i >= 400:
                break
    finally:
        stop.touch()
        racer.wait(timeout=30)
    assert written + refused == i
    assert refused > 0, "the racer never got a link in place: the test proved nothing"
    sentinel.assert_untouched(nothing_committed=False)
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=repo.path, capture_output=True).returncode == 0


# ------------------------------------------------------------------ a merge landing through a link
@pytest.mark.parametrize("kind", ["to_git", "outside", "chained"])
def test_a_merge_landing_moves_a_linked_folder_aside_instead_of_writing_through_it(sentinel, kind):
    """``advance_branch`` (how a dream's or a sync's merge lands) brings ``hooked/config`` and
    ``hooked/HEAD`` to the merged commit: the link standing where the folder was is kept aside, never
    written through nor deleted through."""
    from letta_ls.memfs.checkout import advance_branch

    repo = sentinel.repo
    old = repo.head()
    repo.run_git("branch", "-f", "side", old)
    wt = repo.path.parent / "side-wt"
    repo.run_git("worktree", "add", "-q", str(wt), "side")
    MemoryRepo(wt).commit({"hooked/config": sentinel.payload.encode(), "hooked/HEAD": None}, "merged", AGENT)
    new = repo.run_git("rev-parse", "side").decode().strip()
    repo.run_git("worktree", "remove", "--force", str(wt))
    link_hooked(sentinel, kind)
    sentinel.rearm()
    with repo.locked():
        result = advance_branch(repo, old, new)
    assert [m.path for m in result.moved_aside] == ["hooked"]
    assert os.path.islink(repo.path / result.moved_aside[0].aside)
    assert (repo.path / "hooked" / "config").read_text() == sentinel.payload  # a plain memory file now
    sentinel.assert_untouched(nothing_committed=False)
