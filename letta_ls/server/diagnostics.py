"""Pushed diagnostics (no pull: it doubles up in both editors), debounced per document and versioned.

Open ``letta-memory://`` documents are checked from their buffer text laid over committed ``HEAD``;
every other memory file is checked from ``HEAD`` after each commit, so editors can list them all. The
audit of ``HEAD`` runs in a worker process (``letta_ls.server.audits``: no request waits on it, a newer
``HEAD`` supersedes it), an open buffer's check in the worker threads; positions are converted to
the client's negotiated encoding (UTF-16 for VS Code, UTF-8 for Neovim) from the exact line text.
The findings of a large memory are published in slices of ``PUBLISH_SLICE_SECONDS`` with the event loop
given back between them, so requests are answered while the Problems list fills up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any
from urllib.parse import unquote

from lsprotocol import types

from letta_ls.doctor import AuditResult
from letta_ls.doctor.checks.common import split_lines
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.server.app import LettaServer
from letta_ls.server.audits import PROCESS_AUDIT_MIN_FILES, BackgroundAuditor, WorkerUnavailable
from letta_ls.server.features import Feature
from letta_ls.server.stale_notes import StaleNotes
from letta_ls.server.textpos import to_client_units
from letta_ls.server.uris import MEMORY, BadUriError, memory_uri, parse_uri
from letta_ls.session import Session

log = logging.getLogger("letta_ls.server")
DEBOUNCE_SECONDS = 0.2
STARTUP_AUDIT_DELAY = 0.5
PUBLISH_SLICE_SECONDS = 0.01  # the longest the loop publishes findings before serving requests
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def to_diagnostic(finding: Finding, lines: list[str], encoding: Any) -> types.Diagnostic:
    """A finding (code-point columns) as an LSP diagnostic in the client's position encoding."""
    def position(line: int, column: int | None) -> types.Position:
        if line >= len(lines):
            return types.Position(line=max(0, len(lines)), character=0) if not lines else types.Position(
                line=len(lines) - 1, character=to_client_units(lines[-1], len(lines[-1]), encoding))
        text = lines[line]
        return types.Position(line=line, character=to_client_units(text, len(text) if column is None else column,
                                                                    encoding))

    end_line = finding.end_line if finding.end_line is not None else finding.line
    end_column = finding.end_column
    if finding.end_line is None and finding.end_column is None:
        end_column = None  # to the end of the line
    diagnostic = types.Diagnostic(
        range=types.Range(start=position(finding.line, finding.column), end=position(end_line, end_column)),
        message=finding.message, severity=SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code, source="letta",
    )
    if finding.fix is not None:
        diagnostic.data = {"fix": finding.fix.kind, "title": finding.fix.title, "path": finding.path,
                           **({"about": finding.fix.data["about"]} if "about" in finding.fix.data else {}),
                           "line": finding.line, "code": finding.code}
    return diagnostic


def _lines(text: str | None) -> list[str]:
    """Lines as the doctor counts them (any line break; no BOM, which editors do not show either)."""
    if not text:
        return []
    lines = split_lines(text)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines


class _Slices:
    """Awaited before each publication: gives the event loop back every ``PUBLISH_SLICE_SECONDS``.

    The findings of 10,000 files are 10,000 notifications built and written by the event loop; in one go
    that held every request arriving meanwhile for a second or more (the read an editor sends while its
    Problems list fills up). In slices, requests are read and answered between them."""

    def __init__(self) -> None:
        self.since = time.perf_counter()

    async def __call__(self) -> None:
        if time.perf_counter() - self.since >= PUBLISH_SLICE_SECONDS:
            await asyncio.sleep(0)
            self.since = time.perf_counter()


