"""``letta/search``: the ranked search of ``letta_ls.search`` over LSP (the same one ``letta-ls search`` and
the agent's tools use), and the index kept at HEAD as commits land.

``{query, scope?: "memory" | "conversations" | "all", limit?, roles?, startDate?, endDate?, conversationId?}``
→ ``{query, memory?: [{path, uri, line, text, description, snippet, score, rank}],
conversations?: [{conversationId, uri, messageId, role, created, snippet, score, rank}]}``, only the scopes
asked for (default both), best first. The search runs in the worker pool (SQLite and git); after every
commit the memory rows are caught up in the background, so a search right after a save rarely waits.
"""

from __future__ import annotations

import logging
from typing import Any

from letta_ls.search.agent_tools import message_filter
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import index_memory
from letta_ls.search.service import SearchRequestError, search
from letta_ls.server.app import LettaServer
from letta_ls.server.errors import InvalidParams, param, rpc_errors
from letta_ls.server.features import Feature
from letta_ls.server.uris import conversation_uri, memory_uri

SEARCH = "letta/search"
log = logging.getLogger("letta_ls.server")


def run_search(ls: LettaServer, params: Any) -> dict[str, Any]:
    """Blocking: check the params, search the current agent, add each hit's URI."""
    session = ls.current
    try:
        filters = message_filter({"roles": param(params, "roles", kind=(list, str)),
                                  "start_date": param(params, "startDate", kind=str),
                                  "end_date": param(params, "endDate", kind=str),
                                  "conversation_id": param(params, "conversationId", kind=str)})
        result = search(session.agent.dir, session.repo, param(params, "query", kind=str, required=True),
                        scope=param(params, "scope", "all", kind=str), limit=param(params, "limit", kind=int),
                        filters=filters)
    except SearchRequestError as exc:
        raise InvalidParams(str(exc)) from exc
    for hit in result.get("memory", ()):
        hit["uri"] = memory_uri(session.agent.id, hit["path"])
    for hit in result.get("conversations", ()):
        hit["uri"] = conversation_uri(session.agent.id, hit["conversationId"])
    return result


class SearchIndexFeature(Feature):
    """Keeps the agent's search index caught up with memory after every commit (a cache: on failure the next
    search catches up instead)."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls

    def after_commit(self, paths: list[str]) -> None:
        session = self.ls.session
        if session is None:
            return

        def catch_up() -> None:
            try:
                index_memory(SearchIndex.for_agent(session.agent.dir), session.repo)
            except Exception as exc:
                log.warning("could not update the search index after a commit: %s", exc)

        self.ls.spawn(self.ls.run_blocking(catch_up), name="search-index")


def register(server: LettaServer) -> None:
    @server.feature(SEARCH)
    async def letta_search(ls: LettaServer, params: Any) -> dict:
        with rpc_errors():
            return await ls.run_blocking(run_search, ls, params)

    server.add_feature(SearchIndexFeature(server))
