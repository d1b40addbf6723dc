"""One multi-step memory operation in a process of its own, killed at an injected step or by the test.

``python crash_worker.py MEMORY REMOTE WORKTREES OP [STEP]`` runs OP once (``STEP``: die by SIGKILL at that
step, see ``letta_ls.memfs.crash_points``; ``count``: print how many steps OP took). ``OP`` is ``rename``
(a file), ``folder`` (a folder of many files moved), ``fix`` (the doctor moves a skill into its folder),
``merge`` (a side commit that moves a file, merged three-way), ``sync`` (pull a remote commit that moves a
file) or ``dream`` (a dream's worktree commit that moves a file, merged into main). ``loop`` runs all of
them, each with its inverse, forever, printing ``ACK <n>`` after each acknowledged operation, until killed.
"""

import sys
from pathlib import Path

from letta_ls.memfs import crash_points
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.session import apply_safe_fixes
from letta_ls.settings import structure_settings
from letta_ls.subagents.merge import merge_into
from letta_ls.subagents.worktrees import Worktrees
from letta_ls.sync.memory_sync import sync_memory

USER = Author("Dana", "dana@example.com")
AGENT = Author("Agent", "agent@letta-ls.local")


def _move(repo: MemoryRepo, old: str, new: str) -> None:
    ops = MemoryOperations(repo, AGENT)
    if old not in repo.snapshot() and old not in repo.snapshot().folders:
        old, new = new, old  # the loop moves things back and forth
    ops.rename(old, new, reason=f"move {old} to {new}")


def side_commit(repo: MemoryRepo, old: str, new: str, index: Path) -> str:
    """A commit on top of HEAD (no branch, no work tree) that moves ``old`` to ``new``."""
    head = repo.head()
    assert head is not None
    blob = repo.snapshot().files[old].blob
    env = {"GIT_INDEX_FILE": str(index), **AGENT.env()}
    repo.run_git("read-tree", head, env=env)
    repo.run_git("update-index", "--index-info", env=env,
                 input=f"0 {'0' * 40}\t{old}\n100644 {blob}\t{new}\n".encode())
    tree = repo.run_git("write-tree", env=env).decode().strip()
    return repo.run_git("commit-tree", tree, "-p", head, "-m", f"side: move {old} to {new}", env=env).decode().strip()


def run(op: str, repo: MemoryRepo, remote: str, trees_root: Path, n: int = 0) -> None:
    if op == "rename":
        _move(repo, "notes/n0.md", "notes/renamed-n0.md")
    elif op == "folder":
        _move(repo, "projects", "archive/projects")
    elif op == "fix":
        if "skills/tidy.md" not in repo.snapshot():  # in the loop: put the skill back where the doctor moves it from
            _move(repo, "skills/tidy/SKILL.md", "skills/tidy.md")
        applied = apply_safe_fixes(repo, structure_settings(), USER)
        assert applied, "the doctor found nothing to fix"
    elif op == "merge":
        snap = repo.snapshot()
        old, new = ("notes/n1.md", "notes/moved-n1.md") if "notes/n1.md" in snap else ("notes/moved-n1.md",
                                                                                     "notes/n1.md")
        side = side_commit(repo, old, new, trees_root.parent / f"side-index-{n}")
        extra = f"---\ndescription: extra\n---\nmarker-extra-{n}\n"
        MemoryOperations(repo, USER).write_file(f"notes/extra-{n}.md", extra)
        merge_into(repo, side, message=f"merge(test): move {old}", author=AGENT, label="side")
    elif op == "sync":
        sync_memory(repo, remote, author=AGENT, backups_dir=trees_root.parent / "backups")
    elif op == "dream":
        trees = Worktrees(repo, trees_root)
        tree = trees.create("dream")
        dream = trees.open(tree)
        snap = dream.snapshot()
        old, new = ("notes/n2.md", "dreams/n2.md") if "notes/n2.md" in snap else ("dreams/n2.md", "notes/n2.md")
        MemoryOperations(dream, AGENT).rename(old, new, reason="dream: file it better")
        merge_into(repo, tree.branch, message="merge(dream): filed better", author=AGENT, label=tree.branch)
        trees.remove(tree)
    else:
        raise SystemExit(f"unknown operation {op!r}")


def main() -> None:
    memory, remote, trees_root, op = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    step = sys.argv[5] if len(sys.argv) > 5 else None
    repo = MemoryRepo(memory)
    if op == "loop":
        cycle = ["rename", "folder", "fix", "merge", "dream"]
        for n in range(10**6):
            run(cycle[n % len(cycle)], repo, remote, trees_root, n)
            print(f"ACK {n}", flush=True)
    crash_points.arm(10**9 if step in (None, "count") else int(step))
    run(op, repo, remote, trees_root)
    if step == "count":
        print(crash_points.steps_taken())
    print("ACK", flush=True)


if __name__ == "__main__":
    main()
