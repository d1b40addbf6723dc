"""``letta/search``: the ranked search of ``letta_ls.search`` over LSP (the same one ``letta-ls search`` and
the agent's tools use), and the index kept at HEAD as commits land.

``{query, scope?: "memory" | "conversations" | "all", limit?, roles?, startDate?, endDate?, conversationId?}``
→ ``{query, memory?: [{path, uri, line, text, description, snippet, score, rank}],
conversations?: [{conversationId, uri, messageId, role, created, snippet, score, rank}]}``, only the scopes
asked for (default both), best first. The search runs in the worker pool (SQLite and git); after every
commit the memory rows are caught up in the background (a large memory's in the audit worker process), so a
search right after a save rarely waits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.search import SearchParams
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.search.agent_tools import message_filter
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import index_memory, indexed_head
from letta_ls.search.service import SearchRequestError, search
from letta_ls.server.app import LettaServer
from letta_ls.server.audits import PROCESS_AUDIT_MIN_FILES, BackgroundAuditor, WorkerUnavailable
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.server.features import Feature
from letta_ls.server.typed import request
from letta_ls.server.uris import conversation_uri, memory_uri

SEARCH = "letta/search"
log = logging.getLogger("letta_ls.server")


def run_search(ls: LettaServer, params: SearchParams) -> dict[str, Any]:
    """Blocking: search the current agent, add each hit's URI."""
    session = ls.current
    try:
        filters = message_filter({"roles": params.roles, "start_date": params.start_date,
                                  "end_date": params.end_date, "conversation_id": params.conversation_id})
        result = search(session.agent.dir, session.repo, params.query, scope=params.scope, limit=params.limit,
                        filters=filters)
    except SearchRequestError as exc:
        fail(ErrorKind.INVALID, str(exc))
    for hit in result.get("memory", ()):
        hit["uri"] = memory_uri(session.agent.id, hit["path"])
    for hit in result.get("conversations", ()):
        hit["uri"] = conversation_uri(session.agent.id, hit["conversationId"])
    return result


class SearchIndexFeature(Feature):
    """Keeps the agent's search index caught up with memory after every commit (a cache: on failure the next
    search catches up instead).

    One catch-up at a time: a catch-up holds SQLite's write lock (the first of a 10,000-file memory for
    seconds), so a second one started beside it only sits in a worker thread waiting for that lock; a burst
    of saves used to take every worker thread that way and reads waited for one. Commits landing while a
    catch-up runs are caught up by one more run after it (it catches up to whatever ``HEAD`` is then).

    A memory of ``PROCESS_AUDIT_MIN_FILES`` files or more is caught up in the audit worker process
    (``BackgroundAuditor.catch_up_search_index``), queued behind the audit there: its first index is seconds
    of Python and SQLite that held the server's GIL while reads and saves waited. A search finding such an
    index behind ``HEAD`` waits for that catch-up rather than doing it in a server thread."""

    def __init__(self, ls: LettaServer, auditor: BackgroundAuditor | None = None) -> None:
        self.ls = ls
        self._own_auditor = auditor is None
        self.auditor = auditor if auditor is not None else BackgroundAuditor()  # its process starts on first use
        self._running: asyncio.Task | None = None
        self._again = False

    def after_commit(self, paths: list[str]) -> None:
        if self.ls.session is None:
            return
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = self.ls.spawn(self._catch_up_until_current(), name="search-index")

    async def stop(self) -> None:
        if self._own_auditor:
            await self.auditor.close()

    async def _catch_up_until_current(self) -> None:
        while True:
            self._again = False
            session = self.ls.session
            if session is None:
                return
            try:
                await self._catch_up(session)
            except Exception as exc:
                log.warning("could not update the search index after a commit: %s", exc)
            if not self._again:
                return

    async def _catch_up(self, session: Any) -> None:
        if await self.ls.run_blocking(_is_large, session.repo):
            try:
                await self.auditor.catch_up_search_index(session.agent.dir, session.repo.path)
                return
            except WorkerUnavailable as exc:
                if self.auditor.closed:
                    return
                log.warning("the worker process could not index the memory (%s); indexing it here", exc)
        await self.ls.run_blocking(index_memory, SearchIndex.for_agent(session.agent.dir), session.repo)

    async def caught_up(self) -> None:
        """Return once a large memory's index describes ``HEAD`` (as of the call), caught up by the worker."""
        session = self.ls.session
        if session is None or not await self.ls.run_blocking(_large_and_behind, session):
            return  # a small memory's search catches up itself, in its thread: milliseconds
        self.after_commit([])  # starts a catch-up, or has the one running go once more to today's HEAD
        if self._running is not None:
            await asyncio.shield(self._running)

    async def search(self, params: SearchParams) -> dict[str, Any]:
        if params.scope in ("memory", "all"):
            await self.caught_up()
        return await self.ls.run_blocking(run_search, self.ls, params)


def _is_large(repo: MemoryRepo) -> bool:
    """Blocking: whether HEAD has enough files for the worker process (the snapshot of HEAD is cached)."""
    return repo.head() is not None and len(repo.snapshot().files) >= PROCESS_AUDIT_MIN_FILES


def _large_and_behind(session: Any) -> bool:
    head = session.repo.head()
    return head is not None and indexed_head(SearchIndex.for_agent(session.agent.dir)) != head \
        and _is_large(session.repo)


def register(server: LettaServer) -> None:
    # the catch-ups of a large memory share the audit worker process, queued behind its audits
    feature = server.add_feature(SearchIndexFeature(server, server.get_feature(DiagnosticsPublisher).auditor))

    @request(server, SEARCH)
    async def letta_search(ls: LettaServer, params: SearchParams) -> dict[str, Any]:
        return await feature.search(params)
