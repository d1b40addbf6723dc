"""issue 11.6: every change is a commit on ``main``, also when someone left ``HEAD`` detached.

Where it is safe (the detached commit is main's commit, or main is its ancestor) the write reattaches
``HEAD`` to main (fast-forwarding main); otherwise it is refused with a message saying how to fix it, and
nothing changes. Checked through the core (the memory tool) and the CLI (real processes), each time by
checking ``main`` out afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError, user_author
from tests.conftest import AGENT


def git(repo_path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo_path, capture_output=True, text=True, check=True).stdout.strip()


def state(repo_path: Path) -> tuple[str, str, str, str]:
    """(HEAD file, main, porcelain status, every tracked file's bytes hashed): all a refusal must leave alone."""
    head = (repo_path / ".git" / "HEAD").read_text()
    return head, git(repo_path, "rev-parse", "main"), git(repo_path, "status", "--porcelain"), \
        git(repo_path, "ls-files", "-s")


def on_main_after_checkout(repo_path: Path, path: str) -> str:
    git(repo_path, "checkout", "-q", "main")
    assert git(repo_path, "symbolic-ref", "HEAD") == "refs/heads/main"
    return (repo_path / path).read_text()


def test_a_write_on_a_detached_head_at_main_lands_on_main(repo):
    git(repo.path, "checkout", "-q", "--detach")
    result = MemoryOperations(repo, AGENT).create("notes/detached.md", "written detached", "kept", reason="write")
    assert git(repo.path, "rev-parse", "main") == result.commit
    assert git(repo.path, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert "kept" in on_main_after_checkout(repo.path, "notes/detached.md")


def test_commits_made_on_a_detached_head_ahead_of_main_are_brought_onto_main(repo):
    git(repo.path, "checkout", "-q", "--detach")
    (repo.path / "notes").mkdir()
    (repo.path / "notes" / "by-hand.md").write_text("---\ndescription: by hand\n---\nhand\n")
    git(repo.path, "add", "-A")
    git(repo.path, "-c", "user.name=U", "-c", "user.email=u@x", "commit", "-qm", "by hand, detached")
    by_hand = git(repo.path, "rev-parse", "HEAD")
    result = MemoryOperations(repo, AGENT).create("notes/tool.md", "by the tool", "tool", reason="write")
    assert git(repo.path, "rev-parse", "main") == result.commit
    assert git(repo.path, "rev-parse", "main~1") == by_hand
    assert "tool" in on_main_after_checkout(repo.path, "notes/tool.md")
    assert "hand" in (repo.path / "notes" / "by-hand.md").read_text()


def test_a_write_on_a_detached_head_behind_main_is_refused_and_changes_nothing(repo):
    MemoryOperations(repo, AGENT).create("notes/newer.md", "newer", "newer", reason="one more commit")
    git(repo.path, "checkout", "-q", "--detach", "HEAD~1")
    before = state(repo.path)
    with pytest.raises(MemoryRepoError) as err:
        MemoryOperations(repo, AGENT).create("notes/lost.md", "would be lost", "lost", reason="write")
    message = str(err.value)
    assert "detached" in message and "git -C" in message and "switch main" in message and "nothing" in message
    assert state(repo.path) == before
    assert not (repo.path / "notes" / "lost.md").exists()
    git(repo.path, "checkout", "-q", "main")
    assert not (repo.path / "notes" / "lost.md").exists()


def test_a_write_with_another_branch_checked_out_is_refused(repo):
    git(repo.path, "checkout", "-q", "-b", "elsewhere")
    before = state(repo.path)
    with pytest.raises(MemoryRepoError) as err:
        repo.commit({"notes/x.md": b"x\n"}, "write", user_author(repo.path))
    assert "elsewhere" in str(err.value) and "switch main" in str(err.value)
    assert state(repo.path) == before


def test_a_subagent_worktree_on_its_own_branch_still_commits(repo, tmp_path):
    wt = tmp_path / "wt"
    git(repo.path, "worktree", "add", "-q", "-b", "dream/1", str(wt))
    worktree = MemoryRepo(wt)
    result = worktree.commit({"notes/dreamt.md": b"dreamt\n"}, "dream", AGENT)
    assert git(wt, "rev-parse", "dream/1") == result.commit
    assert git(repo.path, "symbolic-ref", "HEAD") == "refs/heads/main"


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LETTA_LS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_write_on_a_detached_head_lands_on_main(isolated_environment):
    agent = Home(isolated_environment).current_agent()
    memory = agent.memory_dir
    first = git(memory, "rev-list", "--max-parents=0", "HEAD")
    (memory / "system" / "extra.md").parent.mkdir(exist_ok=True)
    repo = MemoryRepo(memory)
    repo.commit({"system/extra.md": b"---\ndescription: extra\n---\nextra\n"}, "add extra", user_author(memory))
    git(memory, "checkout", "-q", "--detach")
    proc = cli(isolated_environment, "memory", "restore", first)
    assert proc.returncode == 0, proc.stderr
    assert git(memory, "symbolic-ref", "HEAD") == "refs/heads/main"
    git(memory, "checkout", "-q", "main")
    assert "restore" in git(memory, "log", "-1", "--format=%s", "main")
    assert not (memory / "system" / "extra.md").exists()


def test_cli_write_on_a_detached_head_behind_main_is_refused_clearly(isolated_environment):
    agent = Home(isolated_environment).current_agent()
    memory = agent.memory_dir
    first = git(memory, "rev-list", "--max-parents=0", "HEAD")
    MemoryRepo(memory).commit({"system/extra.md": b"---\ndescription: extra\n---\nextra\n"}, "add extra",
                              user_author(memory))
    git(memory, "checkout", "-q", "--detach", "HEAD~1")
    before = state(memory)
    proc = cli(isolated_environment, "memory", "restore", first)
    assert proc.returncode == 2
    assert "detached" in proc.stderr and "switch main" in proc.stderr and "Traceback" not in proc.stderr
    assert state(memory) == before
