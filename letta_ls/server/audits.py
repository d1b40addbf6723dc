"""Full audits of committed memory in a separate process, so no request ever waits on one (issue 14).

A full audit of a 10,000-file memory is seconds of pure-Python CPU. Run in the server's worker
threads it held the GIL and the pool, and a read or a save arriving meanwhile waited behind it (a
``letta/memoryWrite`` after 300 reads got no answer in 30 s). Here it runs in one worker *process*
(``ProcessPoolExecutor`` with the ``spawn`` context: never ``fork``, which would copy the server's
threads and locks; not ``forkserver``, whose server process outlives a killed editor), created on
first use and kept, so its blob-keyed caches and duplicate index stay warm and each later audit only
re-checks what changed. The worker runs at a lower CPU priority (``nice``) than the server, so on a
machine with few cores a read or a save takes the CPU from the audit rather than waiting for a time
slice beside it. The worker watches its parent and exits when the server is gone, however the
server ended (a ``ProcessPoolExecutor`` worker otherwise waits for work for ever).

The worker reads the commit itself from git (only the repository path and the commit id cross the
process boundary, not the files). A newer ``HEAD`` supersedes an audit in progress: the worker checks
a shared generation counter between files and gives up on a stale audit, and an audit asked for while
one runs waits its turn with only the newest ``HEAD`` kept.

The same worker catches the search index of a large memory up with ``HEAD`` (``catch_up_search_index``):
the first index of 10,000 files is ~7.5 s of Python and SQLite, which in a server thread held the GIL
while reads and saves waited. SQLite's WAL and ``BEGIN IMMEDIATE`` let the worker write while the server
reads (``letta_ls.search.index``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from letta_ls.doctor.audit import AuditResult, AuditSuperseded, audit
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import index_memory
from letta_ls.settings import MemorySettings

log = logging.getLogger("letta_ls.server")
T = TypeVar("T")
# below this many files an audit is milliseconds: it runs in a worker thread, without the process hop
# (and without starting the worker process, a fresh interpreter that loads the tokenizer: seconds)
PROCESS_AUDIT_MIN_FILES = 300
# how much the worker lowers its CPU priority (``nice``): on 2 cores the audit would otherwise take a core the
# server's reads and saves need; niced, it gets the CPU the request path leaves (it still gets a whole idle core)
AUDIT_WORKER_NICENESS = 10

# --- in the worker process ---------------------------------------------------------------------------
_generation: Any = None  # multiprocessing.Value shared with the server: the newest audit asked for
_repos: dict[str, MemoryRepo] = {}


def _init_worker(generation: Any, server_pid: int) -> None:
    global _generation
    _generation = generation
    try:
        os.nice(AUDIT_WORKER_NICENESS)  # the request path wins the CPU (docs/benchmarks-scale.md)
    except OSError as exc:  # a sandbox may forbid it: the audit still runs, at the server's priority
        log.info("could not lower the audit worker's priority: %s", exc)

    def exit_with_the_server() -> None:
        while os.getppid() == server_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=exit_with_the_server, name="letta-audit-parent-watch", daemon=True).start()


def _repo(repo_path: str) -> MemoryRepo:
    repo = _repos.get(repo_path)
    if repo is None:
        repo = _repos[repo_path] = MemoryRepo(Path(repo_path))
    return repo


def _audit_commit(repo_path: str, commit: str, settings: MemorySettings, exact: bool,
                  generation: int | None) -> AuditResult:
    """The audit of ``commit``; given up when a newer one is asked for, unless ``generation`` is None (an audit a
    command waits for: ``letta.doctor``, a defrag's before and after)."""
    snapshot = _repo(repo_path).snapshot(commit)

    def superseded() -> bool:
        return generation is not None and _generation is not None and _generation.value != generation

    return audit(snapshot, settings, get_token_counter(exact), should_stop=superseded)


def _catch_up_search_index(agent_dir: str, repo_path: str) -> str | None:
    """The agent's search index brought to the memory's HEAD as it is now (``letta_ls.search.memory``)."""
    return index_memory(SearchIndex.for_agent(agent_dir), _repo(repo_path))


# --- in the server -----------------------------------------------------------------------------------
class WorkerUnavailable(Exception):
    """The worker process could not do the job (it died twice, or the server is shutting down)."""


class BackgroundAuditor:
    """Audits of committed snapshots, and the search index's catch-ups of a large memory, in one worker
    process; the newest ``HEAD`` wins."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._context = multiprocessing.get_context("spawn")
        self._generation = self._context.Value("q", 0, lock=False)
        self._lock = threading.Lock()
        self._turn = asyncio.Lock()
        self.closed = False

    @property
    def started(self) -> bool:
        """Whether the worker process is running (it starts on first use: a fresh interpreter, seconds)."""
        return self._pool is not None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context,
                                                 initializer=_init_worker, initargs=(self._generation, os.getpid()))
            return self._pool

    async def audit(self, repo_path: Path, commit: str, settings: MemorySettings, exact: bool) -> AuditResult | None:
        """The audit of ``commit``, or None when a newer audit was asked for before this one finished."""
        self._generation.value += 1
        mine = self._generation.value
        async with self._turn:  # one at a time; a stale one waiting its turn is skipped at once
            if self._generation.value != mine:
                return None
            loop = asyncio.get_running_loop()
            pool = self._executor()
            try:
                return await loop.run_in_executor(pool, _audit_commit, str(repo_path), commit, settings, exact, mine)
            except AuditSuperseded:
                return None
            except BrokenProcessPool:  # the worker died (killed, out of memory): start a new one next time
                self._forget_broken_pool(pool)
                return None

    async def audit_for_a_command(self, repo_path: Path, commit: str, settings: MemorySettings,
                                  exact: bool) -> AuditResult:
        """The audit of ``commit`` for a command that waits for it (``letta.doctor``, a defrag's before and after):
        queued in the worker like the others, never superseded by a newer ``HEAD``, and not superseding the
        diagnostics' audit either. A worker that died is replaced once; ``WorkerUnavailable`` after that."""
        return await self._in_the_worker(_audit_commit, str(repo_path), commit, settings, exact, None)

    async def catch_up_search_index(self, agent_dir: Path, repo_path: Path) -> str | None:
        """Catch the agent's search index up with the memory's HEAD in the worker process; the HEAD indexed.

        Queued behind the audit in progress (one worker, first come first served) rather than competing with
        it for the CPU, and niced like it: the server process never holds the GIL for a large memory's index.
        A worker that died is replaced once; ``WorkerUnavailable`` if that fails too or the server is closing."""
        return await self._in_the_worker(_catch_up_search_index, str(agent_dir), str(repo_path))

    async def _in_the_worker(self, job: Callable[..., T], *args: Any) -> T:
        """``job(*args)`` in the worker process, queued behind what it is doing; a worker that died is replaced
        once, and ``WorkerUnavailable`` says so when that one dies too or the server is closing."""
        loop = asyncio.get_running_loop()
        for _attempt in range(2):
            if self.closed:
                raise WorkerUnavailable("the server is shutting down")
            pool = self._executor()
            try:
                return await loop.run_in_executor(pool, job, *args)
            except BrokenProcessPool:
                self._forget_broken_pool(pool)
        raise WorkerUnavailable("the worker process died twice")

    def _forget_broken_pool(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not pool:
                return  # another caller replaced it already
            log.warning("the audit worker process died; restarting it")
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stop the worker (a ``shutdown`` hook): an audit in progress is superseded, nothing waits for it."""
        self._generation.value += 1
        self.closed = True
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
