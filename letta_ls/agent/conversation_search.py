"""What a search looks in for a past message: its text, and the names and arguments of the tools it called,
so a search finds what the agent did as well as what was said. The index and the ranking live in
``letta_ls.search.conversations`` (SQLite FTS5, BM25); this module only says what text a message offers.
"""

from __future__ import annotations

import json

from letta_ls.agent.messages import Message


def searchable_text(message: Message) -> str:
    """What a search looks in: the message's text, and the name and arguments of each tool it called."""
    parts = [message.content]
    for call in message.tool_calls:
        parts.append(call.name)
        parts.append(json.dumps(call.arguments, ensure_ascii=False) if call.arguments else call.raw_arguments)
    return "\n".join(p for p in parts if p)
