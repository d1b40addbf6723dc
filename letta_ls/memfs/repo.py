"""The memory repository: git-backed storage where every change is one atomic, serialised commit.

``MemoryRepo`` owns all git access for a memory directory (GitPython over the git CLI, plus one-shot
``git cat-file --batch`` reads). Guarantees:

- A change writes each file to a temporary file in ``.git/letta-tmp`` and renames it into place, then
  stages and commits exactly the changed paths; if git fails, the working tree is put back to ``HEAD``
  for those paths, so a refused change leaves nothing behind.
- Writers are serialised by a per-repository thread lock plus an ``flock`` on ``.git/letta-ls.lock``,
  so threads and processes never interleave (no lost update, no ``index.lock`` race).
- Reads (snapshots, history) come from commits only, never from the working tree.
- A writer killed at any point leaves a repository that opens; ``recover()`` clears what it left
  (stale lock files of dead git processes, temporary files).

It knows nothing of agents, the doctor, LSP or the model.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from letta_ls.memfs.paths import check_memory_path, resolve_in
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, git_blob_id

BRANCH = "main"
BACKUP_REF_PREFIX = "refs/letta-backup/"
STALE_LOCK_SECONDS = 10.0
_GIT_CONFIG = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.quotepath=off")


class MemoryRepoError(RuntimeError):
    """A git operation on memory failed; the message says what and how to recover."""


class MemoryFileNotFoundError(FileNotFoundError):
    def __init__(self, path: str, rev: str = "HEAD") -> None:
        self.path = path
        super().__init__(f"no memory file {path!r} at {rev}")


class StaleVersionError(RuntimeError):
    """The file changed since the version the writer based its edit on; nothing was written."""

    def __init__(self, path: str, expected: str | None, actual: str | None) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path} changed since version {(expected or 'none')[:12]} (it is now {(actual or 'deleted')[:12]}); "
            "reload it, reapply your edit and save again"
        )


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


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


_authors: dict[str, tuple[float, Author]] = {}


def user_author(cwd: Path | None = None) -> Author:
    """The user's git identity, else ``letta-ls user`` (SPEC section 4); looked up once a minute at most."""
    key = str(cwd or "")
    cached = _authors.get(key)
    if cached is not None and time.monotonic() - cached[0] < 60:
        return cached[1]
    author = _lookup_user_author(cwd)
    _authors[key] = (time.monotonic(), author)
    return author


def _lookup_user_author(cwd: Path | None) -> Author:
    def config(key: str) -> str | None:
        try:
            out = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                                 cwd=cwd, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None

    return Author(config("user.name") or "letta-ls user", config("user.email") or "user@letta-ls.local")


class _WriterLock:
    """The in-process half of a repository's writer lock, shared by every ``MemoryRepo`` of one directory.

    The nesting depth lives here rather than on the instance, so two ``MemoryRepo`` objects for the same
    directory used in one thread re-enter the lock instead of blocking on their own ``flock``."""

    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0


