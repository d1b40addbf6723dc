"""The audit of a large memory never holds the request path: the worker process yields the CPU, and the
server's event loop never waits on the audit's account (issue 14).

On two cores shared with the editor, the worker auditing 10,000 files takes a whole core; at the same
scheduling priority as the server it competes with every read and save for it. So the worker lowers its
own priority (``nice``) and a request waiting for the CPU goes first. These tests run the real
``BackgroundAuditor`` (a spawned worker process auditing a real git repository), not a stand-in.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace import Workspace

import letta_ls.session as session_module
from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.server.app import LettaServer
from letta_ls.server.audits import AUDIT_WORKER_NICENESS, PROCESS_AUDIT_MIN_FILES, BackgroundAuditor
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.session import Session
from letta_ls.settings import MemorySettings
from tests.lsp.test_background_audit import BODY, children_of


def small_memory(root: Path) -> MemoryRepo:
    return MemoryRepo.create(root / "memory", {
        "system/persona.md": "---\ndescription: Who I am.\n---\nA careful coding agent.\n",
        "reference/deploy.md": "---\ndescription: How to deploy.\n---\nRun make deploy.\n",
    }, Author("Test", "test@example.com"))


@pytest.mark.timeout(120)
def test_the_audit_worker_runs_at_a_lower_cpu_priority_than_the_server(tmp_path):
    repo = small_memory(tmp_path)
    before = children_of(os.getpid())

    async def niceness_of_the_workers() -> dict[int, int]:
        auditor = BackgroundAuditor()
        try:
            result = await auditor.audit(repo.path, repo.head(), MemorySettings(), False)
            assert result is not None, "the audit gave no result"
            return {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in children_of(os.getpid()) - before
                    if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()}
        finally:
            await auditor.close()

    workers = asyncio.run(niceness_of_the_workers())
    assert len(workers) == 1, f"not one audit worker process: {workers}"
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(niceness >= min(19, ours + AUDIT_WORKER_NICENESS) for niceness in workers.values()), (workers, ours)


@pytest.mark.timeout(180)
def test_an_audit_of_a_large_memory_never_holds_the_event_loop_while_the_tokenizer_loads(tmp_path, monkeypatch):
    """The server warms the tokenizer in a thread at ``initialize`` (its native library takes ~1 s to load);
    the first audit asked whether it counts exactly on the event loop, so it waited there for that load and
    every request with it (a read at startup took 2.8 s on a 10,000-file memory)."""
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    MemoryRepo(agent.memory_dir).commit(
        {f"reference/note-{i}.md": f"---\ndescription: Note {i}.\n---\n{BODY}".encode()
         for i in range(PROCESS_AUDIT_MIN_FILES + 20)}, "a large memory of copies", Author("Test", "t@example.com"))
    real_get_token_counter = session_module.get_token_counter

    def slow_to_load(exact: bool = True):
        time.sleep(1.5)  # the tokenizer still loading in the warm-up thread
        return real_get_token_counter(exact)

    monkeypatch.setattr(session_module, "get_token_counter", slow_to_load)
    published: list[types.PublishDiagnosticsParams] = []

    async def longest_stall_of_the_loop() -> float:
        ls = LettaServer()
        ls.session = Session(home)
        ls.protocol._workspace = Workspace(None)  # what ``initialize`` sets up
        ls.text_document_publish_diagnostics = published.append
        publisher = DiagnosticsPublisher(ls)
        stalls: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                stalls.append(now - last - 0.01)
                last = now

        ticker = asyncio.create_task(tick())
        try:
            await publisher._refresh_committed()
        finally:
            done.set()
            await ticker
            await publisher.stop()
            ls.executor.shutdown(wait=True)
        return max(stalls)

    worst = asyncio.run(longest_stall_of_the_loop())
    assert len(published) >= PROCESS_AUDIT_MIN_FILES, "the audit's findings were not published"
    assert worst < 0.75, f"the event loop was held {worst:.2f} s"
