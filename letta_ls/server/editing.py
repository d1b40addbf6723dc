"""Editor features on ``letta-memory://`` documents: quick fixes, ``[[links]]``, hover and completion.

Quick fixes turn the doctor's ``Fix`` into a ``letta.applyFix`` command rather than a workspace edit:
memory files are virtual documents whose truth is the git repository, and a fix may move a file or
touch several (a move rewrites the links that pointed at it), which a text edit to the open buffer
cannot express. So the command asks the core (``Session.apply_fix``, the code
``letta.doctor {fix: true}`` and ``letta-ls doctor --fix`` use too) to re-audit the *committed* file, plan the
fix there and commit it as exactly one change by the user, refusing when the open buffer holds unsaved edits
(the fix would silently drop them). Everything else is read-only: links, hover and completion read HEAD with
the editor buffer laid over it, share the doctor's link scanner (so what is a link here is what
``link-broken`` checks), and answer an empty result, never an error, for documents that are not the current
agent's memory. Columns are the doctor's code points, converted from the exact line text to the client's encoding.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability

from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.doctor import ApplyFixParams, ApplyFixResult, OpenWorkspaceFileParams, OpenWorkspaceFileResult
from letta_ls.doctor.checks.common import file_tokens, split_lines
from letta_ls.doctor.checks.links import Link, links_in, resolve_link
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, tier_of
from letta_ls.server.app import LettaServer
from letta_ls.server.diagnostics import to_diagnostic
from letta_ls.server.stale_notes import StaleNotes
from letta_ls.server.textpos import from_client_units, to_client_units
from letta_ls.server.typed import command, plain_json
from letta_ls.server.uris import MEMORY, BadUriError, memory_uri, parse_uri
from letta_ls.session import Session
from letta_ls.staleness.check import CODE as STALE_CODE

log = logging.getLogger("letta_ls.server")

APPLY_FIX = "letta.applyFix"
OPEN_WORKSPACE_FILE = "letta.openWorkspaceFile"
APPLY_FIX_USAGE = (
    f"{APPLY_FIX} needs one argument {{uri, code, line, fix}} naming a letta diagnostic; it is run by the "
    "quick fix on that diagnostic (the lightbulb in VS Code, vim.lsp.buf.code_action() in Neovim), not from "
    "the command palette. To fix everything that is safe to fix at once, run letta.doctor with {\"fix\": true}."
)
# Mechanical repairs with one right answer: editors may apply them on "auto fix". A move or a split
# picks a destination or cut points the user may well want to choose differently.
OBVIOUS_KINDS = frozenset({"add-description", "join-description", "add-skill-name", "skill-to-folder",
                           "redact-secret", "retarget-link"})
BOM = "\ufeff"
_TIERS = {
    "system": "system memory, in the prompt on every turn",
    "external": "external memory, read on demand",
    "skill": "a skill, loaded when used",
}


# --- documents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buffer:
    """A memory document as the editor sees it: its text, lines, and HEAD with that text laid over."""

    path: str
    text: str
    lines: list[str]
    snapshot: MemorySnapshot

    @property
    def file(self) -> MemoryFile | None:
        return self.snapshot.get(self.path)

    def line(self, index: int) -> str:
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def shift(self, index: int) -> int:
        """The doctor strips a byte-order mark from line 0 before counting columns; the editor does not."""
        return 1 if index == 0 and self.lines and self.lines[0].startswith(BOM) else 0


def memory_path(ls: LettaServer, uri: str) -> str | None:
    """The path of a ``letta-memory://`` document of the current agent; None for any other URI."""
    try:
        parsed = parse_uri(uri)
    except BadUriError:
        return None
    if parsed.scheme != MEMORY or ls.session is None or parsed.agent_id != ls.session.agent.id:
        return None
    return parsed.path


def open_text(ls: LettaServer, uri: str) -> str | None:
    """The open buffer's text (pygls keys documents by the unquoted URI), or None when it is not open."""
    doc = ls.workspace.text_documents.get(unquote(uri))
    return doc.source if doc is not None else None


def load_buffer(repo: MemoryRepo, path: str, text: str | None) -> Buffer | None:
    """HEAD with ``text`` laid over ``path``; with no open buffer, the committed file (None if absent)."""
    snapshot = repo.snapshot() if repo.head() else MemorySnapshot(None, {})
    if text is None:
        found = snapshot.get(path)
        if found is None or found.text is None:
            return None
        text = found.text
    else:
        snapshot = snapshot.with_text(path, text)
    return Buffer(path, text, split_lines(text), snapshot)


