"""Helpers for the subagent tests: real repositories, worktrees with commits, and checks of what git holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.subagents.worktrees import Worktree, Worktrees

AGENT = Author("Test Agent", "agent-test@letta-ls.local")
DREAM = Author("Dreamer", "agent-test@letta-ls.local")
USER = Author("Dana", "dana@example.com")


def doc(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}"


LINES = "".join(f"line {n}\n" for n in range(1, 11))
NOTES = doc("Project notes", LINES)


def git(repo: MemoryRepo | Path, *args: str) -> str:
    cwd = repo.path if isinstance(repo, MemoryRepo) else repo
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def fsck(repo: MemoryRepo) -> None:
    out = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=repo.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def tracked_changes(repo: MemoryRepo) -> str:
    """``git status`` of tracked files: empty when the work tree and the index match HEAD."""
    return git(repo, "status", "--porcelain", "--untracked-files=no")


def on_disk(repo: MemoryRepo, path: str) -> str:
    return (repo.path / path).read_text(encoding="utf-8")


def committed(repo: MemoryRepo, path: str, rev: str = "HEAD") -> str:
    return MemoryRepo(repo.path).read(path, rev).text or ""


def is_ancestor(repo: MemoryRepo, commit: str, of: str = "HEAD") -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", commit, of], cwd=repo.path).returncode == 0


def branch_with(trees: Worktrees, changes: dict[str, bytes | str | None], message: str = "dream: a lesson",
                kind: str = "dream") -> Worktree:
    """A worktree whose branch holds one commit with ``changes``."""
    tree = trees.create(kind)
    data = {p: (c.encode() if isinstance(c, str) else c) for p, c in changes.items()}
    trees.open(tree).commit(data, message, DREAM)
    return tree
