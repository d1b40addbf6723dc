"""The writer lock of a memory work tree: one writer at a time across threads and processes.

A repository's writers take an in-process ``RLock`` shared by every ``MemoryRepo`` of the same
directory, then an exclusive ``flock`` on a lock file in the work tree's git directory, so threads and
processes never interleave (no lost update, no ``index.lock`` race). The lock is re-entrant within a
thread: the nesting depth lives on the shared ``WriterLock``, so two ``MemoryRepo`` objects for one
directory used in one thread re-enter it instead of blocking on their own ``flock``. Whoever takes it
first gets to clear what a crashed writer left (``clear_stale_git_locks`` and the repository's own
checks, run by ``hold_writer_lock`` on acquiring). It exists apart from ``repo.py`` because the lock's
rules (sharing, re-entry, staleness) are a concern of their own; it knows nothing of commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

STALE_LOCK_SECONDS = 10.0


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
def hold_writer_lock(state: WriterLock, lock_file: Path, on_acquire: Callable[[], None]) -> Iterator[None]:
    """Hold ``state`` and the ``flock`` on ``lock_file``; re-entrant in a thread. ``on_acquire`` runs once the
    outermost hold has both, before the caller's block."""
    with state.rlock:
        if state.depth:
            state.depth += 1
            try:
                yield
            finally:
                state.depth -= 1
            return
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state.depth = 1
            try:
                on_acquire()
                yield
            finally:
                state.depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


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
