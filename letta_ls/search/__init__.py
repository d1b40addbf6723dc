"""Ranked search over an agent's memory files and past messages (SQLite FTS5, BM25): the index that the
agent's ``memory_search`` and ``conversation_search`` tools, ``letta/search`` and ``letta-ls search`` share."""