async def buffer_for(ls: LettaServer, uri: str) -> Buffer | None:
    path = memory_path(ls, uri)
    if path is None:
        return None
    return await ls.run_blocking(load_buffer, ls.current.repo, path, open_text(ls, uri))


def client_position(buffer: Buffer, line: int, column: int, encoding: Any) -> types.Position:
    text = buffer.line(line)
    return types.Position(line=line, character=to_client_units(text, column + buffer.shift(line), encoding))


def link_range(buffer: Buffer, link: Link, encoding: Any) -> types.Range:
    return types.Range(start=client_position(buffer, link.line, link.column, encoding),
                       end=client_position(buffer, link.line, link.end_column, encoding))


def link_file(snapshot: MemorySnapshot, resolved: str | None) -> str | None:
    """The file a resolved link opens: itself, or a skill folder's ``SKILL.md``; None for other folders."""
    if resolved is None:
        return None
    if resolved in snapshot.files:
        return resolved
    skill = f"{resolved}/SKILL.md"
    return skill if skill in snapshot.files else None


def resolved_links(buffer: Buffer) -> list[tuple[Link, str | None]]:
    """Every link of the buffer with what it resolves to (a file, a folder, or None when broken)."""
    file = buffer.file
    if file is None:
        return []
    folders = buffer.snapshot.folders
    return [(link, resolve_link(buffer.snapshot, link.target, buffer.path, folders)) for link in links_in(file)]


# --- quick fixes ---------------------------------------------------------------------------------------


def fix_data(diagnostic: types.Diagnostic) -> dict[str, Any] | None:
    """The fix ``to_diagnostic`` attached to a letta diagnostic, if it carries one."""
    if diagnostic.source != "letta":
        return None
    data = plain_json(diagnostic.data)
    if not isinstance(data, dict) or not isinstance(data.get("fix"), str) or not isinstance(data.get("title"), str):
        return None
    if not isinstance(data.get("line"), int) or not isinstance(data.get("code", diagnostic.code), str):
        return None
    return data


def wants_quickfix(only: list[Any] | None) -> bool:
    """``context.only`` asks for kinds and their sub-kinds; ours are all ``quickfix``."""
    if not only:
        return True
    kinds = [str(getattr(kind, "value", kind)) for kind in only]
    return any(kind in ("", "quickfix") for kind in kinds)


def quick_fix(uri: str, diagnostic: types.Diagnostic, data: dict[str, Any]) -> types.CodeAction:
    kind = data["fix"]
    argument = {"uri": uri, "code": data.get("code", diagnostic.code), "line": data["line"], "fix": kind}
    return types.CodeAction(
        title=data["title"], kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
        is_preferred=kind in OBVIOUS_KINDS,
        command=types.Command(title=data["title"], command=APPLY_FIX, arguments=[argument]),
    )


def quick_fixes(uri: str, diagnostic: types.Diagnostic, data: dict[str, Any]) -> list[types.CodeAction]:
    """The diagnostic's own fix, and for ``memory-stale`` the others: remove the line (when the fix is to
    replace a renamed path) and open the workspace file the note is about."""
    actions = [quick_fix(uri, diagnostic, data)]
    if data.get("code", diagnostic.code) != STALE_CODE:
        return actions
    if data["fix"] != "remove-line":
        actions.append(quick_fix(uri, diagnostic, {**data, "fix": "remove-line",
                                                   "title": "Remove this line from the note"}))
    about = data.get("about")
    if isinstance(about, str):
        name = about.rsplit("/", 1)[-1]
        actions.append(types.CodeAction(
            title=f"Open {name}", kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic], is_preferred=False,
            command=types.Command(title=f"Open {name}", command=OPEN_WORKSPACE_FILE,
                                  arguments=[{"uri": Path(about).as_uri()}])))
    return actions


def findings_in_range(buffer: Buffer, session: Session, first: int, last: int,
                      extra: Callable[[MemorySnapshot, str], list[Finding]] | None = None) -> list[Finding]:
    """Fixable findings on the buffer whose lines meet ``first..last`` (blocking: runs the doctor, and the
    ``extra`` checks: memory-stale against the workspace)."""
    found = session.check_document(buffer.snapshot, buffer.path)
    if extra is not None:
        found = found + extra(buffer.snapshot, buffer.path)
    out = []
    for finding in found:
        end = finding.end_line if finding.end_line is not None else finding.line
        if finding.fix is not None and finding.path == buffer.path and finding.line <= last and end >= first:
            out.append(finding)
    return out


