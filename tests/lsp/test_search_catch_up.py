"""The search index follows commits in the background without taking the server's worker threads (issue 14).

The first catch-up of a 10,000-file memory takes seconds, and it holds SQLite's write lock. Before this
test, every save meanwhile started one more catch-up in the server's worker pool, which sat waiting for
that lock (up to 15 s): four saves and all four worker threads were taken, and a read waited seconds for
a thread. Now catch-ups run one at a time, and the commits that land during one are caught up by one more
run after it, so the index still ends at the newest ``HEAD``. The server here is the real ``LettaServer``
(its real worker pool) in process, with a real repository and index; only the catch-up is held at a gate
so the burst of commits lands while it runs.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

import letta_ls.server.search as server_search
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import search_memory
from letta_ls.server.app import LettaServer
from letta_ls.server.search import SearchIndexFeature

AUTHOR = Author("Test", "test@example.com")


@pytest.mark.timeout(60)
def test_a_burst_of_commits_during_a_catch_up_takes_one_worker_thread_and_ends_at_the_newest_head(tmp_path,
                                                                                                   monkeypatch):
    agent_dir = tmp_path / "agent"
    repo = MemoryRepo.create(agent_dir / "memory", {"reference/a.md": "---\ndescription: A.\n---\nFirst.\n"},
                             AUTHOR)
    real_index_memory = server_search.index_memory
    gate = threading.Event()
    running = 0
    most_at_once = 0
    runs = 0
    lock = threading.Lock()

    def gated_index_memory(index: SearchIndex, repo: MemoryRepo) -> str | None:
        nonlocal running, most_at_once, runs
        with lock:
            running += 1
            runs += 1
            most_at_once = max(most_at_once, running)
        try:
            gate.wait(20)
            return real_index_memory(index, repo)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(server_search, "index_memory", gated_index_memory)

    async def scenario() -> None:
        ls = LettaServer()
        ls.session = SimpleNamespace(agent=SimpleNamespace(dir=agent_dir), repo=repo)
        feature = SearchIndexFeature(ls)
        feature.after_commit(["reference/a.md"])
        await asyncio.sleep(0.2)  # the first catch-up is running (held at the gate)
        for n in range(8):  # saves keep landing while it runs
            repo.commit({f"reference/note-{n}.md": f"---\ndescription: Note {n}.\n---\nkumquat {n}\n".encode()},
                        f"note {n}", AUTHOR)
            feature.after_commit([f"reference/note-{n}.md"])
        await asyncio.sleep(0.2)
        try:
            answered = await asyncio.wait_for(ls.run_blocking(lambda: "free"), 5)  # a read finds a worker thread
        finally:
            gate.set()
        assert answered == "free"
        while ls.background:
            await asyncio.gather(*list(ls.background), return_exceptions=True)
        ls.executor.shutdown(wait=True)

    asyncio.run(scenario())
    assert most_at_once == 1, f"{most_at_once} catch-ups ran at once"
    assert runs <= 2, f"{runs} catch-ups for one burst of commits"
    index = SearchIndex.for_agent(agent_dir)
    assert index.run(lambda db: db.execute("SELECT value FROM state WHERE key = 'memory_head'").fetchone()[0]) \
        == repo.head()
    assert len(search_memory(index, repo, "kumquat")) == 8
