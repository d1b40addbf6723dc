"""Searching past conversations: which messages match a query, and a snippet of each around the match.

A message matches when it contains the query (case-insensitive) or all of its words in any order; its
text includes the names and arguments of the tools it called, so a search finds what the agent did as
well as what was said. It exists apart from ``conversations.py`` because matching and snippets are text
work with their own tuning (``SNIPPET_CHARS``); the store only hands over each conversation's messages,
read as the search reaches them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from letta_ls.agent.messages import Message

SNIPPET_CHARS = 160


@dataclass(frozen=True)
class SearchHit:
    """One matching message: where it is, and a snippet of its text around the match."""

    conversation_id: str
    message_id: str
    role: str
    created: str
    snippet: str

    def to_json(self) -> dict[str, Any]:
        return {"conversationId": self.conversation_id, "messageId": self.message_id, "role": self.role,
                "created": self.created, "snippet": self.snippet}


def searchable_text(message: Message) -> str:
    """What a search looks in: the message's text, and the name and arguments of each tool it called."""
    parts = [message.content]
    for call in message.tool_calls:
        parts.append(call.name)
        parts.append(json.dumps(call.arguments, ensure_ascii=False) if call.arguments else call.raw_arguments)
    return "\n".join(p for p in parts if p)


def _snippet(text: str, start: int, length: int) -> str:
    before = (SNIPPET_CHARS - length) // 3
    lo = max(0, start - max(before, 0))
    hi = min(len(text), max(lo + SNIPPET_CHARS, start + length))
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")


def search_messages(conversations: Iterable[tuple[str, Iterable[Message]]], query: str,
                    limit: int = 20) -> list[SearchHit]:
    """The messages of ``conversations`` (``(conversation id, messages)``, iterated only when the query is
    not empty) matching ``query``, newest first.

    A message matches when it contains the query (case-insensitive) or all of its words in any order.
    """
    needle = " ".join(query.split()).casefold()
    if not needle or limit <= 0:
        return []
    words = needle.split()
    hits: list[SearchHit] = []
    for conversation_id, messages in conversations:
        for message in messages:
            if message.role == "system":
                continue
            text = searchable_text(message)
            folded = text.casefold()
            at = folded.find(needle)
            length = len(needle)
            if at == -1:
                if not all(word in folded for word in words):
                    continue
                at, length = folded.find(words[0]), len(words[0])
            hits.append(SearchHit(conversation_id, message.id, message.role, message.created,
                                  _snippet(text, at, length)))
    hits.sort(key=lambda hit: hit.created, reverse=True)
    return hits[:limit]
