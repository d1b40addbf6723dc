"""Moving a work tree's branch to another commit and bringing the files along, crash-safely.

This is how a merge (a subagent's work, later a sync) lands in memory without ever running ``git merge``
or ``git checkout`` in a work tree the user and the agent are using: the merge commit is built elsewhere
(``letta_ls.subagents.merge``), then ``advance_branch`` moves the branch and rewrites exactly the paths
that changed. It owns three guarantees:

- **Compare-and-swap.** ``git update-ref <branch> <new> <old>`` moves the branch only if it still points
  at ``old``; otherwise ``BranchMovedError`` is raised and nothing is touched, so another writer's
  commit is never lost.
- **Nothing on disk is overwritten.** A changed path whose file is neither the old nor the new version (an
  uncommitted edit, an untracked file where the merge adds one, a folder in the way) is first kept under
  ``<path>.moved-aside-<time>`` next to it, and reported.
- **Crash safety.** A journal (``letta-advance.json`` in the work tree's git dir) is written before the
  ref moves and removed once the files and the index match. ``finish_interrupted_advance`` — run by
  ``MemoryRepo.locked()`` whenever it finds a journal, so on the next write or ``recover()`` of any
  process — rolls back (the ref never moved: nothing was written) or rolls forward (the ref moved: the
  changed paths are brought to the branch's commit), so a process killed at any point leaves a work
  tree that matches ``HEAD``.

The caller holds ``repo.locked()`` (the journal check on acquiring it must not run while a move of this
process is half done). It knows nothing of agents, subagents, LSP or the model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from letta_ls.atomic_files import write_atomic
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError
from letta_ls.memfs.snapshot import git_blob_id
from letta_ls.memfs.worktree_files import read_nofollow, refuse_links

log = logging.getLogger(__name__)

ADVANCE_JOURNAL = "letta-advance.json"
ZERO = "0" * 40
ASIDE_MARK = ".moved-aside-"


class BranchMovedError(MemoryRepoError):
    """The branch no longer points at the commit the caller based its new commit on; nothing changed."""


@dataclass(frozen=True)
class PathChange:
    """One path that differs between two commits: blob ids (None: absent) and the new file mode."""

    path: str
    old: str | None
    new: str | None
    mode: str = "100644"


@dataclass(frozen=True)
class MovedAside:
    """What was on disk at ``path`` (neither version git knew) now lives at ``aside``."""

    path: str
    aside: str


@dataclass(frozen=True)
class AdvanceResult:
    old: str
    new: str
    changes: tuple[PathChange, ...]
    moved_aside: tuple[MovedAside, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(change.path for change in self.changes)


# ---------------------------------------------------------------------------------------------- reading
def changed_paths(repo: MemoryRepo, old: str, new: str) -> list[PathChange]:
    """Every file that differs between two commits (renames as delete + add), in path order."""
    out = repo.run_git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new)
    fields = out.split(b"\x00")
    changes: list[PathChange] = []
    i = 0
    while i + 1 < len(fields):
        meta = fields[i].decode()
        if not meta.startswith(":"):
            i += 1
            continue
        _old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split(" ")
        path = fields[i + 1].decode("utf-8", "surrogateescape")
        changes.append(PathChange(path, None if old_blob == ZERO else old_blob,
                                  None if new_blob == ZERO else new_blob, new_mode if new_blob != ZERO else "100644"))
        i += 2
    return sorted(changes, key=lambda c: c.path)


def changed_path_names(repo: MemoryRepo, old: str | None, new: str) -> list[str]:
    """The paths that differ between ``old`` and ``new``; every file of ``new`` when there is no ``old`` (nothing
    seen yet) or ``old`` is not in this repository (another agent's commit): what a watcher announces."""
    if old is not None:
        try:
            return [change.path for change in changed_paths(repo, old, new)]
        except MemoryRepoError:
            pass
    listed = repo.run_git("ls-tree", "-r", "-z", "--name-only", new)
    return sorted(p.decode("utf-8", "surrogateescape") for p in listed.split(b"\x00") if p)


def _file_on_the_way(root: Path, path: str) -> bool:
    """Whether a plain file stands where a folder of ``path`` must be (before any link): then nothing is at
    ``path`` itself, and the file in the way is the parent's business (``_clear_parents``), not this path's."""
    current = root
    for name in path.split("/")[:-1]:
        current = current / name
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(info.st_mode):
            return False
        if not stat.S_ISDIR(info.st_mode):
            return True
    return False


def disk_blob(repo: MemoryRepo, path: str) -> str | None:
    """The blob id of the file on disk at ``path``; None when nothing is there; "" for a folder or link
    (a link on the way there included: nothing is ever read or written through a link)."""
    try:
        refuse_links(repo.path, path)
        return git_blob_id(read_nofollow(repo.path, path))
    except UnsafePathError:
        return None if _file_on_the_way(repo.path, path) else ""
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return ""


def unexpected_on_disk(repo: MemoryRepo, changes: Iterable[PathChange]) -> list[str]:
    """Changed paths whose file on disk is neither version: a user's edit or an untracked file in the way."""
    found = []
    for change in changes:
        on_disk = disk_blob(repo, change.path)
        if on_disk is None or on_disk in (change.old, change.new):
            continue
        found.append(change.path)
    return found


# ---------------------------------------------------------------------------------------------- moving
def advance_branch(repo: MemoryRepo, old: str, new: str) -> AdvanceResult:
    """Move the checked-out branch from ``old`` to ``new`` and update the changed files and the index.

    The caller holds ``repo.locked()``. Raises ``BranchMovedError`` (nothing changed) when the branch is
    no longer at ``old``."""
    ref = repo.head_ref()
    if ref is None:
        raise MemoryRepoError(f"{repo.path} has no branch checked out (detached HEAD); check out main first")
    if repo.head() != old:
        raise BranchMovedError(f"{ref} moved from {old[:12]} to {(repo.head() or 'nothing')[:12]}")
    changes = changed_paths(repo, old, new)
    _write_journal(repo, {"ref": ref, "old": old, "new": new, "time": datetime.now(UTC).isoformat()})
    try:
        repo.run_git("update-ref", "-m", "letta-ls: advance", ref, new, old)
    except MemoryRepoError as exc:
        _remove_journal(repo)
        raise BranchMovedError(f"{ref} moved while the merge was being recorded: {exc}") from exc
    aside = _bring_work_tree(repo, new, changes, known={c.path: {c.old, c.new} for c in changes})
    _reset_index(repo, new, [c.path for c in changes])
    _remove_journal(repo)
    return AdvanceResult(old, new, tuple(changes), tuple(aside))


def finish_interrupted_advance(repo: MemoryRepo) -> list[str]:
    """Finish (or roll back) a branch move that a killed process left half done; returns what was done."""
    journal = repo.git_dir / ADVANCE_JOURNAL
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        ref, old, new = str(data["ref"]), str(data["old"]), str(data["new"])
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s is unreadable (%s); removing it", journal, exc)
        _remove_journal(repo)
        return ["removed an unreadable merge journal"]
    current = repo.head() if repo.head_ref() == ref else None
    if current is None or current == old:
        _remove_journal(repo)  # the ref never moved, and nothing is written before it moves
        return [f"rolled back an interrupted merge into {ref} (it had not started)"]
    known: dict[str, set[str | None]] = {}
    for change in changed_paths(repo, old, new):
        known.setdefault(change.path, set()).update({change.old, change.new})
    changes = [c for c in changed_paths(repo, old, current) if c.path in known]
    for change in changes:
        known[change.path].update({change.old, change.new})
    # paths the merge changed and a later commit changed back: bring them to the current commit too
    missing = set(known) - {c.path for c in changes}
    if missing:
        tree = _blobs_at(repo, current, missing)
        changes += [PathChange(p, None, tree.get(p, (None, "100644"))[0], tree.get(p, (None, "100644"))[1])
                    for p in sorted(missing)]
    aside = _bring_work_tree(repo, current, changes, known)
    _reset_index(repo, current, sorted(known))
    _remove_journal(repo)
    done = [f"finished an interrupted merge into {ref}: {len(known)} file(s) brought up to {current[:12]}"]
    done += [f"kept {m.path} as {m.aside}" for m in aside]
    log.warning("; ".join(done))
    return done


# ---------------------------------------------------------------------------------------------- helpers
def _write_journal(repo: MemoryRepo, data: Mapping[str, str]) -> None:
    write_atomic(repo.git_dir / ADVANCE_JOURNAL, json.dumps(data).encode("utf-8"))
    _fsync_dir(repo.git_dir)


def _remove_journal(repo: MemoryRepo) -> None:
    with contextlib.suppress(FileNotFoundError):
        (repo.git_dir / ADVANCE_JOURNAL).unlink()
    _fsync_dir(repo.git_dir)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _blobs_at(repo: MemoryRepo, commit: str, paths: Iterable[str]) -> dict[str, tuple[str, str]]:
    wanted = set(paths)
    out = repo.run_git("ls-tree", "-r", "-z", "--full-tree", commit)
    found: dict[str, tuple[str, str]] = {}
    for entry in out.split(b"\x00"):
        if not entry:
            continue
        meta, _, raw = entry.partition(b"\t")
        path = raw.decode("utf-8", "surrogateescape")
        if path in wanted:
            mode, _kind, blob = meta.decode().split(" ")
            found[path] = (blob, mode)
    return found


def aside_name(repo: MemoryRepo, path: str) -> str:
    """A free name next to ``path`` for what must not be overwritten: ``<path>.moved-aside-<time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    candidate = f"{path}{ASIDE_MARK}{stamp}"
    n = 2
    while os.path.lexists(repo.path / candidate):
        candidate = f"{path}{ASIDE_MARK}{stamp}-{n}"
        n += 1
    return candidate


def _move_aside(repo: MemoryRepo, path: str, *, copy: bool) -> MovedAside:
    source = repo.path / path
    aside = aside_name(repo, path)
    if copy and source.is_file() and not source.is_symlink():
        shutil.copy2(source, repo.path / aside)  # the original is replaced atomically right after
    else:
        os.replace(source, repo.path / aside)
    return MovedAside(path, aside)


def _clear_parents(repo: MemoryRepo, path: str, aside: list[MovedAside], *, links_only: bool = False) -> None:
    """A link (or, unless ``links_only``, a file) standing where a folder of ``path`` must be is moved aside.
    Top down, so the link moved is the first one on the way: renaming it renames the link, not its target."""
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        parent = "/".join(parts[:depth])
        full = repo.path / parent
        if full.is_symlink() or (not links_only and full.exists() and not full.is_dir()):
            aside.append(_move_aside(repo, parent, copy=False))
            return


def _bring_work_tree(repo: MemoryRepo, commit: str, changes: list[PathChange],
                     known: Mapping[str, set[str | None]]) -> list[MovedAside]:
    """Make each changed path on disk what ``commit`` has, keeping anything unknown aside first."""
    aside: list[MovedAside] = []
    # deletions first, so a file can give way to a folder of the same name and the reverse
    ordered = sorted(changes, key=lambda c: (c.new is not None, c.path))
    blobs = repo.read_blobs([c.new for c in changes if c.new is not None]) if changes else {}
    for change in ordered:
        _clear_parents(repo, change.path, aside, links_only=True)  # nothing below is reached through a link
        on_disk = disk_blob(repo, change.path)
        if on_disk == change.new and on_disk is not None:
            continue
        if on_disk is not None and on_disk not in known.get(change.path, set()):
            # neither version git knows: an edit or an untracked file; keep it before anything replaces it
            aside.append(_move_aside(repo, change.path, copy=change.new is not None and on_disk != ""))
        if change.new is None:
            if os.path.lexists(repo.path / change.path):
                repo._apply_to_worktree({change.path: None})
            continue
        _clear_parents(repo, change.path, aside)
        target = repo.path / change.path
        if target.is_dir() and not target.is_symlink():
            aside.append(_move_aside(repo, change.path, copy=False))
        repo._apply_to_worktree({change.path: blobs[change.new]})
        if change.mode == "100755":
            os.chmod(target, 0o755)
    return aside


def _reset_index(repo: MemoryRepo, commit: str, paths: list[str]) -> None:
    """The index entries of ``paths`` set to ``commit`` (and refreshed), leaving every other entry alone."""
    if not paths:
        return
    spec = b"".join(p.encode("utf-8", "surrogateescape") + b"\x00" for p in paths)
    repo.run_git("reset", "-q", commit, "--pathspec-from-file=-", "--pathspec-file-nul",
                 env={"GIT_LITERAL_PATHSPECS": "1"}, input=spec)
