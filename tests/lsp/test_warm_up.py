"""What every first request needs is loaded before ``initialize`` is answered: the tokenizer and the snapshot of
``HEAD`` (issue 14: loaded after the answer, they landed on the editor's first reads and saves)."""

from __future__ import annotations

import asyncio

import pytest
from pygls.workspace import Workspace

from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.server.app import LettaServer
from letta_ls.session import Session


def _server(home: Home) -> LettaServer:
    ls = LettaServer()
    ls.session = Session(home)
    ls.protocol._workspace = Workspace(None)
    return ls


@pytest.mark.timeout(60)
def test_the_head_snapshot_and_the_tokenizer_are_loaded_before_initialize_is_answered(tmp_path):
    home = Home(tmp_path / "home")
    repo = MemoryRepo(home.current_agent().memory_dir)
    repo.commit({f"reference/note-{i}.md": f"---\ndescription: Note {i}.\n---\nBody {i}.\n".encode()
                 for i in range(50)}, "notes", Author("Test", "t@example.com"))

    async def warmed() -> tuple[bool, bool]:
        ls = _server(home)
        try:
            await ls.warm_up()  # what ``initialize`` awaits before it answers
            head = ls.session.repo.head()
            return head in ls.session.repo._snapshots, ls._tokenizer is not None and ls._tokenizer.done()
        finally:
            ls.executor.shutdown(wait=True)

    snapshot_ready, tokenizer_ready = asyncio.run(warmed())
    assert snapshot_ready, "the first read would build HEAD's snapshot"
    assert tokenizer_ready, "the first count would wait for the tokenizer"


@pytest.mark.timeout(60)
def test_a_memory_that_cannot_be_read_still_lets_initialize_answer(tmp_path):
    home = Home(tmp_path / "home")
    ls_home = home.current_agent().memory_dir

    async def warm() -> None:
        ls = _server(home)
        try:
            (ls_home / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
            (ls_home / ".git" / "refs" / "heads" / "main").write_text("0" * 40 + "\n")  # a commit that is gone
            await ls.warm_up()
        finally:
            ls.executor.shutdown(wait=True)

    asyncio.run(warm())  # answered: the request that reads the memory is the one that says what is wrong
