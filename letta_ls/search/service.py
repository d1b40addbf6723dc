"""The one search the agent's tools, the language server (``letta/search``) and ``letta-ls search`` share.

It exists apart from the index modules so that every entry point validates arguments the same way and
returns the same JSON: ``{query, memory?: [hit], conversations?: [hit]}``, only the scopes asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.search.conversations import MessageFilter, search_conversations
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import search_memory

Scope = Literal["memory", "conversations", "all"]
SCOPES = ("memory", "conversations", "all")
DEFAULT_LIMIT = 20
MAX_LIMIT = 200


class SearchRequestError(ValueError):
    """Arguments a search cannot take; the message says which and why."""


def check_limit(limit: Any) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SearchRequestError("limit must be a whole number ≥ 1")
    return min(limit, MAX_LIMIT)


def search(agent_dir: Path | str, repo: MemoryRepo, query: str, *, scope: str = "all", limit: Any = None,
           filters: MessageFilter | None = None) -> dict[str, Any]:
    """Search an agent (its home folder ``agent_dir`` and memory ``repo``); blocking (git and SQLite)."""
    if not isinstance(query, str) or not query.strip():
        raise SearchRequestError("query is required and must be non-empty text")
    if scope not in SCOPES:
        raise SearchRequestError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    count = check_limit(limit)
    index = SearchIndex.for_agent(agent_dir)
    result: dict[str, Any] = {"query": query}
    if scope in ("memory", "all"):
        result["memory"] = [hit.to_json() for hit in search_memory(index, repo, query, limit=count)]
    if scope in ("conversations", "all"):
        hits = search_conversations(index, Path(agent_dir) / "conversations", query, limit=count, filters=filters)
        result["conversations"] = [hit.to_json() for hit in hits]
    return result
