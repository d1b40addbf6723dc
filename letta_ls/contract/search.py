"""``letta/search``: conversations and memory ranked by relevance (BM25); beyond SPEC (issue 14)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

Scope = Literal["memory", "conversations", "all"]


@attrs.define
class SearchParams:
    query: str
    scope: Scope = "all"
    limit: int | None = None
    roles: list[str] | None = None  # user, assistant, tool
    start_date: str | None = None
    end_date: str | None = None
    conversation_id: str | None = None


SearchResult = dict[str, Any]  # {query, memory?: [hit], conversations?: [hit]}; each hit has its ``uri``
