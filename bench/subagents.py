"""A subagent's round trip measured against the same operations done with raw git commands, in the same run.

One round: create a worktree on a new branch from main, make three memory commits in it, (main moves on
another file meanwhile: untimed, the same raw ``git commit`` for both), merge the branch into main (a
real merge commit, since main moved), remove the worktree and the branch.

* **ours**: ``Worktrees.create`` + ``MemoryOperations.write_file`` ×3 (with the doctor's guard, as a
  subagent's memory tool runs) + ``merge_into`` + ``Worktrees.remove``.
* **floor**: ``git worktree add -b`` + (write, ``git add``, ``git commit``) ×3 + ``git merge --no-edit`` in
  main's work tree + ``git worktree remove`` + ``git branch -D``: the least git can do for the same result
  (it does not save the user's edits first, move untracked files aside, journal the move, or keep both
  sides of a conflict).

Rounds alternate between two copies of the same memory. Also given: the merge step alone, ours against
``git merge``. Target: the round ≤ 1.5x the floor.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from letta_ls.doctor.guard import memory_change_guard
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.settings import MemorySettings
from letta_ls.subagents.merge import merge_into
from letta_ls.subagents.worktrees import Worktrees

AUTHOR = Author("Bench", "bench@letta-ls.local")
ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@letta-ls.local",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@letta-ls.local"}
EDITED = ("reference/testing/note-1.md", "reference/deploy/note-2.md", "reference/api/note-3.md")
MAIN_PATH = "system/human.md"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, env=ENV, capture_output=True,
                   check=True)


def main_moves(repo: Path, i: int, files: dict[str, str]) -> None:
    (repo / MAIN_PATH).write_text(files[MAIN_PATH] + f"Round {i}: the user prefers tabs.\n")
    git(repo, "add", "--", MAIN_PATH)
    git(repo, "commit", "-q", "-m", f"user {i}")


def round_ours(repo: MemoryRepo, trees: Worktrees, files: dict[str, str], i: int) -> tuple[float, float]:
    guard = memory_change_guard(MemorySettings())
    start = time.perf_counter()
    tree = trees.create("dream")
    ops = MemoryOperations(trees.open(tree), AUTHOR, guard=guard)
    for n, path in enumerate(EDITED):
        ops.write_file(path, files[path] + f"\nRound {i}, lesson {n}.\n", reason=f"lesson {n}")
    pause = time.perf_counter()
    main_moves(repo.path, i, files)
    resume = time.perf_counter()
    merge_into(repo, tree.ref, message=f"merge(dream): round {i}", author=AUTHOR, label=tree.branch)
    merged = time.perf_counter()
    trees.remove(tree)
    end = time.perf_counter()
    return (pause - start) + (end - resume), merged - resume


def round_floor(repo: Path, root: Path, files: dict[str, str], i: int) -> tuple[float, float]:
    branch, path = f"letta/dream/floor-{i}", root / f"floor-{i}"
    start = time.perf_counter()
    git(repo, "worktree", "add", "-q", "-b", branch, str(path))
    for n, edited in enumerate(EDITED):
        (path / edited).write_text(files[edited] + f"\nRound {i}, lesson {n}.\n")
        git(path, "add", "--", edited)
        git(path, "commit", "-q", "-m", f"lesson {n}")
    pause = time.perf_counter()
    main_moves(repo, i, files)
    resume = time.perf_counter()
    git(repo, "merge", "-q", "--no-edit", branch)
    merged = time.perf_counter()
    git(repo, "worktree", "remove", "--force", str(path))
    git(repo, "branch", "-D", "-q", branch)
    end = time.perf_counter()
    return (pause - start) + (end - resume), merged - resume


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    ours_repo = MemoryRepo.create(tmp / "subagents-ours" / "memory", files, AUTHOR)
    floor_dir = tmp / "subagents-floor" / "memory"
    shutil.copytree(ours_repo.path, floor_dir, symlinks=True)
    trees = Worktrees(ours_repo, ours_repo.path.parent / "memory-worktrees")
    floor_root = floor_dir.parent / "memory-worktrees"
    floor_root.mkdir()
    rounds = 3 if quick else 12
    ours, floor, ours_merge, floor_merge = [], [], [], []
    round_ours(ours_repo, trees, files, -1)  # warm caches and the page cache for both
    round_floor(floor_dir, floor_root, files, -1)
    for i in range(rounds):
        whole, merge = round_floor(floor_dir, floor_root, files, i)
        floor.append(whole)
        floor_merge.append(merge)
        whole, merge = round_ours(ours_repo, trees, files, i)
        ours.append(whole)
        ours_merge.append(merge)
    ratio = statistics.median(ours) / statistics.median(floor)
    merge_ratio = statistics.median(ours_merge) / statistics.median(floor_merge)
    return [
        {"name": "subagent round trip: worktree, 3 commits, merge into a moved main, cleanup",
         "median_ms": ms(ours), "floor_median_ms": ms(floor), "ratio": round(ratio, 2), "target_ratio": 1.5,
         "meets_target": ratio <= 1.5},
        {"name": "subagent merge into a moved main (the merge step alone)", "median_ms": ms(ours_merge),
         "floor_median_ms": ms(floor_merge), "ratio": round(merge_ratio, 2)},
    ]
