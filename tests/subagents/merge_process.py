"""A separate process that runs subagent-style rounds and acknowledges every commit on stdout.

``python merge_process.py MEMORY WORKTREES NAME ROUNDS``: each round creates a worktree, commits a new
file there (and, on odd rounds, a line of ``notes.md`` that main edits too: a conflict), commits
a file to main as the user would, merges the branch into main and removes the worktree. Every commit is
printed once it is acknowledged (``BRANCH`` / ``MAIN`` / ``MERGED``), so a test that kills this process
knows which work must survive.
"""

import sys

from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.subagents.merge import merge_into
from letta_ls.subagents.worktrees import Worktrees


def main() -> None:
    memory, root, name, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    repo = MemoryRepo(memory)
    trees = Worktrees(repo, root)
    author = Author(name, f"{name}@letta-ls.local")
    user = MemoryOperations(repo, Author("user", "user@x"), actor="user")
    for i in range(rounds):
        tree = trees.create("dream")
        wt = trees.open(tree)
        line = (i // 2) % 10 + 1
        changes = {f"w/{name}-{i}.md": f"---\ndescription: dream {i}\n---\n{name} dreamt {i}\n".encode()}
        if i % 2:
            text = wt.read("notes.md").text or ""
            changes["notes.md"] = text.replace(f"line {line}\n", f"line {line} dream {i}\n").encode()
        branch = wt.commit(changes, f"dream {i}", author)
        print(f"BRANCH {name}-{i} {branch.commit}", flush=True)
        created = user.create(f"m/{name}-{i}.md", f"main {i}", f"{name} main {i}", reason=f"main {i}")
        if i % 2:
            text = repo.read("notes.md").text or ""
            user.write_file("notes.md", text.replace(f"line {line}\n", f"line {line} main {i}\n"), reason=f"main {i}")
        print(f"MAIN {name}-{i} {created.commit}", flush=True)
        outcome = merge_into(repo, tree.ref, message=f"merge(dream): {name} {i}", author=author, label=tree.branch)
        print(f"MERGED {name}-{i} {outcome.head}", flush=True)
        trees.remove(tree)


if __name__ == "__main__":
    main()
