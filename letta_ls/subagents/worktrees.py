"""Subagent worktrees: a private copy of memory on its own branch, and the cleanup after a crash.

A run works in ``agents/<id>/memory-worktrees/<kind>-<stamp>-<hex>``, a ``git worktree`` of the
agent's memory on branch ``letta/<kind>/<run-id>``, started from ``main``'s ``HEAD``. It is opened as a
``MemoryRepo`` (its writer lock is its own, so the subagent never waits for the main agent), so the
memory tool, the doctor's guard and the prompt compiler work in it unchanged.

API::

    trees = Worktrees(session.repo, session.agent.worktrees_dir)
    tree = trees.create("dream")             # Worktree(run_id, kind, path, branch, base)
    repo = trees.open(tree)                  # a MemoryRepo on the worktree
    trees.unmerged(tree)                     # its commits not on main, oldest first
    trees.remove(tree)                       # worktree + branch; refuses while work is unmerged
    trees.remove(tree, discard=True)         # ... unless the caller means to drop it
    report = trees.recover(author)           # on start: salvage, then clean, what a crash left

``recover`` merges every leftover branch (a registered worktree's, or a ``letta/*`` branch whose
worktree is gone) that holds commits not on main back into main with ``merge.merge_into``, then removes
the worktree and branch; empty ones are just removed; folders under ``memory-worktrees/`` that git does
not know are deleted, and ``git worktree prune`` drops dangling admin entries. Uncommitted files in a
leftover worktree were never acknowledged (every memory change is a commit) and are dropped with it;
stray untracked files never block anything (removal is forced). The caller must make sure no run is
using the worktrees (the runner holds its cross-process lock while it recovers).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from letta_ls.memfs.repo import Author, MemoryRepo, MemoryRepoError
from letta_ls.subagents.merge import MergeOutcome, Resolver, merge_into

log = logging.getLogger(__name__)

BRANCH_PREFIX = "letta/"
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class WorktreeError(MemoryRepoError):
    """A worktree could not be created or removed; the message says what to do."""


class UnmergedWorkError(WorktreeError):
    """Removing this worktree would drop commits that are not on main."""


@dataclass(frozen=True)
class Worktree:
    run_id: str
    kind: str
    path: Path
    branch: str  # e.g. letta/dream/dream-20261201-140312-ab12cd34
    base: str | None = None  # the main commit it started from, when known

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"


@dataclass(frozen=True)
class RecoveredWorktree:
    """What ``recover`` did with one leftover: ``salvaged`` (merged into main), ``removed`` (held nothing
    new) or ``failed`` (kept for the next start; ``error`` says why)."""

    run_id: str
    branch: str | None
    action: str
    commits: int = 0
    outcome: MergeOutcome | None = None
    error: str | None = None


def new_run_id(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"a run kind is lowercase letters, digits and '-', starting with a letter: {kind!r}")
    return f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


class Worktrees:
    """The worktrees of one agent's memory under ``root`` (``Agent.worktrees_dir``)."""

    def __init__(self, main: MemoryRepo, root: Path | str) -> None:
        self.main = main
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ create, open, inspect
    def create(self, kind: str, *, base: str | None = None, run_id: str | None = None) -> Worktree:
        """A new worktree for a ``kind`` run on its own branch, from ``base`` (default: main's HEAD)."""
        run_id = run_id or new_run_id(kind)
        if not run_id.startswith(f"{kind}-") or "/" in run_id or run_id.startswith("."):
            raise ValueError(f"a run id starts with its kind and names one folder: {run_id!r}")
        start = self.main.rev_parse(base or "HEAD")
        tree = Worktree(run_id, kind, self.root / run_id, f"{BRANCH_PREFIX}{kind}/{run_id}", start)
        try:
            self.main.run_git("worktree", "add", "-q", "-b", tree.branch, str(tree.path), start)
        except MemoryRepoError as exc:
            with contextlib.suppress(MemoryRepoError):
                self._remove(tree)
            raise WorktreeError(f"could not create a worktree for the {kind} run: {exc}") from exc
        return tree

    def open(self, tree: Worktree) -> MemoryRepo:
        repo = MemoryRepo(tree.path)
        repo.recover()
        return repo

    def list(self) -> list[Worktree]:
        """The registered worktrees under ``root`` (a run's, or one a crash left)."""
        found = []
        root = self.root.resolve()
        for entry in self._porcelain():
            path = Path(entry.get("worktree", ""))
            if path.parent.resolve() != root:
                continue
            branch = entry.get("branch", "").removeprefix("refs/heads/") or None
            kind = branch.split("/")[1] if branch and branch.count("/") >= 2 else path.name.split("-")[0]
            found.append(Worktree(path.name, kind, path, branch or "", entry.get("HEAD")))
        return found

    def branches(self) -> dict[str, str]:
        """Every ``letta/*`` branch and the commit it points at."""
        out = self.main.run_git("for-each-ref", "--format=%(refname:short) %(objectname)",
                                f"refs/heads/{BRANCH_PREFIX}")
        return dict(line.split(" ", 1) for line in out.decode().splitlines() if " " in line)  # type: ignore[misc]

    def unmerged(self, tree: Worktree | str) -> list[str]:
        """Commits on the worktree's branch that main does not hold, oldest first."""
        branch = tree.branch if isinstance(tree, Worktree) else tree
        rc, out, _err = self.main.run_git_status("rev-list", "--reverse", f"refs/heads/{branch}", "--not", "HEAD")
        return out.decode().split() if rc == 0 else []

    def _porcelain(self) -> list[dict[str, str]]:
        out = self.main.run_git("worktree", "list", "--porcelain", "-z")
        entries: list[dict[str, str]] = []
        current: dict[str, str] = {}
        for field in out.decode("utf-8", "surrogateescape").split("\x00"):
            if not field:
                if current:
                    entries.append(current)
                current = {}
                continue
            key, _, value = field.partition(" ")
            current[key] = value
        if current:
            entries.append(current)
        return entries

    # ------------------------------------------------------------------ remove
    def remove(self, tree: Worktree, *, discard: bool = False) -> None:
        """Delete the worktree and its branch. Refuses (``UnmergedWorkError``) while the branch holds commits
        main does not, unless ``discard``."""
        if not discard and tree.branch:
            left = self.unmerged(tree)
            if left:
                raise UnmergedWorkError(f"{tree.branch} holds {len(left)} commit(s) that are not on main; merge "
                                        "them first (or discard them on purpose)")
        self._remove(tree)

    def _remove(self, tree: Worktree) -> None:
        if tree.path.exists():
            try:
                self.main.run_git("worktree", "remove", "--force", "--force", str(tree.path))
            except MemoryRepoError as exc:
                log.warning("git worktree remove failed (%s); deleting the folder", exc)
                shutil.rmtree(tree.path, ignore_errors=True)
        self.prune()
        if tree.branch and tree.branch in self.branches():
            self.main.run_git("branch", "-D", "-q", tree.branch)

    def prune(self) -> None:
        """Drop git's admin entries of worktrees whose folders are gone, or whose ``HEAD`` points at nothing
        (with their folders under ``root``)."""
        drop_broken_worktrees(self.main, self.root)
        self.main.run_git("worktree", "prune")

    # ------------------------------------------------------------------ recovery
    def recover(self, author: Author, *, resolver: Resolver | None = None) -> list[RecoveredWorktree]:
        """Salvage and clean what crashed runs left (see the module docstring); returns what was done."""
        self.prune()
        done: list[RecoveredWorktree] = []
        registered = self.list()
        known_paths = {t.path.resolve() for t in registered}
        for tree in registered:
            done.append(self._recover_one(tree, author, resolver))
        # a letta/* branch checked out anywhere else (the user's own worktree) is not ours to touch
        branches_with_trees = {entry.get("branch", "").removeprefix("refs/heads/") for entry in self._porcelain()}
        branches_with_trees |= {t.branch for t in registered}
        for branch in sorted(self.branches()):
            if branch in branches_with_trees:
                continue
            parts = branch.split("/")
            kind = parts[1] if len(parts) >= 3 else "run"
            run_id = parts[-1]
            done.append(self._recover_one(Worktree(run_id, kind, self.root / f".gone-{run_id}", branch),
                                          author, resolver))
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir() or entry.resolve() in known_paths:
                continue
            shutil.rmtree(entry, ignore_errors=True)  # a folder git never registered: a crash mid-create
            done.append(RecoveredWorktree(entry.name, None, "removed"))
        return done

    def _recover_one(self, tree: Worktree, author: Author, resolver: Resolver | None) -> RecoveredWorktree:
        commits = self.unmerged(tree) if tree.branch else []
        outcome = None
        if commits:
            try:
                outcome = merge_into(self.main, tree.ref, message=f"merge({tree.kind}): salvage the work of "
                                     f"interrupted run {tree.run_id}", author=author, resolver=resolver,
                                     label=tree.branch)
            except MemoryRepoError as exc:
                log.warning("could not salvage %s: %s; it is kept for the next start", tree.branch, exc)
                return RecoveredWorktree(tree.run_id, tree.branch, "failed", len(commits), error=str(exc))
        try:
            self.remove(tree)
        except MemoryRepoError as exc:
            return RecoveredWorktree(tree.run_id, tree.branch, "failed", len(commits), outcome, str(exc))
        return RecoveredWorktree(tree.run_id, tree.branch, "salvaged" if commits else "removed", len(commits),
                                 outcome)


