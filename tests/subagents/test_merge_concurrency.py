"""Merges racing other writers lose nothing; a merging process killed at any point recovers with nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.subagents.merge import merge_into
from letta_ls.subagents.worktrees import Worktrees
from tests.concurrent_writers import append_lines, run_in_threads
from tests.subagents.helpers import AGENT, doc, fsck, git, is_ancestor, tracked_changes

MERGER = str(Path(__file__).with_name("merge_process.py"))
WRITER = str(Path(__file__).parent.parent / "memfs" / "writer_process.py")
SHARED = "---\ndescription: lines appended by many writers\n---\n"


def body_lines(repo: MemoryRepo, path: str) -> list[str]:
    return (repo.read(path).text or "").split("---\n", 2)[2].splitlines()


def acks(text: str, kind: str) -> list[tuple[str, str]]:
    return [(line.split()[1], line.split()[2]) for line in text.splitlines()
            if line.startswith(kind + " ") and len(line.split()) == 3]


def test_threads_committing_to_main_while_merges_land_lose_nothing(memory, trees):
    memory.commit({"shared.md": SHARED.encode()}, "start", AGENT)
    branch_commits: list[str] = []

    def merger() -> None:
        for i in range(5):
            tree = trees.create("dream")
            wt = trees.open(tree)
            prepended = (wt.read("shared.md").text or "").replace(SHARED, SHARED + f"dream-{i}\n", 1)
            result = wt.commit({f"dreams/{i}.md": doc(f"dream {i}", "x\n").encode(),
                                "shared.md": prepended.encode()}, f"dream {i}", AGENT)
            branch_commits.append(result.commit)
            merge_into(MemoryRepo(memory.path), tree.ref, message=f"merge {i}", author=AGENT, label=tree.branch)
            trees.remove(tree)

    errors = run_in_threads(*[partial(append_lines, memory.path, n, 8) for n in range(3)], merger)
    assert errors == []
    lines = body_lines(memory, "shared.md")
    for n in range(3):
        for i in range(8):
            assert f"t{n}-{i}" in lines
    for i in range(5):
        assert f"dream-{i}" in "\n".join(lines)
        assert (memory.path / f"dreams/{i}.md").exists()
    assert all(is_ancestor(memory, c) for c in branch_commits)
    assert tracked_changes(memory) == ""
    fsck(memory)


def test_processes_committing_while_another_process_merges_lose_nothing(memory, trees):
    merger = subprocess.Popen([sys.executable, MERGER, str(memory.path), str(trees.root), "m", "6"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = [subprocess.Popen([sys.executable, WRITER, str(memory.path), f"p{n}", "8"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    out, err = merger.communicate(timeout=240)
    assert merger.returncode == 0, err
    snap = MemoryRepo(memory.path).snapshot()
    for proc in writers:
        written, werr = proc.communicate(timeout=240)
        assert proc.returncode == 0, werr
        assert written.count("ACK") == 8
    snap = MemoryRepo(memory.path).snapshot()
    for n in range(2):
        for i in range(8):
            assert f"w/p{n}-{i}.md" in snap
    for name, commit in acks(out, "BRANCH") + acks(out, "MAIN"):
        assert is_ancestor(memory, commit), f"{name} lost"
    assert len(acks(out, "MERGED")) == 6
    assert "<<<<<<< main" in (snap.get("notes.md").text or "")  # the odd rounds conflicted: both kept
    assert tracked_changes(memory) == "" and trees.list() == [] and trees.branches() == {}
    fsck(memory)


def test_a_merging_process_killed_at_random_points_recovers_with_nothing_lost(memory, trees):
    rng = random.Random(int(os.environ.get("KILL_SEED", "5")))
    acknowledged: list[tuple[str, str]] = []
    for round_ in range(8):
        log = memory.path.parent / f"merge-acks-{round_}.txt"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, MERGER, str(memory.path), str(trees.root), f"k{round_}", "500"],
                                    stdout=out, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120  # a loaded machine starts Python slowly: kill once work is under way
            while "BRANCH" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.2))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(0.1)  # let an orphaned git child finish, as it would after a real crash
        text = log.read_text()
        acknowledged += acks(text, "BRANCH") + acks(text, "MAIN")
        # the next start: the repository recovers, then the runner's recovery salvages leftover branches
        reopened = MemoryRepo(memory.path)
        reopened.recover()
        salvaged = Worktrees(reopened, trees.root).recover(AGENT)
        assert all(item.action != "failed" for item in salvaged), salvaged
        for name, commit in acknowledged:
            assert is_ancestor(reopened, commit), f"acknowledged commit {name} lost after kill -9 in round {round_}"
        snap = reopened.snapshot()
        for name, _commit in acks(text, "BRANCH"):
            assert f"w/{name}.md" in snap
        assert tracked_changes(reopened) == "", f"work tree does not match HEAD after round {round_}"
        assert trees.list() == [] and trees.branches() == {}
        assert [p.name for p in trees.root.iterdir() if not p.name.startswith(".")] == []
        assert not (reopened.git_dir / "letta-advance.json").exists()
        fsck(reopened)
        reopened.commit({f"after/{round_}.md": b"alive"}, f"write after crash {round_}", AGENT)
    assert len(acknowledged) > 8
    assert "worktrees" not in os.listdir(memory.git_dir) or os.listdir(memory.git_dir / "worktrees") == []
    assert git(memory, "worktree", "list").count("\n") == 1
