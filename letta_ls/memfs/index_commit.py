"""A memory commit without ``git commit``: stage the written paths, write the tree, make the commit, move ``main``.

``git commit`` refreshes the whole index before it commits (an ``lstat`` of every tracked file), which on a
2,000-file memory was a third of a chat turn's commit (issue 14). When nothing but our own last commit
touched the index, the paths a change wrote are all that differ from ``HEAD``, so the same commit is made
from plumbing that reads the index but stats only those paths: ``update-index`` (hash and stage them),
``write-tree`` (the cached tree of every untouched folder is reused), ``commit-tree`` and ``update-ref``
(which refuses to move ``main`` from anything but the parent it was built on). The message is cleaned as
``git commit -F`` cleans it, the reflog says ``commit: <subject>`` as ``git commit`` does, and the automatic
maintenance ``git commit`` runs after each commit runs after about one in sixteen.

Crash safety is the caller's write journal's, exactly as for ``git add`` + ``git commit``: until ``main``
moves, the index holds staged paths the journal resets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

Git = Callable[..., bytes]
REFLOG_SUBJECT_BYTES = 1000
_TRAILING_SPACE = re.compile(rb"[ \t\r\f\v]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(rb"\n{3,}")


def clean_message(message: bytes) -> bytes:
    """``git stripspace`` (what ``git commit -F`` does without an editor): trailing whitespace of each line
    and leading and trailing blank lines go, runs of blank lines become one, and it ends with a newline."""
    text = _TRAILING_SPACE.sub(b"", message).strip(b"\n")
    return _BLANK_RUNS.sub(b"\n\n", text) + b"\n" if text else b""


def commit_paths(git: Git, paths: Sequence[str], message: bytes, author_env: Mapping[str, str], parent: str,
                 branch_ref: str) -> str:
    """Commit ``paths`` as the work tree has them on top of ``parent``; the new commit's id."""
    git("update-index", "--add", "--remove", "--", *paths)
    tree = git("write-tree").decode().strip()
    text = clean_message(message)
    commit = git("commit-tree", tree, "-p", parent, env=author_env, input=text).decode().strip()
    subject = text.split(b"\n", 1)[0][:REFLOG_SUBJECT_BYTES].decode("utf-8", "replace").strip()  # argv is finite
    git("update-ref", "-m", f"commit: {subject}", branch_ref, commit, parent)
    if commit.startswith("0"):
        git("maintenance", "run", "--auto", "--quiet")
    return commit
