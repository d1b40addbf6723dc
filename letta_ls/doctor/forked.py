"""Half of a cold audit's per-file work done by a forked copy of the process, on the second core.

``letta-ls doctor DIR`` on 10,000 files is about two seconds of per-file work (scans, passages, token counts,
the secret scan) that one process does on one core, and nearly all of it is independent per file. A forked
child already holds everything the parent computed (the snapshot, the loaded tokenizer, the audit's context,
the same string hash seed, so the same passage hashes): it works through the second half of the files while
the parent works through the first, and sends its results back through a pipe as one pickle. The parent puts
them in the same blob-keyed caches a warm audit would have filled, and the audit itself then runs as always,
so the findings are those of the one-process audit (``tests/doctor/test_forked_audit.py`` compares them).

Only where forking is safe and pays: Linux (``fork`` without ``exec`` is unsafe with macOS's frameworks),
a process with no other thread (a forked child gets only the calling thread; a lock another thread held
would never be released), at least two CPUs, and a large memory. The language server never asks for it:
its audit worker is kept to one core so that requests keep the other. Whatever goes wrong in the child (it
dies, is killed, sends nothing usable), the parent does that half itself: the result is the same, only slower.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("letta_ls.doctor")

MIN_ITEMS = 1000  # below this the per-file work is a fraction of a second: not worth a fork


def can_fork(items: int) -> bool:
    """Whether sharing ``items`` pieces of work with a forked child is safe and worth it here."""
    return (
        items >= MIN_ITEMS
        and sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and threading.active_count() == 1
        and len(os.sched_getaffinity(0)) >= 2
    )


def split_with_a_fork(items: Sequence[T], work: Callable[[Sequence[T]], R]) -> list[R]:
    """``work`` over the first half of ``items`` here and over the second half in a forked child, at once.

    Returns the results of both halves (this process's first); when no child could help, ``work`` over all
    of ``items`` here (one result). ``work``'s result must pickle. The caller checks ``can_fork`` first."""
    middle = len(items) // 2
    mine, theirs = items[:middle], items[middle:]
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        log.info("could not fork to share the audit (%s); auditing in one process", exc)
        return [work(items)]
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers or flushes its buffers
        status = 1
        try:
            os.close(read_end)
            payload = pickle.dumps(work(theirs), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    results = [work(mine)]
    try:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
    finally:
        _, status = os.waitpid(pid, 0)
    try:
        if status != 0:
            raise ValueError(f"the child ended with status {status}")
        results.append(pickle.loads(payload))
    except Exception as exc:  # a child that died or sent nothing usable: its half is done here
        log.info("the forked half of the audit failed (%s); doing it in this process", exc)
        results.append(work(theirs))
    return results
