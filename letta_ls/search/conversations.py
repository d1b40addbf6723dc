"""Past messages in the search index: caught up from the transcripts, searched by BM25.

A transcript is append-only (``agent/transcript_writer.py``), so the index remembers how many of its bytes
it has read (``transcripts.indexed_bytes``) and a catch-up parses only the complete lines after that point,
read under the transcript's shared lock so that it never sees half an append. The rows and the new offset
are written in one transaction: a crash or a second process catching up at the same moment never indexes
a message twice or skips one. A transcript shorter than what was indexed (replaced) is indexed again from
its start; one whose file is gone loses its rows. ``index_after_turn`` runs when a turn ends, so a search
rarely has anything left to catch up; ``search_conversations`` catches up first all the same (another
process, a crash before the hook), which costs one ``stat`` per conversation when nothing changed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letta_ls import file_locks
from letta_ls.agent.conversation_index import ID_PATTERN
from letta_ls.agent.conversation_search import searchable_text
from letta_ls.agent.messages import Message
from letta_ls.search.index import SearchIndex, write_transaction
from letta_ls.search.query import parse_query, ranked_rows

logger = logging.getLogger("letta_ls.search")

SNIPPET_TOKENS = 24
ELLIPSIS = "…"


@dataclass(frozen=True)
class MessageHit:
    """One matching message: where it is, a snippet around the match, and how well it matched."""

    conversation_id: str
    message_id: str
    role: str
    created: str
    snippet: str
    score: float  # BM25, higher is better (SQLite's ``bm25()`` negated)
    rank: int  # 1 for the best hit

    def to_json(self) -> dict[str, Any]:
        return {"conversationId": self.conversation_id, "messageId": self.message_id, "role": self.role,
                "created": self.created, "snippet": self.snippet, "score": round(self.score, 4), "rank": self.rank}


@dataclass(frozen=True)
class MessageFilter:
    """What a search may be narrowed to: roles, a time window (ISO dates or times, inclusive), one
    conversation. System messages are never searched (they are the compiled prompt, not a conversation)."""

    roles: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    conversation_id: str | None = None


def _transcripts(directory: Path) -> dict[str, int]:
    """Each conversation's transcript size (the files are the truth: the index.json may lag)."""
    sizes: dict[str, int] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return sizes
    for entry in entries:
        if entry.name.endswith(".jsonl") and ID_PATTERN.match(entry.name[:-6]):
            try:
                sizes[entry.name[:-6]] = entry.stat().st_size
            except FileNotFoundError:
                continue
    return sizes