NULL_ID = re.compile(r"0{40}(0{24})?")
OBJECT_ID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def drop_broken_worktrees(main: MemoryRepo, root: Path | None = None) -> list[str]:
    """Forget worktrees whose ``HEAD`` points at nothing; the names of those dropped.

    ``git worktree add`` writes the new worktree's ``HEAD`` as the null id before it checks anything out, so a
    process killed in between leaves an admin entry that makes ``git fetch`` ("bad object
    worktrees/<name>/HEAD") and ``git fsck`` fail until it is gone: a sync after such a crash would fail for
    ever. Such a worktree never held a commit of its own, so dropping it loses nothing. Its folder is deleted
    only when it lies under ``root`` (a run's folder); an entry whose ``HEAD`` names a branch is left to git.
    """
    admin_root = main.common_dir / "worktrees"
    if not admin_root.is_dir():
        return []
    dropped = []
    for admin in sorted(admin_root.iterdir()):
        try:
            head = (admin / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            head = ""
        if head.startswith("ref: "):
            continue
        if (OBJECT_ID.fullmatch(head) and not NULL_ID.fullmatch(head)
                and main.run_git_status("cat-file", "-e", f"{head}^{{commit}}")[0] == 0):
            continue
        folder = None
        with contextlib.suppress(OSError):
            folder = Path((admin / "gitdir").read_text(encoding="utf-8").strip()).parent
        log.warning("dropping worktree %s: its HEAD (%r) points at nothing (a run killed while it was created)",
                    admin.name, head[:64])
        shutil.rmtree(admin, ignore_errors=True)
        if folder is not None and root is not None and folder.resolve().parent == Path(root).resolve():
            shutil.rmtree(folder, ignore_errors=True)
        dropped.append(admin.name)
    return dropped