class DiagnosticsPublisher(Feature):
    """Publishes the doctor's findings: open buffers as they are typed, every other file from HEAD."""

    def __init__(self, ls: LettaServer, stale: StaleNotes | None = None) -> None:
        self.ls = ls
        self.stale = stale  # memory-stale: the notes judged against the workspace, beside the doctor
        self._last_audit: tuple[tuple[str, str | None], AuditResult] | None = None  # (agent, HEAD), findings
        self.pending: dict[str, asyncio.Task] = {}
        self.committed_uris: set[str] = set()
        self.refresh_task: asyncio.Task | None = None
        self._refresh_reuses = False  # whether the refresh in flight may reuse the last audit of its HEAD
        self.auditor = BackgroundAuditor()

    # events ----------------------------------------------------------------------
    def initialized(self) -> None:
        async def later() -> None:
            await asyncio.sleep(STARTUP_AUDIT_DELAY)  # let the editor's first requests go first
            self.refresh_committed()

        self.ls.spawn(later(), name="first audit")

    async def stop(self) -> None:
        await self.auditor.close()  # the audit worker process goes with the server

    def after_commit(self, paths: list[str]) -> None:
        self.refresh_committed()

    def settings_changed(self) -> None:
        self.refresh_committed()

    def agent_switched(self) -> None:
        self.refresh_committed()  # the Problems list follows the current agent: the old agent's findings go

    def workspace_changed(self) -> None:
        self.refresh_committed(reuse_audit=True)  # memory-stale follows the workspace; the memory did not move

    # open documents ------------------------------------------------------------
    def schedule(self, uri: str, delay: float = DEBOUNCE_SECONDS) -> None:
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = self.ls.spawn(self._publish_open_later(uri, delay), name=f"diagnostics {uri}")

    async def _publish_open_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.publish_open(uri)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                self.pending.pop(uri, None)

    def open_document(self, uri: str):
        """The open document for ``uri`` (pygls keys them by the unquoted URI)."""
        docs = self.ls.workspace.text_documents
        return docs.get(uri) or docs.get(unquote(uri))

    async def publish_open(self, uri: str) -> None:
        doc = self.open_document(uri)
        if doc is None:
            return
        try:
            parsed = parse_uri(uri)
        except BadUriError:
            return
        if parsed.scheme != MEMORY or parsed.agent_id != self.ls.current.agent.id:
            return
        text, version = doc.source, doc.version
        session = self.ls.current
        await self.ls.tokenizer_loaded()  # not in a worker thread: reads need those

        def check() -> list[Finding]:
            snap = session.repo.snapshot().with_text(parsed.path, text)
            found = session.check_document(snap, parsed.path)
            return found + self.stale.findings(snap, [parsed.path]) if self.stale is not None else found

        findings = await self.ls.run_blocking(check)
        current = self.open_document(uri)
        if current is None or current.version != version:
            return  # a newer edit is on its way; its own run will publish
        encoding = self.ls.workspace.position_encoding
        lines = _lines(text)
        self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[to_diagnostic(f, lines, encoding) for f in findings]))

    # every memory file, from HEAD -------------------------------------------------
    def refresh_committed(self, reuse_audit: bool = False) -> None:
        """Publish every committed file's findings again. ``reuse_audit``: only the workspace changed, so the
        doctor's findings of the same ``HEAD`` (and agent) stand and only ``memory-stale`` is judged anew."""
        if self.refresh_task is not None and not self.refresh_task.done():
            self.refresh_task.cancel()
            # the refresh it replaces may have been for new settings (the audit of the same HEAD is stale then):
            # reuse only when that one could too
            reuse_audit = reuse_audit and self._refresh_reuses
        self._refresh_reuses = reuse_audit
        self.refresh_task = self.ls.spawn(self._refresh_committed(reuse_audit),
                                          name="diagnostics for committed memory")

    async def audit_for_a_command(self, session: Session, snap: MemorySnapshot) -> AuditResult:
        """The audit of a committed snapshot for a command that waits for it (``letta.doctor``, a defrag): a large
        memory's in the worker process, where it holds neither the server's GIL nor a worker thread while other
        requests are answered; a small one's in a thread (milliseconds)."""
        if snap.head is not None and len(snap.files) >= PROCESS_AUDIT_MIN_FILES:
            await self.ls.tokenizer_loaded()
            exact = await self.ls.run_blocking(lambda: session.counter.exact)
            try:
                return await self.auditor.audit_for_a_command(session.repo.path, snap.head, session.settings.memory,
                                                              exact)
            except WorkerUnavailable as exc:
                log.warning("the audit worker could not audit for a command (%s); auditing in a thread", exc)
        return await self.ls.run_blocking(session.audit, snap)

    async def _refresh_committed(self, reuse_audit: bool = False) -> None:
        session = self.ls.current
        await self.ls.tokenizer_loaded()  # not in a worker thread: reads need those
        snap = await self.ls.run_blocking(session.repo.snapshot)
        last = self._last_audit
        if reuse_audit and last is not None and last[0] == (session.agent.id, snap.head):
            result = last[1]
        elif snap.head is None or len(snap.files) < PROCESS_AUDIT_MIN_FILES:
            result = await self.ls.run_blocking(session.audit, snap)
        else:  # a large memory is audited in the worker process: requests never wait behind it
            exact = await self.ls.run_blocking(lambda: session.counter.exact)  # loaded: answers at once
            found = await self.auditor.audit(session.repo.path, snap.head, session.settings.memory, exact)
            if found is None:
                return  # superseded: the audit of a newer HEAD publishes
            result = found
        self._last_audit = ((session.agent.id, snap.head), result)
        extra = await self.ls.run_blocking(self.stale.findings, snap) if self.stale is not None else []
        by_path: dict[str, list[Finding]] = defaultdict(list)
        for finding in [*result.findings, *extra]:
            by_path[finding.path].append(finding)
        encoding = self.ls.workspace.position_encoding
        agent_id = session.agent.id
        fresh: set[str] = set()
        open_keys = {unquote(u) for u in self.ls.workspace.text_documents}
        pause = _Slices()
        for path, findings in by_path.items():
            uri = memory_uri(agent_id, path)
            fresh.add(uri)
            if unquote(uri) in open_keys:
                continue
            await pause()
            found = snap.get(path)
            lines = _lines(found.text if found is not None else "")
            self.committed_uris.add(uri)  # published: a refresh replacing this one half-way clears it if need be
            self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=[to_diagnostic(f, lines, encoding) for f in findings]))
        for uri in self.committed_uris - fresh:
            if unquote(uri) not in open_keys:
                await pause()
                self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        self.committed_uris = fresh
        for doc in list(self.ls.workspace.text_documents.values()):
            if doc.uri.startswith(MEMORY + "://"):
                self.schedule(doc.uri, 0)  # HEAD moved under the open buffers: recheck them too


def register(server: LettaServer) -> None:
    publisher = server.add_feature(DiagnosticsPublisher(server, server.get_feature(StaleNotes)))

    def is_memory(uri: str) -> bool:
        return uri.startswith(MEMORY + "://")

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LettaServer, params: types.DidOpenTextDocumentParams) -> None:
        if is_memory(params.text_document.uri):
            publisher.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LettaServer, params: types.DidChangeTextDocumentParams) -> None:
        if is_memory(params.text_document.uri):
            publisher.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LettaServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = publisher.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        if is_memory(uri):
            # back to the committed text's findings: the memory did not move, so the audit of its HEAD stands
            publisher.refresh_committed(reuse_audit=True)
