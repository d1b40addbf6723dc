"""No request waits on background work (issue 14): reads and saves are answered while a full audit runs.

A real letta-ls process serves a memory of thousands of near-identical notes (the memory the doctor's
``duplicate-content`` exists for, and the one whose audits used to hold the worker pool and the GIL).
The bounds are generous (seconds against milliseconds of work) so they cannot flake on a loaded
machine; before the audit left the request path, the write after the burst got no answer in 30 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from tests.lsp.conftest import accept_registrations, server_env, shut_down, start_server, stop_server

BODY = (
    "Settlement runs every night at 02:00 UTC. The job reads captured payments from the ledger, groups "
    "them by merchant and currency, and writes one payout instruction per group to the bank adapter, "
    "which retries failed transfers three times before paging the on-call engineer.\n"
)


def big_memory(home_dir: Path, files: int) -> tuple[Home, str]:
    home = Home(home_dir)
    agent = home.current_agent()
    changes = {f"reference/area-{i % 50}/note-{i}.md": f"---\ndescription: Note {i}.\n---\n{BODY}".encode()
               for i in range(files)}
    MemoryRepo(agent.memory_dir).commit(changes, f"{files} near-identical notes", Author("Test", "test@example.com"))
    return home, agent.id


async def start(home_dir: Path):
    client = make_test_lsp_client()
    accept_registrations(client)
    await start_server(client, "stdio", server_env(home_dir))
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        workspace_folders=[types.WorkspaceFolder(uri=home_dir.as_uri(), name="ws")],
        initialization_options={"home": str(home_dir)},
    ))
    return client


@pytest_asyncio.fixture
async def big_client(tmp_path):
    _home, agent_id = big_memory(tmp_path / "home", 3000)
    client = await start(tmp_path / "home")
    client.agent_id = agent_id
    yield client
    await shut_down(client, 30)


async def read(client, path: str) -> str:
    result = await client.workspace_text_document_content_async(
        types.TextDocumentContentParams(uri=f"letta-memory://{client.agent_id}/{path}"))
    return result.text


@pytest.mark.timeout(300)
async def test_a_write_after_a_burst_of_300_reads_is_answered(big_client):
    client = big_client
    await asyncio.sleep(0.6)  # the startup audit has begun
    reads = await asyncio.gather(*(read(client, f"reference/area-{i % 50}/note-{i}.md") for i in range(300)))
    assert all(text.endswith(BODY) for text in reads)
    uri = f"letta-memory://{client.agent_id}/reference/area-1/note-1.md"
    started = time.monotonic()
    saved = await asyncio.wait_for(client.protocol.send_request_async(
        "letta/memoryWrite", {"uri": uri, "text": "---\ndescription: Note 1, edited.\n---\nNew text.\n"}), 10)
    assert saved.commit and time.monotonic() - started < 10


@pytest.mark.timeout(300)
async def test_reads_are_answered_while_the_full_audit_runs(big_client):
    client = big_client
    await asyncio.sleep(0.6)  # the startup audit (a full one: nothing is cached yet) has begun
    for i in range(20):
        started = time.monotonic()
        text = await asyncio.wait_for(read(client, f"reference/area-{i}/note-{i}.md"), 5)
        assert text.endswith(BODY) and time.monotonic() - started < 5
    # every read above was answered before the audit published its findings (it is still running)
    assert not client.diagnostics, "the audit finished before the reads: the memory is too small to show anything"
    # and the audit does finish: every copy gets its duplicate-content finding
    for _ in range(600):
        if len(client.diagnostics) >= 3000:
            break
        await asyncio.sleep(0.5)
    assert len(client.diagnostics) >= 3000


def children_of(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


@pytest.mark.timeout(120)
async def test_the_audit_worker_process_does_not_outlive_a_killed_server(tmp_path):
    big_memory(tmp_path / "home", 400)  # big enough for the audit to go to the worker process
    client = await start(tmp_path / "home")
    try:
        for _ in range(600):  # the first audit's findings: the worker process exists
            if len(client.diagnostics) >= 400:
                break
            await asyncio.sleep(0.1)
        server = client._server
        workers = children_of(server.pid)
        assert workers, "no audit worker process was started"
        server.kill()  # as when the editor is killed: no shutdown request, no exit notification
        await server.wait()
        for _ in range(100):
            alive = {pid for pid in workers if Path(f"/proc/{pid}").exists()
                     and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1])}
            if not alive:
                break
            await asyncio.sleep(0.1)
        assert not alive, f"processes left behind by the killed server: {alive}"
    finally:
        await stop_server(client)


@pytest.mark.timeout(300)
async def test_reads_are_answered_between_the_findings_of_thousands_of_files_as_they_are_published(big_client):
    """3,000 files' findings are 3,000 ``publishDiagnostics``: published in one go, a read sent meanwhile
    was answered only after the last of them (the client's Problems list filling up while the editor waits
    for the file it asked for). Published in slices, reads are answered between them."""
    client = big_client
    seen_mid_publication = []
    reads = 0
    while len(client.diagnostics) < 3000 and reads < 20000:
        note = reads % 3000
        text = await asyncio.wait_for(read(client, f"reference/area-{note % 50}/note-{note}.md"), 30)
        assert text.endswith(BODY)
        reads += 1
        if 0 < len(client.diagnostics) < 3000:
            seen_mid_publication.append(len(client.diagnostics))
    assert len(client.diagnostics) >= 3000
    assert seen_mid_publication, "no read was answered while the findings were being published"
