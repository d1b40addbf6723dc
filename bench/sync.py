"""A memory sync measured against the same exchange done with raw git commands, in the same run.

One round: another machine pushed a commit to the remote and this machine made one on another file
(both untimed, the same raw git for both sides); then this machine syncs: learns the remote's main,
fetches it, merges it (a real merge commit, both sides moved) and pushes the result.

* **ours**: ``sync_memory`` (``git ls-remote``, a fetch into the private ref, ``merge_into`` with its
  compare-and-swap, a fast-forward-only push, the bookkeeping refs).
* **floor**: ``git fetch <url> main`` + ``git merge --no-edit FETCH_HEAD`` + ``git push <url> HEAD:main``:
  the least git does for the same result (no backup check, no saved edits, no journal, no retry).

The remote is a bare repository on this disk, so the figure is letta-ls' own cost, not the network's.
Also given: a sync with nothing new, against a ``git fetch`` that finds nothing (one connection to the
remote for both; on a real network that connection is the whole cost). Target: the round ≤ 1.5x the floor.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.sync.memory_sync import sync_memory

AUTHOR = Author("Bench", "bench@letta-ls.local")
ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@letta-ls.local",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@letta-ls.local"}
LOCAL_PATH = "system/human.md"
PEER_PATH = "reference/peer.md"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, env=ENV, capture_output=True,
                   check=True)


def commit(repo: Path, path: str, text: str, message: str) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(repo, "add", "--", path)
    git(repo, "commit", "-q", "-m", message)


def both_move(local: Path, peer: Path, files: dict[str, str], i: int) -> None:
    """Untimed: the peer pushes a commit, and this machine commits on another file."""
    commit(peer, PEER_PATH, f"---\ndescription: from the peer\n---\nRound {i}.\n", f"peer {i}")
    git(peer, "push", "-q", "origin", "HEAD:main")
    commit(local, LOCAL_PATH, files[LOCAL_PATH] + f"Round {i}: the user prefers tabs.\n", f"local {i}")


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def setup(tmp: Path, name: str, files: dict[str, str]) -> tuple[MemoryRepo, Path, Path]:
    root = tmp / f"sync-{name}"
    repo = MemoryRepo.create(root / "memory", files, AUTHOR)
    bare = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(repo.path, "push", "-q", str(bare), "HEAD:refs/heads/main")
    peer = root / "peer"
    subprocess.run(["git", "clone", "-q", str(bare), str(peer)], check=True, capture_output=True)
    return repo, bare, peer


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    files = {**files, LOCAL_PATH: files.get(LOCAL_PATH, "---\ndescription: the user\n---\nDana.\n")}
    ours_repo, ours_remote, ours_peer = setup(tmp, "ours", files)
    floor_repo, floor_remote, floor_peer = setup(tmp, "floor", files)
    backups = tmp / "sync-backups"
    sync_memory(ours_repo, str(ours_remote), author=AUTHOR, backups_dir=backups)  # warm up both
    git(floor_repo.path, "fetch", "-q", str(floor_remote), "main")
    rounds = 3 if quick else 12
    ours, floor, idle_ours, idle_floor = [], [], [], []
    for i in range(rounds):
        both_move(floor_repo.path, floor_peer, files, i)
        start = time.perf_counter()
        git(floor_repo.path, "fetch", "-q", str(floor_remote), "main")
        git(floor_repo.path, "merge", "-q", "--no-edit", "FETCH_HEAD")
        git(floor_repo.path, "push", "-q", str(floor_remote), "HEAD:refs/heads/main")
        floor.append(time.perf_counter() - start)

        both_move(ours_repo.path, ours_peer, files, i)
        start = time.perf_counter()
        result = sync_memory(ours_repo, str(ours_remote), author=AUTHOR, backups_dir=backups)
        ours.append(time.perf_counter() - start)
        assert result.pulled == 1 and result.pushed == 2, result

        start = time.perf_counter()
        git(floor_repo.path, "fetch", "-q", str(floor_remote), "main")
        idle_floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        sync_memory(ours_repo, str(ours_remote), author=AUTHOR, backups_dir=backups)
        idle_ours.append(time.perf_counter() - start)
        git(ours_peer, "pull", "-q", "--no-rebase", "origin", "main")
        git(floor_peer, "pull", "-q", "--no-rebase", "origin", "main")
    ratio = statistics.median(ours) / statistics.median(floor)
    idle_ratio = statistics.median(idle_ours) / statistics.median(idle_floor)
    return [
        {"name": "sync: fetch, merge into a moved main, push", "median_ms": ms(ours), "floor_median_ms": ms(floor),
         "ratio": round(ratio, 2), "target_ratio": 1.5, "meets_target": ratio <= 1.5},
        {"name": "sync with nothing new", "median_ms": ms(idle_ours), "floor_median_ms": ms(idle_floor),
         "ratio": round(idle_ratio, 2)},
    ]
