"""The memory repository: git-backed storage where every change is one atomic, serialised commit.

``MemoryRepo`` owns all git access for a memory directory (GitPython over the git CLI, plus one-shot
``git cat-file --batch`` reads). Guarantees:

- A change writes each file to a temporary file in ``.git/letta-tmp`` and renames it into place, then
  stages and commits exactly the changed paths; if git fails, the working tree is put back to ``HEAD``
  for those paths, so a refused change leaves nothing behind.
- Writers are serialised by a per-repository thread lock plus an ``flock`` on ``.git/letta-ls.lock``,
  so threads and processes never interleave (no lost update, no ``index.lock`` race).
- Reads (snapshots, history) come from commits only, never from the working tree.
- A writer killed at any point leaves a repository that opens; the next holder of the writer lock (and
  ``recover()``) clears what it left: stale lock files of dead git processes, temporary files, and the
  half-applied files of a commit, brought back to ``HEAD`` from its journal (``write_journal.py``) so that
  a later merge never takes them for a person's uncommitted edits.

This module is what callers use (``MemoryRepo``, its records, and re-exported ``Author``, ``user_author``
and the errors of ``repo_errors.py``); the mechanics it stands on live beside it: ``writer_lock.py`` (the
lock and stale git locks), ``git_plumbing.py`` (running git, reading refs and object listings) and
``worktree_files.py`` (atomic file writes). It knows nothing of agents, the doctor, LSP or the model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from letta_ls.memfs import crash_points, secret_gate
from letta_ls.memfs.authors import Author, user_author  # noqa: F401  (user_author is re-exported)
from letta_ls.memfs.git_plumbing import git_process, iter_cat_file_batch, parse_ls_tree, read_head_commit, read_head_ref
from letta_ls.memfs.head_guard import NotOnMainError, ensure_on_main  # noqa: F401  (the error is re-exported)
from letta_ls.memfs.index_commit import commit_paths
from letta_ls.memfs.paths import check_memory_path
from letta_ls.memfs.repo_errors import MemoryFileNotFoundError, MemoryRepoError, StaleVersionError
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, git_blob_id
from letta_ls.memfs.worktree_files import (
    lexists_nofollow,
    refuse_links,
    worktree_matches,
    write_into_worktree,
)
from letta_ls.memfs.write_journal import WRITE_JOURNAL, begin_write, end_write, finish_interrupted_write
from letta_ls.memfs.writer_lock import clear_stale_git_locks, hold_writer_lock, writer_lock_for

BRANCH = "main"
BACKUP_REF_PREFIX = "refs/letta-backup/"


@dataclass(frozen=True)
class CommitResult:
    commit: str | None  # None when the change was a no-op
    paths: tuple[str, ...]
    blobs: Mapping[str, str | None]  # path -> new blob id (None: deleted)


@dataclass(frozen=True)
class HistoryEntry:
    commit: str
    date: str
    author: str
    email: str
    message: str


class MemoryRepo:
    """One memory directory that is a git work tree on branch ``main`` (or a subagent's worktree)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not (self.path / ".git").exists():
            raise MemoryRepoError(f"{self.path} is not a memory repository (no .git); create the agent first")
        self._repo = git.Repo(self.path)
        self.git_dir = Path(self._repo.git_dir)
        self.common_dir = Path(self._repo.common_dir)
        self._key = str(self.path.resolve())
        self._lock = writer_lock_for(self._key)
        self._snapshots: dict[str, MemorySnapshot] = {}
        self._snapshot_lock = threading.Lock()
        self._index_stamp: tuple[int, int, int] | None = None
        self._index_before_add: tuple[int, int, int] | None = None
        self._blobs: dict[str, bytes] = {}

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: Path | str, files: Mapping[str, str], author: Author,
               message: str = "chore: initialize memory") -> MemoryRepo:
        """A new repository on ``main`` with ``files`` as its first commit."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if (path / ".git").exists():
            raise MemoryRepoError(f"{path} already holds a repository")
        subprocess.run(["git", "init", "-q", "-b", BRANCH, str(path)], check=True, capture_output=True)
        repo = cls(path)
        with repo._repo.config_writer() as cfg:
            cfg.set_value("core", "quotepath", "off")
            cfg.set_value("commit", "gpgsign", "false")
        if files:
            repo.commit({p: t.encode("utf-8") for p, t in files.items()}, message, author)
        else:
            repo._git("commit", "-q", "--allow-empty", "-m", message, env=author.env())
        return repo

    # ------------------------------------------------------------------ locking and recovery
    @contextlib.contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Serialise writers across threads (RLock) and processes (flock); re-entrant in a thread.

        The lock file is ``letta-ls.lock`` in this work tree's git directory: ``.git/`` for the memory
        itself, ``.git/worktrees/<name>/`` for a subagent's worktree, so a subagent committing in its
        worktree never waits for the main agent (their index and branch are separate). On acquiring it,
        a branch move that a crashed process left half-applied is finished first (``memfs.checkout``).
        Waits at most ``timeout`` seconds (default: ``LETTA_LS_LOCK_TIMEOUT`` or 60), then raises
        ``WriterLockTimeout`` naming the holder.
        """
        with hold_writer_lock(self._lock, self.git_dir / "letta-ls.lock", self._on_lock_acquired, timeout):
            yield

    def _on_lock_acquired(self) -> None:
        self._clear_stale_git_locks()
        if (self.git_dir / WRITE_JOURNAL).exists():
            finish_interrupted_write(self)
        self._finish_interrupted_advance()

    def _finish_interrupted_advance(self) -> None:
        from letta_ls.memfs.checkout import ADVANCE_JOURNAL, finish_interrupted_advance

        if (self.git_dir / ADVANCE_JOURNAL).exists():
            finish_interrupted_advance(self)

    def _clear_stale_git_locks(self) -> None:
        """Remove lock files left by a git process that died; wait briefly for a live one."""
        branch_ref = self._head_ref() or f"refs/heads/{BRANCH}"
        clear_stale_git_locks([self.git_dir / "index.lock", self.git_dir / "HEAD.lock",
                               self.common_dir / f"{branch_ref}.lock", self.common_dir / "packed-refs.lock"])

    def recover(self, wait: float | None = None) -> list[str]:
        """Clean up after a crashed writer; returns what was done (for logs). ``wait``: seconds to wait for
        the writer lock (``WriterLockTimeout`` after them; None: the default bound)."""
        done = []
        with self.locked(timeout=wait):
            tmp = self.git_dir / "letta-tmp"
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
                done.append("removed temporary files of an interrupted write")
            for stale in (self.git_dir / "MERGE_HEAD",):
                if stale.exists() and not (self.git_dir / "MERGE_MSG").exists():
                    done.append("found a merge without a message")
        return done

    # ------------------------------------------------------------------ git plumbing
    def run_git(self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> bytes:
        """Run one git command in this work tree (hooks and signing off); raises ``MemoryRepoError``."""
        return self._git(*args, env=env, input=input)

    def run_git_status(self, *args: str, env: Mapping[str, str] | None = None,
                       input: bytes | None = None) -> tuple[int, bytes, bytes]:
        """Run one git command whose exit code carries meaning (``merge-tree``, ``merge-base``):
        (exit code, stdout, stderr), never raising on a non-zero exit."""
        crash_points.step()
        proc = git_process(self.path, args, env, input)
        crash_points.step()
        return proc.returncode, proc.stdout, proc.stderr

    def head_ref(self) -> str | None:
        """The ref this work tree has checked out (``refs/heads/main``), None when HEAD is detached."""
        return self._head_ref()

    def read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each blob id, read in one ``git cat-file --batch`` (and cached)."""
        return self._read_blobs(blob_ids)

    def _git(self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> bytes:
        crash_points.step()
        proc = git_process(self.path, args, env, input)
        crash_points.step()
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip() or proc.stdout.decode("utf-8", "replace").strip()
            raise MemoryRepoError(f"git {args[0]} failed: {detail}")
        return proc.stdout

    def head(self) -> str | None:
        """The commit ``main`` points at, read from the ref files (no process spawned)."""
        return read_head_commit(self.git_dir, self.common_dir)

    def _head_ref(self) -> str | None:
        return read_head_ref(self.git_dir)

    def rev_parse(self, rev: str) -> str:
        if rev == "HEAD":
            head = self.head()
            if head:
                return head
        if len(rev) == 40 and rev in self._snapshots:
            return rev  # a full commit id we already read: no git process needed
        if rev.startswith("-"):
            raise MemoryRepoError(f"{rev!r} is not a revision")
        try:
            return self._git("rev-parse", "--verify", "-q", f"{rev}^{{commit}}").decode().strip()
        except MemoryRepoError as exc:
            raise MemoryRepoError(f"unknown revision {rev!r}: give a commit id, a backup ref or a branch") from exc

    def _read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        wanted = [b for b in dict.fromkeys(blob_ids) if b not in self._blobs]
        if wanted:
            out = self._git("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
            for blob, data in iter_cat_file_batch(out, wanted):
                if data is None:
                    raise MemoryRepoError(f"blob {blob} is missing from the repository")
                self._blobs[blob] = data
            if len(self._blobs) > 100_000:
                self._blobs.clear()
        return {b: self._blobs[b] for b in blob_ids}

    def _tree(self, rev: str) -> dict[str, str]:
        return parse_ls_tree(self._git("ls-tree", "-r", "-z", "--full-tree", rev))

    # ------------------------------------------------------------------ reads
    def snapshot(self, rev: str = "HEAD") -> MemorySnapshot:
        """Every file at ``rev`` (default: committed HEAD), cached per commit."""
        commit = self.rev_parse(rev)
        cached = self._snapshots.get(commit)
        if cached is not None:
            return cached
        with self._snapshot_lock:  # callers arriving together build each commit's snapshot once
            cached = self._snapshots.get(commit)
            if cached is not None:
                return cached
            return self._build_snapshot(commit)

    def _build_snapshot(self, commit: str) -> MemorySnapshot:
        tree = self._tree(commit)
        blobs = self._read_blobs(tree.values())
        snap = MemorySnapshot(commit, {p: MemoryFile(p, tree[p], blobs[tree[p]]) for p in sorted(tree)})
        self._remember_snapshot(snap)
        return snap

    def _remember_snapshot(self, snap: MemorySnapshot) -> None:
        if snap.head is None:
            return
        if len(self._snapshots) >= 8:
            self._snapshots.pop(next(iter(self._snapshots)))
        self._snapshots[snap.head] = snap

    def read(self, path: str, rev: str = "HEAD") -> MemoryFile:
        check_memory_path(path)
        found = self.snapshot(rev).get(path)
        if found is None:
            raise MemoryFileNotFoundError(path, rev)
        return found

    def history(self, path: str | None = None, limit: int = 50) -> list[HistoryEntry]:
        """Commits that touched ``path`` (or any file), newest first."""
        args = ["log", f"-n{max(1, int(limit))}", "--format=%H%x1f%aI%x1f%an%x1f%ae%x1f%B%x1e", BRANCH
                if self._head_ref() == f"refs/heads/{BRANCH}" else "HEAD"]
        if path is not None:
            check_memory_path(path)
            args += ["--", path]
        out = self._git(*args).decode("utf-8", "replace")
        entries = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            commit, date, name, email, message = record.split("\x1f", 4)
            entries.append(HistoryEntry(commit, date, name, email, message.strip()))
        return entries

    # ------------------------------------------------------------------ writes
    def commit(self, changes: Mapping[str, bytes | None], message: str, author: Author, *,
               expect: Mapping[str, str | None] | None = None) -> CommitResult:
        """Apply ``changes`` (path -> bytes, or None to delete a file or folder) as one commit.

        ``expect`` maps paths to the blob id the caller based its edit on (None: must not exist);
        a mismatch raises ``StaleVersionError`` before anything is touched.
        """
        if not message.strip():
            raise ValueError("a change needs a reason: it becomes the commit message")
        for path in changes:
            check_memory_path(path)
        with self.locked():
            if self.head():  # every change is a commit on main: reattach a detached HEAD or refuse
                ensure_on_main(self)
            base = self.snapshot() if self.head() else MemorySnapshot(None, {})
            secret_gate.check_commit(message, changes, base)
            if expect:
                for path, blob in expect.items():
                    current = base.get(path)
                    actual = current.blob if current else None
                    if actual != blob:
                        raise StaleVersionError(path, blob, actual)
            effective: dict[str, bytes | None] = {}
            blobs: dict[str, str | None] = {}
            for path, data in changes.items():
                if data is None:
                    doomed = [p for p in base.files if p == path or p.startswith(path + "/")]
                    if not doomed and not lexists_nofollow(self.path, path):
                        raise MemoryFileNotFoundError(path)
                    for p in doomed:
                        effective[p] = None
                        blobs[p] = None
                    if not doomed:
                        effective[path] = None
                else:
                    blob = git_blob_id(data)
                    current = base.get(path)
                    if current is None or current.blob != blob or not worktree_matches(self.path, path, blob):
                        effective[path] = data
                    blobs[path] = blob
            if not effective:
                return CommitResult(None, (), blobs)
            paths = sorted(effective)
            for path in paths:  # proven free of links before the first byte is written
                refuse_links(self.path, path, allow_final_link=effective[path] is None)
            begin_write(self, base.head, {p: (base.get(p).blob if base.get(p) else None, blobs.get(p))
                                          for p in paths})
            try:
                self._apply_to_worktree(effective)
                self._index_before_add = self._stat_index()
                text = message.encode("utf-8", "surrogateescape")  # on stdin: a reason may outgrow argv (E2BIG)
                branch_ref = self._head_ref()  # main, or a subagent worktree's own branch: never another
                if base.head is not None and branch_ref is not None and self._index_untouched_since_our_commit():
                    # nothing else is staged: plumbing that stats only our paths (see index_commit.py)
                    commit_paths(self._git, paths, text, author.env(), base.head, branch_ref)
                else:
                    self._git("add", "-A", "--", *paths)
                    # someone else touched the index (or the first commit): only our paths, theirs stay staged
                    self._git("commit", "-q", "--no-verify", "-F", "-", "--", *paths, env=author.env(), input=text)
                self._index_stamp = self._stat_index()
            except BaseException:
                with contextlib.suppress(Exception):  # if this fails too, the journal stays for the next writer
                    finish_interrupted_write(self)
                raise
            end_write(self)
            head = self.head()
            if head is None:
                raise MemoryRepoError("the commit did not move main; run `git status` in the memory directory")
            self._remember_snapshot(base.with_files({
                path: None if data is None else MemoryFile(path, blobs[path] or git_blob_id(data), data)
                for path, data in effective.items()}, head=head))
            return CommitResult(head, tuple(paths), blobs)

    def _stat_index(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.git_dir / "index")
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _index_untouched_since_our_commit(self) -> bool:
        """True when the index is the one our last commit left (so only our `git add` changed it).

        Our own `git add` has just rewritten it, so compare what it was before that add. Before this process's
        first commit there is no such commit: the index is adopted when it stages exactly ``HEAD``'s tree
        (``git diff-index --cached``, ~2 ms on 10,000 files with git's cached trees), so the first save after a
        start is not the one that pays ``git commit``'s ``lstat`` of every file (60-80 ms on 10,000 files)."""
        if self._index_stamp is None and self._index_before_add is not None:
            try:
                self._git("diff-index", "--cached", "--quiet", "HEAD", "--")
            except MemoryRepoError:  # something is staged, or git could not tell: the porcelain path decides
                return False
            if self._stat_index() == self._index_before_add:  # nobody wrote the index while git looked
                self._index_stamp = self._index_before_add
        return self._index_before_add is not None and self._index_before_add == self._index_stamp

    def _apply_to_worktree(self, changes: Mapping[str, bytes | None]) -> None:
        write_into_worktree(self.path, self.git_dir / "letta-tmp", changes)

    # ------------------------------------------------------------------ history, restore, backups
    def restore(self, rev: str, author: Author, paths: Iterable[str] | None = None,
                message: str | None = None) -> CommitResult:
        """Make ``paths`` (default: all memory) as they were at ``rev``, as a new commit."""
        commit = self.rev_parse(rev)
        old = self.snapshot(commit)
        with self.locked():
            now = self.snapshot()
            wanted = list(paths) if paths is not None else sorted(set(old.files) | set(now.files))
            changes: dict[str, bytes | None] = {}
            for path in wanted:
                check_memory_path(path)
                before = old.get(path)
                if before is None and now.get(path) is None:
                    raise MemoryFileNotFoundError(path, rev)
                changes[path] = before.data if before else None
            return self.commit(changes, message or f"restore: memory as of {commit[:12]}", author)

    def backup(self, backups_dir: Path, label: str = "manual") -> str:
        """Keep HEAD under ``refs/letta-backup/<label>-<time>`` and as a git bundle in ``backups_dir``. Only the
        ref needs the writer lock: the bundle (seconds on a big memory) copies objects that never change, and
        saves arriving meanwhile (a defrag backs up before it starts) must not wait for it."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        safe_label = "".join(c if c.isalnum() or c in "-_" else "-" for c in label) or "backup"
        name = f"{safe_label}-{stamp}"
        ref = BACKUP_REF_PREFIX + name
        with self.locked():
            head = self.head()
            if head is None:
                raise MemoryRepoError("memory has no commit to back up yet")
            self._git("update-ref", ref, head)
        backups_dir.mkdir(parents=True, exist_ok=True)
        self._git("bundle", "create", "-q", str(backups_dir / f"{name}.bundle"), ref)
        return ref

    def backups(self) -> list[tuple[str, str]]:
        """(ref, commit) of every backup, newest first."""
        out = self._git("for-each-ref", "--sort=-refname", "--format=%(refname) %(objectname)", BACKUP_REF_PREFIX)
        return [tuple(line.split(" ", 1)) for line in out.decode().splitlines() if line]  # type: ignore[misc]

    def is_dirty(self) -> bool:
        return bool(self._git("status", "--porcelain", "-z").strip(b"\x00"))
