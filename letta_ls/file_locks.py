"""Locks across processes on an open file: the one implementation every lock letta-ls takes goes through
(the memory's writer lock, the subagent runner's run lock, the sync lock, settings, conversations and their
transcripts, the sleep-time state, a model's download).

Built on ``filelock`` (tox-dev), which locks a caller-owned descriptor with the platform's own primitive:
``flock`` on Linux and macOS, ``LockFileEx`` on Windows. Either way the operating system drops the lock
when its descriptor is closed or the holding process dies (a crash never leaves memory locked), and a second
descriptor of the same file in the same process waits like another process would. We keep the descriptor
(rather than use ``filelock.FileLock``) because the writer lock writes its holder's pid and command into the
locked file and the transcripts lock the very file they append to.

Shared locks (readers of a transcript, which only need to never see half of an append) are ``flock(LOCK_SH)``
where ``fcntl`` exists; elsewhere a reader takes the exclusive lock, which is correct, only less concurrent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor

POLL_SECONDS = 0.005  # between attempts of a blocking lock: short, since every lock here is held briefly


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` if nobody holds it; False (at once) if somebody does."""
    return lock_descriptor(fd, blocking=False)


def lock(fd: int, *, shared: bool = False) -> None:
    """Wait for the lock on ``fd`` (exclusive, or shared with other readers where the platform has them)."""
    if shared and sys.platform != "win32":
        import fcntl  # here, not at the top: loading this module must not need it

        fcntl.flock(fd, fcntl.LOCK_SH)
        return
    lock_descriptor(fd, blocking=True, poll_interval=POLL_SECONDS)


def unlock(fd: int) -> None:
    """Release the lock on ``fd``; the descriptor stays open. Closing it releases the lock too."""
    unlock_descriptor(fd)


def lock_until(fd: int, deadline: float, *, poll_seconds: float = 0.02) -> bool:
    """Wait for the exclusive lock on ``fd`` until ``time.monotonic()`` reaches ``deadline``; False if it did."""
    while not try_lock(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_seconds)
    return True


async def lock_async(fd: int, *, poll_seconds: float, still_wanted: Callable[[], bool] = lambda: True) -> bool:
    """Wait for the exclusive lock on ``fd`` without blocking the event loop, for as long as ``still_wanted()``
    says the lock is needed; False when it no longer is."""
    while still_wanted():
        if try_lock(fd):
            return True
        await asyncio.sleep(poll_seconds)
    return False


@contextlib.contextmanager
def locked_file(path: Path, *, shared: bool = False, flags: int = os.O_RDWR | os.O_CREAT) -> Iterator[int]:
    """``path`` opened with ``flags`` and held under the lock for as long as the ``with`` block runs; the
    descriptor is yielded."""
    fd = os.open(path, flags, 0o644)
    try:
        lock(fd, shared=shared)
        yield fd
    finally:
        with contextlib.suppress(OSError):
            unlock(fd)
        os.close(fd)


@contextlib.asynccontextmanager
async def locked_file_async(path: Path, *, poll_seconds: float) -> AsyncIterator[int]:
    """``path`` held under the exclusive lock for as long as the ``async with`` block runs, waiting for it
    without blocking the event loop."""
    fd = await asyncio.to_thread(os.open, path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await lock_async(fd, poll_seconds=poll_seconds)
        try:
            yield fd
        finally:
            with contextlib.suppress(OSError):
                unlock(fd)
    finally:
        os.close(fd)
