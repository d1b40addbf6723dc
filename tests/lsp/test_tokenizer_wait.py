"""While the tokenizer loads, the work that needs it waits on the event loop, not in a worker thread (issue 14).

The server loads the tokenizer in a worker thread at ``initialize`` (~1 s: its ranks are parsed in Python).
The first audit, and the audit after every save that lands meanwhile, asked for the counter in a worker
thread and sat there on the tokenizer's lock; a save whose refresh replaced the previous one left that one's
thread waiting too. With the 4 threads taken, a read (``workspace/textDocumentContent``) sent in the first
second waited for the load: 600 ms on a 100-file memory in ``bench/scale.py --only lsp``. The real
``LettaServer``, its worker pool, ``Session`` and ``DiagnosticsPublisher`` here; only the tokenizer's load
is made slower (1.5 s), as on a loaded machine.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pygls.workspace import Workspace

import letta_ls.memfs.tokens as tokens
from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.server.app import LettaServer
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.session import Session

LOAD_SECONDS = 1.5


@pytest.mark.timeout(60)
def test_a_read_finds_a_worker_thread_while_the_tokenizer_loads_and_saves_land(tmp_path, monkeypatch):
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    MemoryRepo(agent.memory_dir).commit(
        {f"reference/note-{i}.md": f"---\ndescription: Note {i}.\n---\nBody {i}.\n".encode() for i in range(20)},
        "notes", Author("Test", "t@example.com"))
    real_load = tokens._load_exact
    loads = []

    def slow_load():
        if not loads:  # the first load only (the real one is cached): the tokenizer's ranks being parsed
            loads.append(time.perf_counter())
            time.sleep(LOAD_SECONDS)
        return real_load()

    monkeypatch.setattr(tokens, "_load_exact", slow_load)

    async def read_latency() -> float:
        ls = LettaServer()
        ls.session = Session(home)
        ls.protocol._workspace = Workspace(None)
        ls.text_document_publish_diagnostics = lambda params: None
        publisher = DiagnosticsPublisher(ls)
        try:
            ls.warm_tokenizer()  # what ``initialize`` does
            await asyncio.sleep(0.05)
            for _ in range(4):  # the first audit, then saves landing while the tokenizer loads
                publisher.refresh_committed()
                await asyncio.sleep(0.05)
            start = time.perf_counter()
            await ls.run_blocking(ls.current.repo.head)  # a read's work in the worker pool
            return time.perf_counter() - start
        finally:
            while ls.background:
                await asyncio.gather(*list(ls.background), return_exceptions=True)
            await publisher.stop()
            ls.executor.shutdown(wait=True)

    waited = asyncio.run(read_latency())
    assert loads, "the tokenizer was not loaded"
    assert waited < 0.5, f"a read waited {waited:.2f} s for a worker thread while the tokenizer loaded"
