"""The search index of a large memory is caught up in the audit worker process, not in the server (issue 14).

The first catch-up of a 10,000-file memory is ~7.5 s of Python and SQLite; in a server thread it held the
GIL, and every read and save sent meanwhile waited for it (the busy p99 of the LSP bench). From
``PROCESS_AUDIT_MIN_FILES`` files on, the catch-up after a commit, and the one a ``letta/search`` on a
memory whose index is behind needs, run in the (niced) audit worker process. Each catch-up records the
process that wrote it in the index's ``state`` table (``memory_indexed_by``), which is what these tests
read. Real parts: the real ``LettaServer`` and its worker pool, the real ``BackgroundAuditor`` (a spawned
process), a real git repository and a real index file.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from letta_ls.contract.search import SearchParams
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.search.index import SearchIndex
from letta_ls.server.app import LettaServer
from letta_ls.server.audits import PROCESS_AUDIT_MIN_FILES, BackgroundAuditor
from letta_ls.server.search import SearchIndexFeature
from tests.lsp.test_background_audit import BODY, children_of

AUTHOR = Author("Test", "test@example.com")


def large_memory(agent_dir: Path, files: int = PROCESS_AUDIT_MIN_FILES + 20) -> MemoryRepo:
    notes = {f"reference/area-{i % 20}/note-{i}.md": f"---\ndescription: Note {i}.\n---\n{BODY}" for i in range(files)}
    notes["reference/rare.md"] = "---\ndescription: The odd one.\n---\nThe quokka lives on Rottnest Island.\n"
    return MemoryRepo.create(agent_dir / "memory", notes, AUTHOR)


def state(agent_dir: Path, key: str) -> str | None:
    found = SearchIndex.for_agent(agent_dir).run(
        lambda db: db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone())
    return found[0] if found else None


def server_for(agent_dir: Path, repo: MemoryRepo) -> tuple[LettaServer, SearchIndexFeature, BackgroundAuditor]:
    ls = LettaServer()
    ls.session = SimpleNamespace(agent=SimpleNamespace(dir=agent_dir, id="agent-1"), repo=repo)
    auditor = BackgroundAuditor()
    return ls, SearchIndexFeature(ls, auditor), auditor


async def settle(ls: LettaServer) -> None:
    while ls.background:
        await asyncio.gather(*list(ls.background), return_exceptions=True)


def commit_note(repo: MemoryRepo, name: str, word: str) -> list[str]:
    path = f"reference/{name}.md"
    repo.commit({path: f"---\ndescription: {name}.\n---\nA {word} in the notes.\n".encode()}, name, AUTHOR)
    return [path]


@pytest.mark.timeout(180)
def test_the_catch_up_after_a_commit_on_a_large_memory_runs_in_the_worker_process(tmp_path):
    agent_dir = tmp_path / "agent"
    repo = large_memory(agent_dir)

    async def scenario() -> None:
        ls, feature, auditor = server_for(agent_dir, repo)
        try:
            feature.after_commit(commit_note(repo, "wombat", "wombat"))
            await settle(ls)
        finally:
            await auditor.close()
            ls.executor.shutdown(wait=True)

    asyncio.run(scenario())
    writer = state(agent_dir, "memory_indexed_by")
    assert writer is not None, "the catch-up recorded no writer"
    assert int(writer) != os.getpid(), "the index of a large memory was built in the server process"
    assert state(agent_dir, "memory_head") == repo.head()


@pytest.mark.timeout(180)
def test_a_search_on_a_large_memory_whose_index_is_behind_waits_for_the_worker_and_finds_the_right_files(tmp_path):
    agent_dir = tmp_path / "agent"
    repo = large_memory(agent_dir)

    async def scenario() -> dict:
        ls, feature, auditor = server_for(agent_dir, repo)
        try:
            first = await feature.search(SearchParams(query="quokka", scope="memory"))
            commit_note(repo, "wombat", "wombat")  # a commit the server did not hear of: the index is behind
            second = await feature.search(SearchParams(query="wombat", scope="memory"))
            await settle(ls)
            return {"first": first, "second": second}
        finally:
            await auditor.close()
            ls.executor.shutdown(wait=True)

    answers = asyncio.run(scenario())
    assert [hit["path"] for hit in answers["first"]["memory"]] == ["reference/rare.md"]
    assert answers["first"]["memory"][0]["uri"].endswith("/reference/rare.md")
    assert [hit["path"] for hit in answers["second"]["memory"]] == ["reference/wombat.md"]
    assert int(state(agent_dir, "memory_indexed_by")) != os.getpid(), "the search built the index in the server"


@pytest.mark.timeout(240)
def test_a_killed_worker_is_replaced_and_the_index_still_follows_the_commits(tmp_path):
    agent_dir = tmp_path / "agent"
    repo = large_memory(agent_dir)
    before = children_of(os.getpid())

    async def scenario() -> tuple[dict, set[int], set[int]]:
        ls, feature, auditor = server_for(agent_dir, repo)
        try:
            feature.after_commit(commit_note(repo, "wombat", "wombat"))
            await settle(ls)
            first_workers = {pid for pid in children_of(os.getpid()) - before
                             if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()}
            for pid in first_workers:
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(1)  # the pool's management thread notices its worker died
            feature.after_commit(commit_note(repo, "numbat", "numbat"))
            await settle(ls)
            found = await feature.search(SearchParams(query="numbat", scope="memory"))
            return found, first_workers, {int(state(agent_dir, "memory_indexed_by"))}
        finally:
            await auditor.close()
            ls.executor.shutdown(wait=True)

    found, killed, writers = asyncio.run(scenario())
    assert killed, "no worker process was started"
    assert [hit["path"] for hit in found["memory"]] == ["reference/numbat.md"]
    assert state(agent_dir, "memory_head") == repo.head()
    assert writers.isdisjoint(killed | {os.getpid()}), "the catch-up after the kill did not run in a new worker"


@pytest.mark.timeout(60)
def test_a_small_memory_is_still_caught_up_in_a_server_thread_without_starting_a_worker(tmp_path):
    agent_dir = tmp_path / "agent"
    repo = MemoryRepo.create(agent_dir / "memory", {"reference/a.md": "---\ndescription: A.\n---\nFirst.\n"}, AUTHOR)

    async def scenario() -> bool:
        ls, feature, auditor = server_for(agent_dir, repo)
        try:
            feature.after_commit(commit_note(repo, "wombat", "wombat"))
            await settle(ls)
            return auditor.started
        finally:
            await auditor.close()
            ls.executor.shutdown(wait=True)

    assert asyncio.run(scenario()) is False, "a worker process was started for a 2-file memory"
    assert int(state(agent_dir, "memory_indexed_by")) == os.getpid()
