"""Memory as documents: ``workspace/textDocumentContent`` for the three schemes, and the custom
``letta/memoryRead``, ``letta/memoryWrite``, ``letta/memoryTree`` and ``letta/memoryHistory`` requests, and
``letta/memoryDelete`` / ``letta/memoryRename`` (beyond SPEC: an editor's explorer deleting or renaming a
memory file or folder; one commit each, announced with ``letta/memoryChanged``, restorable from history).

Versions are git blob ids: a save names the blob it was based on (``baseVersion``) and is refused with
ContentModified (-32801) when the committed file has moved on, so nothing is silently overwritten.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from letta_ls.agent.conversations import ConversationStore, UnknownConversationError
from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.memory import (
    HistoryEntry,
    MemoryDeleteParams,
    MemoryEntry,
    MemoryHistoryParams,
    MemoryMoveResult,
    MemoryReadParams,
    MemoryReadResult,
    MemoryRenameParams,
    MemoryTotals,
    MemoryTree,
    MemoryTreeParams,
    MemoryWriteParams,
    MemoryWriteResult,
)
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import MemoryFileNotFoundError, MemoryRepo, user_author
from letta_ls.server.app import LettaServer
from letta_ls.server.errors import rpc_errors
from letta_ls.server.typed import request
from letta_ls.server.uris import (
    CONVERSATION,
    MEMORY,
    MEMORY_REV,
    BadUriError,
    memory_uri,
    parse_uri,
    revision_uri,
)
from letta_ls.session import memory_tree

MEMORY_READ = "letta/memoryRead"
MEMORY_WRITE = "letta/memoryWrite"
MEMORY_TREE = "letta/memoryTree"
MEMORY_HISTORY = "letta/memoryHistory"
MEMORY_DELETE = "letta/memoryDelete"
MEMORY_RENAME = "letta/memoryRename"


def repo_for(ls: LettaServer, agent_id: str) -> MemoryRepo:
    session = ls.current
    if agent_id == session.agent.id:
        return session.repo
    agent = session.home.find_agent(agent_id)
    if agent.id != agent_id:
        raise BadUriError(f"{agent_id!r} is not an agent id")
    return MemoryRepo(agent.memory_dir)


def read_text(ls: LettaServer, uri: str) -> tuple[str, str | None, str | None]:
    """(text, version, head) for any of the three schemes; blocking."""
    parsed = parse_uri(uri)
    if parsed.scheme == CONVERSATION:
        try:
            agent = ls.current.home.find_agent(parsed.agent_id)
            return ConversationStore(agent.conversations_dir).render_markdown(parsed.conversation_id), None, None
        except UnknownConversationError as exc:
            fail(ErrorKind.NOT_FOUND, str(exc.args[0]) if exc.args else str(exc))
    repo = repo_for(ls, parsed.agent_id)
    rev = parsed.commit if parsed.scheme == MEMORY_REV else "HEAD"
    found = repo.read(parsed.path, rev)
    if found.text is None:
        fail(ErrorKind.REFUSED, f"{parsed.path} is not UTF-8 text; it cannot be shown as a document")
    return found.text, found.blob, repo.head()


def user_operations(ls: LettaServer, agent_id: str) -> MemoryOperations:
    """The memory tool of ``agent_id``'s repository acting for the user (a save, a delete or a rename in the
    editor; ``read_only`` guards against the agent, not the user)."""
    repo = repo_for(ls, agent_id)
    return MemoryOperations(repo, user_author(repo.path), actor="user", guard=ls.current.operations("user").guard)


def editable(uri: str) -> Any:
    """The parsed ``letta-memory://`` URI, or a clear error for the read-only schemes."""
    parsed = parse_uri(uri)
    if parsed.scheme != MEMORY:
        fail(ErrorKind.READ_ONLY, f"{uri} is read only: only {MEMORY}:// files can be changed")
    return parsed


def announce(ls: LettaServer, agent_id: str, commit: str | None, paths: Any, *, own: bool = False) -> None:
    """``letta/memoryChanged`` for a commit of the current agent (``own``: a save, not announced back)."""
    if commit is not None and agent_id == ls.current.agent.id:
        ls.notify_memory_changed(commit, paths, own=own)


