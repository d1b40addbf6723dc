"""The agent's two search tools, ``memory_search`` and ``conversation_search``: their schemas, how their
arguments are checked, and the text the model reads back.

The names and the ``query``/``limit`` arguments are contract (SPEC section 10); the answers keep their old
shape, one hit per line (``path:line: text`` for memory, ``[created] conversation role: snippet`` for
messages), best first, each followed by its rank and BM25 score so the model can tell a strong match from
a weak one. ``conversation_search`` also takes the filters Letta Code's tool has: ``roles``,
``start_date``, ``end_date`` (inclusive ISO dates or times) and one ``conversation_id``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from letta_ls.memfs.repo import MemoryRepo
from letta_ls.search.conversations import MessageFilter, search_conversations
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import search_memory
from letta_ls.search.service import SearchRequestError, check_limit

ROLES = ("user", "assistant", "tool")
MAX_LINE_CHARS = 200

MEMORY_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string"},
                   "limit": {"type": "integer", "description": "most files to return (default 20)"}},
    "required": ["query"],
}
CONVERSATION_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "limit": {"type": "integer"},
        "roles": {"type": "array", "items": {"type": "string", "enum": list(ROLES)},
                  "description": "only messages of these roles"},
        "start_date": {"type": "string", "description": "only messages from this ISO date or time on"},
        "end_date": {"type": "string", "description": "only messages up to this ISO date (inclusive) or time"},
        "conversation_id": {"type": "string", "description": "only this conversation"},
    },
    "required": ["query"],
}


def _query(args: dict[str, Any]) -> str:
    query = args.get("query")
    if not isinstance(query, str) or not query.strip():
        raise SearchRequestError("query is required and must be non-empty text")
    return query


def _date(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        value = None
    if not isinstance(value, str):
        raise SearchRequestError(f"{name} must be an ISO date such as 2025-01-31 (or a date and time)")
    return value


def message_filter(args: dict[str, Any]) -> MessageFilter:
    """The filters of a ``conversation_search`` call (or a ``letta/search`` request), checked."""
    roles = args.get("roles")
    if isinstance(roles, str):
        roles = [roles]
    if roles is not None and (not isinstance(roles, list) or any(role not in ROLES for role in roles)):
        raise SearchRequestError(f"roles must be a list of {', '.join(ROLES)}")
    conversation = args.get("conversation_id")
    if conversation is not None and not isinstance(conversation, str):
        raise SearchRequestError("conversation_id must be a conversation id such as conv-1a2b or default")
    return MessageFilter(tuple(roles or ()), _date(args, "start_date"), _date(args, "end_date"), conversation or None)


def memory_search_text(agent_dir: Path, repo: MemoryRepo, args: dict[str, Any]) -> str:
    query = _query(args)
    hits = search_memory(SearchIndex.for_agent(agent_dir), repo, query, limit=check_limit(args.get("limit")))
    if not hits:
        return f"No memory file matches {query!r}."
    return "\n".join(f"{h.path}:{h.line}: {h.text[:MAX_LINE_CHARS]}  (rank {h.rank}, score {h.score:.3g})"
                     for h in hits)


def conversation_search_text(conversations_dir: Path, args: dict[str, Any]) -> str:
    query = _query(args)
    limit = min(check_limit(args.get("limit")), 100)
    hits = search_conversations(SearchIndex.for_agent(conversations_dir.parent), conversations_dir, query,
                                limit=limit, filters=message_filter(args))
    if not hits:
        return f"No past message matches {query!r}."
    return "\n".join(f"[{h.created}] {h.conversation_id} {h.role}: {h.snippet}  (rank {h.rank}, score {h.score:.3g})"
                     for h in hits)
