"""The audits a command waits for (``letta.doctor``, a defrag's before and after) run where the diagnostics' audit
runs: a large memory's in the worker process, so the server's other requests never wait behind them (issue 14:
a save answered during a defrag of 10,000 files waited 0.8-1.3 s behind its audit in a server thread)."""

from __future__ import annotations

import asyncio

import pytest
from pygls.workspace import Workspace

import letta_ls.session as session_module
from letta_ls.doctor import audit
from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.server.app import LettaServer
from letta_ls.server.audits import PROCESS_AUDIT_MIN_FILES
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.session import Session
from tests.lsp.test_background_audit import BODY


def _home_with(tmp_path, files: int) -> Home:
    home = Home(tmp_path / "home")
    MemoryRepo(home.current_agent().memory_dir).commit(
        {f"reference/note-{i}.md": f"---\ndescription: Note {i}.\n---\n{BODY}".encode() for i in range(files)},
        "notes", Author("Test", "t@example.com"))
    return home


def _command_audit(home: Home, monkeypatch) -> tuple[list, list]:
    """The publisher's audit for a command, with every audit this process runs itself recorded."""
    in_this_process: list = []
    real_audit = session_module.audit

    def recorded(*args, **kwargs):
        in_this_process.append(args[0].head)
        return real_audit(*args, **kwargs)

    monkeypatch.setattr(session_module, "audit", recorded)

    async def run():
        ls = LettaServer()
        ls.session = Session(home)
        ls.protocol._workspace = Workspace(None)
        publisher = DiagnosticsPublisher(ls)
        try:
            snap = await ls.run_blocking(ls.session.repo.snapshot)
            result = await publisher.audit_for_a_command(ls.session, snap)
            return snap, result
        finally:
            await publisher.stop()
            ls.executor.shutdown(wait=True)

    snap, result = asyncio.run(run())
    return in_this_process, [snap, result]


@pytest.mark.timeout(180)
def test_a_command_audit_of_a_large_memory_runs_in_the_worker_process(tmp_path, monkeypatch):
    home = _home_with(tmp_path, PROCESS_AUDIT_MIN_FILES + 20)
    in_this_process, (snap, result) = _command_audit(home, monkeypatch)
    assert in_this_process == []  # not one audit in the server's own process
    expected = audit(snap)
    assert result.findings == expected.findings and result.tokens == expected.tokens
    assert any(f.code == "duplicate-content" for f in result.findings)  # the notes are copies of one another


@pytest.mark.timeout(120)
def test_a_command_audit_of_a_small_memory_stays_in_a_thread(tmp_path, monkeypatch):
    home = _home_with(tmp_path, 5)
    in_this_process, (snap, result) = _command_audit(home, monkeypatch)
    assert in_this_process == [snap.head]  # milliseconds: no process hop, no worker started
    assert result.findings == audit(snap).findings