async def show_document(ls: LettaServer, uri: str) -> None:
    """Bring a moved or split-out file up in the editor; a client that refuses just keeps its view."""
    try:
        await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
    except Exception as exc:  # showing the file is a courtesy
        log.info("showDocument %s failed: %s", uri, exc)


# --- completion ----------------------------------------------------------------------------------------

_TAIL = re.compile(r"[^\[\]|#\s]*")


def link_context(line_text: str, column: int) -> tuple[int, int, str] | None:
    """Inside an unfinished ``[[target``: (start, end) columns of the target text to replace, and the
    closing brackets still to insert; None when the cursor is not typing a link target."""
    before = line_text[:column]
    opening = before.rfind("[[")
    if opening < 0:
        return None
    typed = before[opening + 2:]
    if any(ch in typed for ch in "[]|#"):
        return None  # a finished link, or the label or heading part of one
    tail = _TAIL.match(line_text, column)
    rest = line_text[tail.end():] if tail else line_text[column:]
    if rest.startswith(("]]", "|", "#")):
        return opening + 2, tail.end() if tail else column, ""
    if rest.startswith("]"):
        return opening + 2, tail.end() if tail else column, "]"
    return opening + 2, column, "]]"


def completion_items(buffer: Buffer, line: int, start: int, end: int, closing: str,
                     encoding: Any) -> list[types.CompletionItem]:
    replace = types.Range(start=client_position(buffer, line, start, encoding),
                          end=client_position(buffer, line, end, encoding))
    items = []
    for file in buffer.snapshot.markdown():
        if file.path == buffer.path:
            continue  # a file linking to itself is never what is being typed
        label = file.path.removesuffix(".md")
        doc = file.document
        items.append(types.CompletionItem(
            label=label, kind=types.CompletionItemKind.File, detail=(doc.description if doc else None) or "",
            filter_text=label, sort_text=f"{0 if file.tier == 'system' else 1}{label}",
            text_edit=types.TextEdit(range=replace, new_text=label + closing),
        ))
    return items


# --- hover ---------------------------------------------------------------------------------------------


def hover_markdown(buffer: Buffer, link: Link, resolved: str | None, session: Session) -> str:
    target = link_file(buffer.snapshot, resolved)
    if resolved is None:
        return f"**no such memory file**: `{link.target}`\n\nCreate it, or point the link at an existing file."
    if target is None:
        count = sum(1 for p in buffer.snapshot.files if p.startswith(resolved + "/"))
        return f"`{resolved}/`: a folder of memory ({count} file{'s' if count != 1 else ''})"
    file = buffer.snapshot.files[target]
    doc = file.document
    description = (doc.description if doc else None) or "_no description_"
    tokens = file_tokens(file, session.counter)  # the doctor's count, as the memory tree shows it
    return f"**`{target}`**\n\n{description}\n\n{tokens:,} tokens · {_TIERS[tier_of(target)]}"


# --- registration --------------------------------------------------------------------------------------


def stale_in(ls: LettaServer) -> Callable[[MemorySnapshot, str], list[Finding]]:
    """The memory-stale findings of one file, for a quick fix to find its finding among."""
    stale = ls.get_feature(StaleNotes)
    return lambda snapshot, path: stale.findings(snapshot, [path])


