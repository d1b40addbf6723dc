"""Threads that write one memory file at once, for the tests that prove no write is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo


def append_lines(repo_path: Path, writer: int, count: int, path: str = "shared.md") -> None:
    """Writer ``writer`` appends ``t<writer>-<i>`` for i < count, one commit each, through its own repository."""
    ops = MemoryOperations(MemoryRepo(repo_path), Author(f"t{writer}", f"t{writer}@x"))
    for i in range(count):
        ops.insert(path, 10**6, f"t{writer}-{i}", reason=f"t{writer} {i}")


def run_in_threads(*jobs: Callable[[], None]) -> list[BaseException]:
    """Run each job in its own thread, all at once; what they raised (nothing, when all went well)."""
    errors: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
