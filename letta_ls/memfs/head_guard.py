"""Every change to memory is a commit on ``main``: what to do when someone left ``HEAD`` elsewhere.

A person (or a tool) may run ``git checkout <commit>`` in the memory directory. A commit made then would
land on a detached ``HEAD`` and vanish from the tree and the history once ``main`` is checked out again,
after letta-ls had acknowledged it. So before a change, under the writer lock, ``ensure_on_main``:

- reattaches ``HEAD`` to ``main`` when that moves no file: the detached commit *is* main's, or main is
  its ancestor (main is fast-forwarded, by compare-and-swap, to keep commits made while detached);
- otherwise (detached behind or beside main, or another branch checked out) refuses with
  ``NotOnMainError``, saying how to fix it; nothing is changed.

A subagent's worktree (its own git dir under ``.git/worktrees/``) commits on its own branch by design and
is left alone. It knows nothing of agents, LSP or the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from letta_ls.memfs.repo_errors import MemoryRepoError

if TYPE_CHECKING:
    from letta_ls.memfs.repo import MemoryRepo

MAIN_REF = "refs/heads/main"


class NotOnMainError(MemoryRepoError):
    """``HEAD`` is not on ``main`` and cannot be put back without moving files; nothing was changed."""


def ensure_on_main(repo: MemoryRepo) -> str | None:
    """Make sure the next commit lands on ``main``; returns what was done (None: nothing to do).
    The caller holds the writer lock."""
    if repo.git_dir.resolve() != repo.common_dir.resolve():
        return None  # a subagent's worktree: its own branch is the point
    ref = repo.head_ref()
    if ref == MAIN_REF:
        return None
    fix = f"run `git -C {repo.path} switch main` and try again; nothing was changed"
    if ref is not None:
        raise NotOnMainError(f"memory has branch {ref.removeprefix('refs/heads/')!r} checked out, but every "
                             f"change to memory is a commit on main: {fix}")
    head = repo.head()
    if not head:
        raise NotOnMainError(f"memory's HEAD is detached and names no commit: {fix}")
    code, out, _err = repo.run_git_status("rev-parse", "--verify", "-q", f"{MAIN_REF}^{{commit}}")
    main = out.decode().strip() if code == 0 else None
    if main is not None and main != head:
        code, _out, _err = repo.run_git_status("merge-base", "--is-ancestor", main, head)
        if code != 0:
            raise NotOnMainError(
                f"memory's HEAD is detached at {head[:12]}, which is not ahead of main ({main[:12]}): a change "
                f"made there would not be on main. To write memory, {fix}")
    # main is head, or behind it: main moves to head (if main moved meanwhile, update-ref refuses)
    repo.run_git("update-ref", "-m", "letta-ls: keep commits made on a detached HEAD", MAIN_REF, head,
                 main or "0" * 40)
    repo.run_git("symbolic-ref", "-m", "letta-ls: reattach HEAD to main", "HEAD", MAIN_REF)
    return (f"reattached HEAD to main at {head[:12]}" if main == head
            else f"reattached HEAD to main, fast-forwarded from {(main or 'nothing')[:12]} to {head[:12]}")