def _read_tail(path: Path, start: int) -> tuple[bytes, int] | None:
    """The complete lines after byte ``start`` and where they end; None when the file is shorter than
    ``start`` (it was replaced: index it again from the beginning)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        file_locks.lock(fd, shared=True)  # the writer appends whole lines under the exclusive lock
        size = os.fstat(fd).st_size
        if size < start:
            return None
        data = os.pread(fd, size - start, start) if size > start else b""
    finally:
        os.close(fd)
    cut = data.rfind(b"\n") + 1
    return data[:cut], start + cut


def _message_rows(conversation_id: str, data: bytes) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or record.get("type") != "message":
                continue
            message = Message.from_json(record["message"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a torn or foreign line: readers skip it, and so does the index
        if message.role == "system":
            continue
        text = searchable_text(message)
        if text.strip():
            rows.append((conversation_id, message.id, message.role, message.created, text))
    return rows


def _indexed_bytes(db: sqlite3.Connection, only: str | None) -> dict[str, int]:
    if only is not None:
        return dict(db.execute("SELECT conversation_id, indexed_bytes FROM transcripts WHERE conversation_id = ?",
                               (only,)))
    return dict(db.execute("SELECT conversation_id, indexed_bytes FROM transcripts"))


def _catch_up(db: sqlite3.Connection, directory: Path, only: str | None = None) -> int:
    """Index what the transcripts gained since the last catch-up; returns how many messages were added."""
    if only is not None:  # one turn's transcript: one stat, not one per conversation
        try:
            sizes = {only: os.stat(directory / f"{only}.jsonl").st_size} if ID_PATTERN.match(only) else {}
        except FileNotFoundError:
            sizes = {}
    else:
        sizes = _transcripts(directory)
    indexed = _indexed_bytes(db, only)
    gone = [] if only is not None else [cid for cid in indexed if cid not in sizes]
    behind = [cid for cid, size in sizes.items() if indexed.get(cid) != size]
    if not behind and not gone:
        return 0
    added = 0
    with write_transaction(db):
        indexed = _indexed_bytes(db, only)  # again, under the lock now
        for cid in gone:
            db.execute("DELETE FROM message_rows WHERE conversation_id = ?", (cid,))
            db.execute("DELETE FROM transcripts WHERE conversation_id = ?", (cid,))
        for cid in behind:
            start = indexed.get(cid, 0)
            tail = _read_tail(directory / f"{cid}.jsonl", start)
            if tail is None and start:  # replaced by a shorter file: start over
                db.execute("DELETE FROM message_rows WHERE conversation_id = ?", (cid,))
                start, tail = 0, _read_tail(directory / f"{cid}.jsonl", 0)
            if tail is None:
                continue
            data, end = tail
            if end == start:
                continue
            rows = _message_rows(cid, data)
            db.executemany("INSERT INTO message_rows(conversation_id, message_id, role, created, text) "
                           "VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("INSERT INTO transcripts(conversation_id, indexed_bytes) VALUES (?, ?) "
                       "ON CONFLICT(conversation_id) DO UPDATE SET indexed_bytes = excluded.indexed_bytes",
                       (cid, end))
            added += len(rows)
    return added


def index_transcripts(index: SearchIndex, directory: Path | str, only: str | None = None) -> int:
    """Catch the index up with the transcripts in ``directory`` (or just the conversation ``only``)."""
    return index.run(lambda db: _catch_up(db, Path(directory), only))


def index_after_turn(directory: Path | str, conversation_id: str) -> None:
    """Index what a turn appended to ``conversation_id``'s transcript (called by the store when a turn
    ends). A failure is logged, never raised: the index is a cache, and the next search catches up."""
    directory = Path(directory)
    try:
        index_transcripts(SearchIndex.for_agent(directory.parent), directory, conversation_id)
    except Exception as exc:  # the turn is done and on disk whatever happens here
        logger.warning("could not index conversation %s (%s); the next search will", conversation_id, exc)


def _where(query: str, filters: MessageFilter) -> tuple[str, list[Any]]:
    clauses, params = ["message_fts MATCH ?"], [query]
    if filters.roles:
        clauses.append(f"r.role IN ({', '.join('?' for _ in filters.roles)})")
        params.extend(filters.roles)
    if filters.since:
        clauses.append("r.created >= ?")
        params.append(filters.since)
    if filters.until:  # a date means the whole of that day: compare as many characters as it has
        clauses.append("substr(r.created, 1, ?) <= ?")
        params.extend([len(filters.until), filters.until])
    if filters.conversation_id:
        clauses.append("r.conversation_id = ?")
        params.append(filters.conversation_id)
    return " AND ".join(clauses), params


def _search(db: sqlite3.Connection, directory: Path, text: str, limit: int,
            filters: MessageFilter) -> list[MessageHit]:
    _catch_up(db, directory)
    query = parse_query(text)
    if query is None or limit <= 0:
        return []
    sql_from = "message_fts JOIN message_rows r ON r.id = message_fts.rowid"
    rows = ranked_rows(
        db, query, "message_fts", sql_from,
        "r.conversation_id, r.message_id, r.role, r.created, "
        f"snippet(message_fts, 0, '', '', '{ELLIPSIS}', {SNIPPET_TOKENS}), bm25(message_fts) AS score",
        "score, r.created DESC", limit, lambda fts: _where(fts, filters),
        window_from=sql_from if filters != MessageFilter() else "message_fts")
    return [MessageHit(cid, mid, role, created, " ".join(snippet.split()), -score, rank)
            for rank, (cid, mid, role, created, snippet, score) in enumerate(rows, 1)]


def search_conversations(index: SearchIndex, directory: Path | str, query: str, *, limit: int = 20,
                         filters: MessageFilter | None = None) -> list[MessageHit]:
    """The past messages matching ``query``, best first (BM25), after catching up with the transcripts."""
    return index.run(lambda db: _search(db, Path(directory), query, limit, filters or MessageFilter()))