def register(server: LettaServer) -> None:
    @command(server, OPEN_WORKSPACE_FILE)
    async def open_workspace_file(ls: LettaServer, params: OpenWorkspaceFileParams) -> OpenWorkspaceFileResult:
        """A quick fix's "Open <file>": the workspace file a stale note is about, shown in the editor."""
        if not params.uri.startswith("file://"):
            fail(ErrorKind.INVALID, f"{OPEN_WORKSPACE_FILE} opens workspace files (file:// URIs), not {params.uri}")
        try:
            shown = await ls.window_show_document_async(types.ShowDocumentParams(uri=params.uri, take_focus=True))
        except Exception as exc:  # an editor that cannot show documents keeps its view
            log.info("showDocument %s failed: %s", params.uri, exc)
            return OpenWorkspaceFileResult(False)
        return OpenWorkspaceFileResult(bool(shown and shown.success))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    async def code_action(ls: LettaServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        path = memory_path(ls, uri)
        if path is None or not wants_quickfix(params.context.only):
            return []
        sent = [d for d in params.context.diagnostics if d.source == "letta"]
        if sent:
            pairs = [(d, data) for d in sent if (data := fix_data(d)) is not None and data.get("path", path) == path]
            return [action for d, data in pairs for action in quick_fixes(uri, d, data)]
        # the client sent no diagnostics of ours (Neovim does, for a range request): find them ourselves
        buffer = await buffer_for(ls, uri)
        if buffer is None:
            return []
        session = ls.current
        findings = await ls.run_blocking(findings_in_range, buffer, session,
                                         params.range.start.line, params.range.end.line, stale_in(ls))
        encoding = ls.workspace.position_encoding
        actions = []
        for finding in findings:
            diagnostic = to_diagnostic(finding, buffer.lines, encoding)
            data = fix_data(diagnostic)
            if data is not None:
                actions.extend(quick_fixes(uri, diagnostic, data))
        return actions

    @command(server, APPLY_FIX, usage=APPLY_FIX_USAGE)
    async def apply_fix(ls: LettaServer, params: ApplyFixParams) -> ApplyFixResult:
        uri, code, line, kind = params.uri, params.code, params.line, params.fix
        parsed = parse_uri(uri)
        if parsed.scheme != MEMORY:
            fail(ErrorKind.READ_ONLY, f"{uri} is read only: fixes apply to {MEMORY}:// documents")
        session = ls.current
        if parsed.agent_id != session.agent.id:
            fail(ErrorKind.REFUSED, f"{uri} belongs to agent {parsed.agent_id}, not the current agent "
                                    f"{session.agent.id}: switch to it (letta.switchAgent) to fix its memory")
        ls.pending_writes += 1  # the git watcher leaves the announcement to us
        try:
            applied = await ls.run_blocking(session.apply_fix, parsed.path, code, line, kind, open_text(ls, uri),
                                            stale_in(ls))
        finally:
            ls.pending_writes -= 1
        result = applied.result
        agent_id = session.agent.id
        if result.commit is None:
            return ApplyFixResult(None, [], applied.message)
        ls.notify_memory_changed(result.commit, result.paths)
        if applied.shown is not None and get_capability(ls.client_capabilities, "window.show_document.support",
                                                        False):
            ls.spawn(show_document(ls, memory_uri(agent_id, applied.shown)), name="show fixed document")
        return ApplyFixResult(result.commit, [memory_uri(agent_id, p) for p in result.paths], applied.message)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_LINK, types.DocumentLinkOptions(resolve_provider=False))
    async def document_link(ls: LettaServer, params: types.DocumentLinkParams) -> list[types.DocumentLink]:
        buffer = await buffer_for(ls, params.text_document.uri)
        if buffer is None:
            return []
        links = await ls.run_blocking(resolved_links, buffer)
        encoding = ls.workspace.position_encoding
        agent_id = ls.current.agent.id
        tooltips = get_capability(ls.client_capabilities, "text_document.document_link.tooltip_support", False)
        out = []
        for link, resolved in links:
            target = link_file(buffer.snapshot, resolved)
            if target is not None:
                out.append(types.DocumentLink(range=link_range(buffer, link, encoding),
                                              target=memory_uri(agent_id, target),
                                              tooltip=f"Open {target}" if tooltips else None))
        return out

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LettaServer, params: types.HoverParams) -> types.Hover | None:
        buffer = await buffer_for(ls, params.text_document.uri)
        if buffer is None:
            return None
        line = params.position.line
        encoding = ls.workspace.position_encoding
        column = from_client_units(buffer.line(line), params.position.character, encoding) - buffer.shift(line)
        session = ls.current

        def describe() -> tuple[Link, str] | None:
            for link, resolved in resolved_links(buffer):
                if link.line == line and link.column <= column < link.end_column:
                    return link, hover_markdown(buffer, link, resolved, session)
            return None

        found = await ls.run_blocking(describe)
        if found is None:
            return None
        link, text = found
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                           range=link_range(buffer, link, encoding))

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["["]))
    async def completion(ls: LettaServer, params: types.CompletionParams) -> types.CompletionList:
        empty = types.CompletionList(is_incomplete=False, items=[])
        uri = params.text_document.uri
        if memory_path(ls, uri) is None or open_text(ls, uri) is None:
            return empty
        line = params.position.line
        encoding = ls.workspace.position_encoding
        buffer = await buffer_for(ls, uri)
        if buffer is None:
            return empty
        column = from_client_units(buffer.line(line), params.position.character, encoding) - buffer.shift(line)
        context = link_context(buffer.line(line)[buffer.shift(line):], column)
        if context is None:
            return empty
        start, end, closing = context
        items = await ls.run_blocking(completion_items, buffer, line, start, end, closing, encoding)
        return types.CompletionList(is_incomplete=False, items=items)