def register(server: LettaServer) -> None:
    @server.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT)
    async def text_document_content(ls: LettaServer, params: types.TextDocumentContentParams):
        with rpc_errors():
            text, _version, _head = await ls.run_blocking(read_text, ls, params.uri)
        return types.TextDocumentContentResult(text=text)

    @request(server, MEMORY_READ)
    async def memory_read(ls: LettaServer, params: MemoryReadParams) -> MemoryReadResult:
        text, version, head = await ls.run_blocking(read_text, ls, params.uri)
        return MemoryReadResult(params.uri, text, version, head)

    @request(server, MEMORY_WRITE)
    async def memory_write(ls: LettaServer, params: MemoryWriteParams) -> MemoryWriteResult:
        parsed = editable(params.uri)

        def write():
            ops = user_operations(ls, parsed.agent_id)
            result = ops.write_file(parsed.path, params.text, base_version=params.base_version,
                                    reason=params.reason or f"edit {parsed.path} in the editor")
            if result.commit is not None:
                ls.own_commits.add(result.commit)
            return result, ops.repo

        ls.pending_writes += 1
        try:
            result, repo = await ls.run_blocking(write)
        finally:
            ls.pending_writes -= 1
        head = result.commit or repo.head()
        announce(ls, parsed.agent_id, result.commit, result.paths, own=True)
        return MemoryWriteResult(result.versions.get(parsed.path), head)

    @request(server, MEMORY_DELETE)
    async def memory_delete(ls: LettaServer, params: MemoryDeleteParams) -> MemoryMoveResult:
        parsed = editable(params.uri)
        if not parsed.path:
            fail(ErrorKind.REFUSED, "the whole memory cannot be deleted; delete its files or folders")
        result = await ls.run_blocking(lambda: user_operations(ls, parsed.agent_id).delete(
            parsed.path, params.reason or f"delete {parsed.path} in the editor"))
        announce(ls, parsed.agent_id, result.commit, result.paths)
        return MemoryMoveResult(result.commit, [memory_uri(parsed.agent_id, p) for p in sorted(result.paths)])

    @request(server, MEMORY_RENAME)
    async def memory_rename(ls: LettaServer, params: MemoryRenameParams) -> MemoryMoveResult:
        old, new = editable(params.uri), editable(params.new_uri)
        if old.agent_id != new.agent_id:
            fail(ErrorKind.REFUSED, "a memory file moves within one agent's memory; copy it to the other agent")
        if not old.path or not new.path:
            fail(ErrorKind.REFUSED, "the memory folder itself cannot be renamed")
        result = await ls.run_blocking(lambda: user_operations(ls, old.agent_id).rename(
            old.path, new.path, params.reason or f"rename {old.path} to {new.path} in the editor"))
        announce(ls, old.agent_id, result.commit, result.paths)
        return MemoryMoveResult(result.commit, [memory_uri(old.agent_id, p) for p in sorted(result.paths)])

    @request(server, MEMORY_TREE)
    async def memory_tree(ls: LettaServer, params: MemoryTreeParams) -> MemoryTree:
        return await ls.run_blocking(tree_of, ls, params.agent_id or ls.current.agent.id)

    @request(server, MEMORY_HISTORY)
    async def memory_history(ls: LettaServer, params: MemoryHistoryParams) -> list[HistoryEntry]:
        parsed = parse_uri(params.uri)

        def history() -> list[HistoryEntry]:
            repo = repo_for(ls, parsed.agent_id)
            entries = repo.history(parsed.path, limit=max(1, min(params.limit, 1000)))
            if not entries and parsed.path not in repo.snapshot():
                raise MemoryFileNotFoundError(parsed.path)
            return [HistoryEntry(h.commit, h.date, h.author, h.message,
                                 revision_uri(parsed.agent_id, h.commit, parsed.path)) for h in entries]

        return await ls.run_blocking(history)


def tree_of(ls: LettaServer, agent_id: str) -> MemoryTree:
    session = ls.current
    tree = memory_tree(repo_for(ls, agent_id).snapshot(), session.counter)  # the core's tree, as the CLI prints it
    entries = [MemoryEntry(uri=memory_uri(agent_id, e.path), path=e.path, tier=e.tier, description=e.description,
                           tokens=e.tokens, read_only=e.read_only, version=e.version) for e in tree.entries]
    return MemoryTree(agent_id, tree.head, entries,
                      MemoryTotals(tree.system_tokens, session.settings.memory.systemTokenBudget))