_thread_locks: dict[str, _WriterLock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(key: str) -> _WriterLock:
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = _WriterLock()
        return lock


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
        self._lock = _thread_lock(self._key)
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
    def locked(self) -> Iterator[None]:
        """Serialise writers across threads (RLock) and processes (flock); re-entrant in a thread.

        The lock file is ``letta-ls.lock`` in this work tree's git directory: ``.git/`` for the memory
        itself, ``.git/worktrees/<name>/`` for a subagent's worktree, so a subagent committing in its
        worktree never waits for the main agent (their index and branch are separate). On acquiring it,
        a branch move that a crashed process left half-applied is finished first (``memfs.checkout``).
        """
        state = self._lock
        with state.rlock:
            if state.depth:
                state.depth += 1
                try:
                    yield
                finally:
                    state.depth -= 1
                return
            fd = os.open(self.git_dir / "letta-ls.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                state.depth = 1
                try:
                    self._clear_stale_git_locks()
                    self._finish_interrupted_advance()
                    yield
                finally:
                    state.depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _finish_interrupted_advance(self) -> None:
        from letta_ls.memfs.checkout import ADVANCE_JOURNAL, finish_interrupted_advance

        if (self.git_dir / ADVANCE_JOURNAL).exists():
            finish_interrupted_advance(self)

    def _clear_stale_git_locks(self) -> None:
        """Remove lock files left by a git process that died; wait briefly for a live one."""
        branch_ref = self._head_ref() or f"refs/heads/{BRANCH}"
        candidates = [self.git_dir / "index.lock", self.git_dir / "HEAD.lock",
                      self.common_dir / f"{branch_ref}.lock", self.common_dir / "packed-refs.lock"]
        deadline = time.monotonic() + STALE_LOCK_SECONDS
        for lock in candidates:
            while lock.exists():
                try:
                    age = time.time() - lock.stat().st_mtime
                except FileNotFoundError:
                    break
                if age > STALE_LOCK_SECONDS or time.monotonic() > deadline:
                    with contextlib.suppress(FileNotFoundError):
                        lock.unlink()
                    break
                time.sleep(0.05)

    def recover(self) -> list[str]:
        """Clean up after a crashed writer; returns what was done (for logs)."""
        done = []
        with self.locked():
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
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        proc = subprocess.run(["git", *_GIT_CONFIG, *args], cwd=self.path, env=full_env, input=input,
                              capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def head_ref(self) -> str | None:
        """The ref this work tree has checked out (``refs/heads/main``), None when HEAD is detached."""
        return self._head_ref()

    def read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each blob id, read in one ``git cat-file --batch`` (and cached)."""
        return self._read_blobs(blob_ids)

    def _git(self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> bytes:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        proc = subprocess.run(["git", *_GIT_CONFIG, *args], cwd=self.path, env=full_env, input=input,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip() or proc.stdout.decode("utf-8", "replace").strip()
            raise MemoryRepoError(f"git {args[0]} failed: {detail}")
        return proc.stdout

    def head(self) -> str | None:
        """The commit ``main`` points at, read from the ref files (no process spawned)."""
        ref_name = self._head_ref()
        if ref_name is None:
            return (self.git_dir / "HEAD").read_text().strip() or None
        loose = self.common_dir / ref_name
        try:
            value = loose.read_text().strip()
            if value:
                return value
        except (FileNotFoundError, IsADirectoryError):
            pass
        try:
            for line in (self.common_dir / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref_name):
                    return line.split(" ", 1)[0]
        except FileNotFoundError:
            pass
        return None

    def _head_ref(self) -> str | None:
        text = (self.git_dir / "HEAD").read_text().strip()
        return text[5:].strip() if text.startswith("ref:") else None

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
            pos = 0
            for blob in wanted:
                nl = out.index(b"\n", pos)
                header = out[pos:nl].split()
                if len(header) < 3 or header[1] == b"missing":
                    raise MemoryRepoError(f"blob {blob} is missing from the repository")
                size = int(header[2])
                self._blobs[blob] = out[nl + 1 : nl + 1 + size]
                pos = nl + 1 + size + 1
            if len(self._blobs) > 100_000:
                self._blobs.clear()
        return {b: self._blobs[b] for b in blob_ids}

    def _tree(self, rev: str) -> dict[str, str]:
        out = self._git("ls-tree", "-r", "-z", "--full-tree", rev)
        tree: dict[str, str] = {}
        for entry in out.split(b"\x00"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            _mode, kind, blob = meta.split(b" ")
            if kind == b"blob":
                tree[path.decode("utf-8", "surrogateescape")] = blob.decode()
        return tree

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
        snap = MemorySnapshot(commit, {p: MemoryFile(p, b, blobs[b]) for p, b in sorted(tree.items())})
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
            base = self.snapshot() if self.head() else MemorySnapshot(None, {})
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
                    if not doomed and not resolve_in(self.path, path).exists():
                        raise MemoryFileNotFoundError(path)
                    for p in doomed:
                        effective[p] = None
                        blobs[p] = None
                    if not doomed:
                        effective[path] = None
                else:
                    blob = git_blob_id(data)
                    current = base.get(path)
                    if current is None or current.blob != blob or not self._worktree_matches(path, blob):
                        effective[path] = data
                    blobs[path] = blob
            if not effective:
                return CommitResult(None, (), blobs)
            paths = sorted(effective)
            try:
                self._apply_to_worktree(effective)
                self._index_before_add = self._stat_index()
                self._git("add", "-A", "--", *paths)
                if self._index_untouched_since_our_commit():
                    # nothing else is staged: a plain commit, as cheap as `git add` + `git commit` by hand
                    self._git("commit", "-q", "--no-verify", "-m", message, env=author.env())
                else:
                    # someone else touched the index: commit only our paths, leave theirs staged
                    self._git("commit", "-q", "--no-verify", "-m", message, "--", *paths, env=author.env())
                self._index_stamp = self._stat_index()
            except BaseException:
                self._restore_worktree(base, paths)
                raise
            head = self.head()
            if head is None:
                raise MemoryRepoError("the commit did not move main; run `git status` in the memory directory")
            files = dict(base.files)
            for path, data in effective.items():
                if data is None:
                    files.pop(path, None)
                else:
                    files[path] = MemoryFile(path, blobs[path] or git_blob_id(data), data)
            self._remember_snapshot(MemorySnapshot(head, dict(sorted(files.items()))))
            return CommitResult(head, tuple(paths), blobs)

    def _stat_index(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.git_dir / "index")
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _index_untouched_since_our_commit(self) -> bool:
        """True when the index is the one our last commit left (so only our `git add` changed it).

        Our own `git add` has just rewritten it, so compare what it was before that add."""
        return self._index_before_add is not None and self._index_before_add == self._index_stamp

    def _worktree_matches(self, path: str, blob: str) -> bool:
        try:
            return git_blob_id(resolve_in(self.path, path).read_bytes()) == blob
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False

    def _apply_to_worktree(self, changes: Mapping[str, bytes | None]) -> None:
        tmp_dir = self.git_dir / "letta-tmp"
        tmp_dir.mkdir(exist_ok=True)
        for path, data in changes.items():
            target = resolve_in(self.path, path)
            if data is None:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        target.unlink()
                self._prune_empty_dirs(target.parent)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="write-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    def _prune_empty_dirs(self, folder: Path) -> None:
        root = self.path.resolve()
        current = folder
        while current.resolve() != root and current.exists():
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    def _restore_worktree(self, base: MemorySnapshot, paths: list[str]) -> None:
        """Put the working tree and index back to ``base`` for ``paths`` after a failed commit."""
        with contextlib.suppress(Exception):
            if base.head:
                self._git("reset", "-q", base.head, "--", *paths)
            restore: dict[str, bytes | None] = {}
            for path in paths:
                old = base.get(path)
                restore[path] = old.data if old else None
            for path, data in restore.items():
                target = resolve_in(self.path, path)
                if data is None:
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        target.unlink()
                    self._prune_empty_dirs(target.parent)
                else:
                    self._apply_to_worktree({path: data})

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
        """Keep HEAD under ``refs/letta-backup/<label>-<time>`` and as a git bundle in ``backups_dir``."""
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
