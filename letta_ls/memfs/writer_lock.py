"""The writer lock of a memory work tree: one writer at a time across threads and processes.

A repository's writers take an in-process ``RLock`` shared by every ``MemoryRepo`` of the same
directory, then an exclusive lock (``letta_ls.file_locks``: ``flock`` on Linux and macOS) on a lock file in
the work tree's git directory, so threads and processes never interleave (no lost update, no ``index.lock``
race). The lock is re-entrant within a thread: the nesting depth lives on the shared ``WriterLock``, so two
``MemoryRepo`` objects for one directory used in one thread re-enter it instead of blocking on their own
file lock. Whoever takes it first gets to clear what a crashed writer left (``clear_stale_git_locks`` and
the repository's own checks, run by ``hold_writer_lock`` on acquiring). It exists apart from ``repo.py``
because the lock's rules (sharing, re-entry, staleness) are a concern of their own; it knows nothing of
commits.

Waiting is bounded (``LETTA_LS_LOCK_TIMEOUT`` seconds, 60 by default): a writer that cannot get the lock
raises ``WriterLockTimeout`` naming who holds it (pid and command, found in ``/proc/locks`` or in the
lock file, where each holder writes its own), instead of hanging a command or an editor forever.
Readers never take this lock: they read commits, which git writes atomically.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from letta_ls.file_locks import lock_until, unlock
from letta_ls.memfs.repo_errors import WriterLockTimeout

STALE_LOCK_SECONDS = 10.0
DEFAULT_LOCK_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.02


def lock_wait_seconds() -> float:
    """How long a writer waits for the lock: ``LETTA_LS_LOCK_TIMEOUT`` (seconds) or 60."""
    try:
        value = float(os.environ.get("LETTA_LS_LOCK_TIMEOUT", DEFAULT_LOCK_WAIT_SECONDS))
    except ValueError:
        return DEFAULT_LOCK_WAIT_SECONDS
    return value if value >= 0 else DEFAULT_LOCK_WAIT_SECONDS


class WriterLock:
    """The in-process half of a repository's writer lock, shared by every ``MemoryRepo`` of one directory.

    The nesting depth lives here rather than on the instance, so two ``MemoryRepo`` objects for the same
    directory used in one thread re-enter the lock instead of blocking on their own ``flock``."""

    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0


_thread_locks: dict[str, WriterLock] = {}
_thread_locks_guard = threading.Lock()


def writer_lock_for(key: str) -> WriterLock:
    """The one ``WriterLock`` of the directory ``key`` (its resolved path) in this process."""
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = WriterLock()
        return lock


@contextlib.contextmanager
def hold_writer_lock(state: WriterLock, lock_file: Path, on_acquire: Callable[[], None],
                     timeout: float | None = None) -> Iterator[None]:
    """Hold ``state`` and the ``flock`` on ``lock_file``; re-entrant in a thread. ``on_acquire`` runs once the
    outermost hold has both, before the caller's block. Waits at most ``timeout`` seconds (default
    ``lock_wait_seconds()``; 0: do not wait), then raises ``WriterLockTimeout`` saying who holds it."""
    wait = lock_wait_seconds() if timeout is None else timeout
    deadline = time.monotonic() + wait
    acquired = state.rlock.acquire(timeout=wait) if wait > 0 else state.rlock.acquire(blocking=False)
    if not acquired:
        raise WriterLockTimeout(f"memory at {lock_file.parent} is being written by another task of this process "
                                f"(pid {os.getpid()}); gave up after {wait:g} s, try again")
    try:
        if state.depth:
            state.depth += 1
            try:
                yield
            finally:
                state.depth -= 1
            return
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _flock_until(fd, lock_file, deadline, wait)
            _write_holder(fd)
            state.depth = 1
            try:
                on_acquire()
                yield
            finally:
                state.depth = 0
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                unlock(fd)
        finally:
            os.close(fd)
    finally:
        state.rlock.release()


def _flock_until(fd: int, lock_file: Path, deadline: float, wait: float) -> None:
    if not lock_until(fd, deadline, poll_seconds=_POLL_SECONDS):
        raise WriterLockTimeout(
            f"memory is locked for writing by {describe_holder(lock_file)}; gave up after {wait:g} s. "
            f"Wait for it to finish (or stop it) and try again; the lock is {lock_file}")


def _write_holder(fd: int) -> None:
    """Leave ``<pid> <command>`` in the lock file, for whoever has to wait to say who they wait for."""
    command = " ".join(sys.argv)[:200] or "python"
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)  # not os.pwrite: Windows has none
        os.write(fd, f"{os.getpid()} {command}\n".encode("utf-8", "replace"))


def describe_holder(lock_file: Path) -> str:
    """``pid N (command)`` of the process holding the ``flock`` on ``lock_file``, as far as it can be known."""
    pid = _pid_from_proc_locks(lock_file)
    recorded = ""
    with contextlib.suppress(OSError):
        recorded = lock_file.read_text(encoding="utf-8", errors="replace").strip()
    recorded_pid, _, recorded_command = recorded.partition(" ")
    if pid is None and recorded_pid.isdigit():
        pid = int(recorded_pid)
    if pid is None:
        return "another process (its pid is unknown)"
    command = _command_of(pid) or (recorded_command if recorded_pid == str(pid) else "")
    return f"pid {pid}" + (f" ({command})" if command else "")


def _pid_from_proc_locks(lock_file: Path) -> int | None:
    try:
        info = os.stat(lock_file)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    suffix = f":{info.st_ino}"
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not the holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(suffix) and fields[4].isdigit():
            return int(fields[4])
    return None


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(raw.decode("utf-8", "replace").replace("\x00", " ").split())[:200]


def clear_stale_git_locks(candidates: Iterable[Path]) -> None:
    """Remove lock files left by a git process that died; wait briefly for a live one."""
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
