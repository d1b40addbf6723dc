"""An agent's conversations: the index, the append-only JSONL transcripts, and what is read back from them.

Layout under ``agents/<agent-id>/conversations/``::

    index.json              [{conversationId, title, created, updated, messages, bytes}, ...]
    state.json              {"lastUsed": <conversation id>}: the conversation to resume
    <conversation-id>.jsonl one transcript per conversation, one JSON record per line
    .lock                   flock guarding index.json and state.json

Every agent has a conversation whose id is literally ``default`` (created on first use); others get
``conv-<hex>`` ids. A transcript holds three kinds of record::

    {"type": "message", "message": <Message.to_json()>}
    {"type": "turn", "turnId": ..., "status": "started"|"done"|"cancelled"|"error", "time": ...}
    {"type": "compaction", "summarisedThrough": <message id>, "summary": <Message json>, "time": ..., ...}

Crash safety and concurrency. A transcript is only ever appended to (``transcript_writer.py``): one
write and one fsync per append under an exclusive ``flock``, so windows and threads never interleave or
lose lines, and a torn last line is skipped by readers and set apart by the next append. A turn's start
(its marker and the user's message) and its end (the reply and its marker) are one append each, so one
fsync each (the agent runs the start's fsync while the model is asked, and shows nothing of the turn
before it is done). ``index.json`` and ``state.json`` are replaced atomically (temporary file + fsync +
rename) under a lock on the directory, and only when they must change (``conversation_index.py``).
Nothing in letta-ls rewrites a transcript. Reading parses only what was appended since the last read
(``transcripts.py``); the records it returns are shared, so treat them as read-only.

``messages()`` is the whole history, repaired on read so providers accept it (a tool call without a
result gets a synthetic one; ``history_repair.py``); ``context()`` is what the model sees: the latest
compaction summary followed by the messages after the message it summarised through. The transcript
itself always keeps everything: ``render_markdown()`` renders it (for ``letta-conversation://``,
``conversation_render.py``) and ``search()`` looks through it (``conversation_search.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from letta_ls.agent.conversation_index import (
    DEFAULT_ID,
    DEFAULT_TITLE,
    ID_PATTERN,
    MAX_LAG_BYTES,
    ConversationIndex,
    ConversationInfo,
    catch_up,
    peek_index,
    read_index,
    read_last_used,
    title_from,
    write_index,
    write_last_used,
)
from letta_ls.agent.conversation_render import clip, render_conversation
from letta_ls.agent.conversation_search import searchable_text
from letta_ls.agent.history_repair import NO_RESULT, repair_history
from letta_ls.agent.messages import Message, new_id, now_iso
from letta_ls.agent.transcript_writer import TurnStatus, append_records, message_record, turn_record
from letta_ls.agent.transcripts import TRANSCRIPTS, CompactionRecord, Transcript
from letta_ls.file_locks import locked_file
from letta_ls.search.conversations import MessageFilter, MessageHit, index_after_turn, search_conversations
from letta_ls.search.conversations import MessageHit as SearchHit  # the name callers of this module know
from letta_ls.search.index import SearchIndex

__all__ = ["DEFAULT_ID", "DEFAULT_TITLE", "NO_RESULT", "CompactionRecord", "ConversationInfo", "ConversationStore",
           "SearchHit", "TurnStatus", "UnknownConversationError", "clip", "repair_history", "searchable_text",
           "title_from"]

logger = logging.getLogger(__name__)


class UnknownConversationError(KeyError):
    """No conversation with that id; the message lists the ids that exist."""

    def __init__(self, conversation_id: str, known: Iterable[str]) -> None:
        self.conversation_id = conversation_id
        self.known = list(known)
        super().__init__(f"no conversation {conversation_id!r}; conversations: {', '.join(self.known) or 'none'}")

    def __str__(self) -> str:
        return str(self.args[0])


_HOLDING = threading.local()  # the conversations directories whose lock this thread holds


class ConversationStore:
    """The conversations of one agent, in ``directory`` (``Agent.conversations_dir``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.index_path = self.directory / "index.json"

    # ------------------------------------------------------------------ index
    @contextlib.contextmanager
    def _locked(self) -> Iterator[ConversationIndex]:
        """The directory lock, held while the index is read, changed and written back. ``flock`` is not
        re-entrant (a second descriptor would wait for the first forever), so a nested take is an error."""
        held: set[str] = _HOLDING.__dict__.setdefault("directories", set())
        key = os.path.abspath(self.directory)
        if key in held:
            raise RuntimeError(f"the lock of {key} is already held by this thread")
        self.directory.mkdir(parents=True, exist_ok=True)
        with locked_file(self.directory / ".lock"):
            held.add(key)
            try:
                yield read_index(self.directory)
            finally:
                held.discard(key)

    def transcript_path(self, conversation_id: str) -> Path:
        if not ID_PATTERN.match(conversation_id):
            raise UnknownConversationError(conversation_id, [c.conversation_id for c in self._read_index()])
        return self.directory / f"{conversation_id}.jsonl"

    def _read_index(self) -> list[ConversationInfo]:
        return read_index(self.directory).conversations

    def _find(self, infos: list[ConversationInfo], conversation_id: str) -> ConversationInfo:
        for info in infos:
            if info.conversation_id == conversation_id:
                return info
        known = [DEFAULT_ID] + [i.conversation_id for i in infos if i.conversation_id != DEFAULT_ID]
        raise UnknownConversationError(conversation_id, known)

    def ensure_default(self) -> ConversationInfo:
        """The ``default`` conversation, created on first use."""
        for info in self._read_index():
            if info.conversation_id == DEFAULT_ID:
                return info
        with self._locked() as index:
            found = index.find(DEFAULT_ID)
            if found is not None:
                return found
            now = now_iso()
            info = ConversationInfo(DEFAULT_ID, DEFAULT_TITLE, now, now, 0)
            path = self.transcript_path(DEFAULT_ID)
            path.touch()
            index.conversations.insert(0, info)
            catch_up(index, info, path, recount=True)  # an existing transcript counts
            write_index(self.directory, index)
            return info

    def create(self, title: str | None = None, *, subagent: str | None = None) -> ConversationInfo:
        """A new conversation ``conv-<hex>``; without a title it takes one from its first user message.
        ``subagent`` marks it as the conversation of a subagent run of that kind (a dream, a defrag)."""
        title = " ".join(title.split()) if title else None
        with self._locked() as index:
            now = now_iso()
            info = ConversationInfo(new_id("conv"), title or None, now, now, 0, subagent or None)
            self.transcript_path(info.conversation_id).touch()
            index.conversations.append(info)
            index.accounted[info.conversation_id] = 0
            write_index(self.directory, index)
        return info

    def rename(self, conversation_id: str, title: str) -> ConversationInfo:
        self.get(conversation_id)
        with self._locked() as index:
            info = self._find(index.conversations, conversation_id)
            catch_up(index, info, self.transcript_path(conversation_id), recount=True)  # stored with it
            info.title = " ".join(title.split()) or info.title
            write_index(self.directory, index)
            return info

    def list(self) -> list[ConversationInfo]:
        """``default`` first, then the most recently updated; counts and times as the transcripts are now."""
        self.ensure_default()
        index = read_index(self.directory)
        for info in index.conversations:
            catch_up(index, info, self.directory / f"{info.conversation_id}.jsonl")
        infos = index.conversations
        default = [i for i in infos if i.conversation_id == DEFAULT_ID]
        # the index position breaks ties: two conversations touched in the same millisecond
        ranked = [(i.updated, i.created, n, i) for n, i in enumerate(infos) if i.conversation_id != DEFAULT_ID]
        ranked.sort(key=lambda r: r[:3], reverse=True)
        return default + [r[3] for r in ranked]

    def get(self, conversation_id: str) -> ConversationInfo:
        """A conversation's entry, its count and time as its transcript is now."""
        if conversation_id == DEFAULT_ID:
            self.ensure_default()
        index = read_index(self.directory)
        info = self._find(index.conversations, conversation_id)
        catch_up(index, info, self.transcript_path(conversation_id))
        return info

    def check(self, conversation_id: str) -> str:
        """``conversation_id`` if that conversation exists, else ``UnknownConversationError`` listing those
        that do. Cheaper than ``get``: its transcript file is proof enough (see ``_known_transcript``)."""
        self._known_transcript(conversation_id)
        return conversation_id

    # ------------------------------------------------------------------ last used
    def last_used(self) -> str:
        """The id of the conversation to resume: the last one set, else ``default``."""
        target = self._resume_target()
        return target if target != DEFAULT_ID else self.ensure_default().conversation_id

    def set_last_used(self, conversation_id: str) -> None:
        """Make ``conversation_id`` the one to resume (every turn asks; most often it already is)."""
        if self._resume_target() == conversation_id:
            return  # nothing to write, and no fsync on every turn
        self.get(conversation_id)  # refuses an unknown id
        with self._locked() as index:  # (nothing in here may take the lock again: flock is not re-entrant)
            chosen = read_last_used(self.directory)
            current = chosen if chosen is not None and index.find(chosen) is not None else DEFAULT_ID
            if current != conversation_id:
                write_last_used(self.directory, conversation_id)

    def _resume_target(self) -> str:
        """The conversation ``state.json`` names if it still exists, else ``default``: two small reads."""
        chosen = read_last_used(self.directory)
        if chosen is not None and chosen != DEFAULT_ID and peek_index(self.directory, chosen)[0]:
            return chosen
        return DEFAULT_ID

    # ------------------------------------------------------------------ appending
    def _append_records(self, conversation_id: str, records: list[dict[str, Any]], *, sync: bool = True) -> int:
        """Complete lines, one ``os.write`` under an exclusive flock, then one fsync for them all (unless the
        caller syncs later, see ``begin_turn``); returns the transcript's size after them."""
        return append_records(self._known_transcript(conversation_id), records, sync=sync)

    def _after_append(self, conversation_id: str, end: int) -> None:
        """Rewrite the conversation's index entry only when it lags ``MAX_LAG_BYTES`` behind the transcript
        (now ``end`` bytes long) or has never counted it: counts, times and a title from the first user
        message are otherwise caught up by whoever reads (``get``, ``list``)."""
        listed, accounted = peek_index(self.directory, conversation_id)
        if listed and accounted is not None and end - accounted <= MAX_LAG_BYTES:
            return
        with self._locked() as index:
            info = index.find(conversation_id)
            if info is None:  # a transcript the index does not name yet (see _known_transcript): adopt it
                now = now_iso()
                info = ConversationInfo(conversation_id, None, now, now, 0)
                index.conversations.append(info)
            if catch_up(index, info, self.transcript_path(conversation_id), recount=True):
                index.conversations.remove(info)
                index.conversations.append(info)  # kept in order of recency, which breaks timestamp ties
                write_index(self.directory, index)

    def append(self, conversation_id: str, messages: list[Message]) -> None:
        """Append ``messages`` to the transcript (one write, one fsync); ``get`` and ``list`` count them."""
        if not messages:
            return
        end = self._append_records(conversation_id, [message_record(m) for m in messages])
        self._after_append(conversation_id, end)

    def mark_turn(self, conversation_id: str, turn_id: str, status: TurnStatus) -> None:
        """Record that a turn started or ended, so a reader can tell a turn that never finished."""
        self._append_records(conversation_id, [turn_record(turn_id, status)])

    def begin_turn(self, conversation_id: str, turn_id: str, message: Message, *, sync: bool = True) -> None:
        """Start a turn: its ``started`` marker and the user's ``message`` as one append (one fsync).

        With ``sync=False`` the lines are written (every reader sees them, and a crash of the process
        keeps them) but the fsync is left to the caller's ``sync``, so that it can overlap the model
        call; the caller must show nothing for the turn before that returns."""
        end = self._append_records(conversation_id, [turn_record(turn_id, "started"), message_record(message)],
                                   sync=sync)
        self._after_append(conversation_id, end)

    def sync(self, conversation_id: str) -> None:
        """Make everything appended to the transcript so far durable (after ``begin_turn(sync=False)``)."""
        fd = os.open(self.transcript_path(conversation_id), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def end_turn(self, conversation_id: str, turn_id: str, status: TurnStatus,
                 messages: list[Message] | None = None) -> None:
        """End a turn: its last ``messages`` followed by the ``status`` marker, as one append (one fsync)."""
        record = turn_record(turn_id, status)
        end = self._append_records(conversation_id, [*(message_record(m) for m in messages or []), record])
        self._after_append(conversation_id, end)
        index_after_turn(self.directory, conversation_id)  # the search index, after the turn is on disk

    def record_compaction(self, conversation_id: str, summarised_through: str, summary: Message,
                          **details: Any) -> None:
        """Record that everything up to ``summarised_through`` is replaced, for the model, by ``summary``."""
        record = {"type": "compaction", "summarisedThrough": summarised_through, "summary": summary.to_json(),
                  "time": now_iso(), **details}
        self._append_records(conversation_id, [record])

    # ------------------------------------------------------------------ reading
    def _parse(self, path: Path) -> Transcript:
        return TRANSCRIPTS.read(path)

    def _known_transcript(self, conversation_id: str) -> Path:
        """The transcript of a conversation that exists, else ``UnknownConversationError``.

        A transcript file is proof enough (``create`` makes it before the index names it, and a lost
        index is rebuilt from the files), so the common case costs one ``stat``, not a read of the index.
        """
        path = self.transcript_path(conversation_id)
        if not path.exists():
            self.get(conversation_id)
        return path

    def _transcript(self, conversation_id: str) -> Transcript:
        return self._parse(self._known_transcript(conversation_id))

    def messages(self, conversation_id: str) -> list[Message]:
        """The whole history, repaired so providers accept it (see the module docstring)."""
        return repair_history(self._transcript(conversation_id).records)

    def raw_messages(self, conversation_id: str) -> list[Message]:
        """The message records exactly as stored, without the read-time repair."""
        return self._transcript(conversation_id).raw_messages()

    def compactions(self, conversation_id: str) -> list[CompactionRecord]:
        return self._transcript(conversation_id).compactions()

    def context(self, conversation_id: str) -> list[Message]:
        """What the model sees: the latest compaction summary, then the messages after it."""
        transcript = self._transcript(conversation_id)
        history = repair_history(transcript.records)
        compactions = transcript.compactions()
        if not compactions:
            return history
        latest = compactions[-1]
        for position, message in enumerate(history):
            if message.id == latest.summarised_through:
                return [latest.summary, *history[position + 1:]]
        logger.warning("conversation %s: compaction names unknown message %s; using the whole history",
                       conversation_id, latest.summarised_through)
        return history

    def turn_statuses(self, conversation_id: str) -> dict[str, str]:
        """Each turn id's latest recorded status, in the order the turns started."""
        statuses: dict[str, str] = {}
        for kind, record in self._transcript(conversation_id).records:
            if kind == "turn":
                statuses[str(record["turnId"])] = str(record.get("status"))
        return statuses

    def unfinished_turns(self, conversation_id: str) -> list[str]:
        """Turns that started and never recorded an end (still running somewhere, or interrupted by a crash)."""
        return [turn for turn, status in self.turn_statuses(conversation_id).items() if status == "started"]

    # ------------------------------------------------------------------ rendering and search
    def render_markdown(self, conversation_id: str) -> str:
        """The read-only ``letta-conversation://`` document: the whole transcript as markdown."""
        info = self.get(conversation_id)
        return render_conversation(info, self._parse(self.transcript_path(conversation_id)))

    def search(self, query: str, limit: int = 20, filters: MessageFilter | None = None) -> list[MessageHit]:
        """Past messages of every conversation matching ``query``, best first (BM25, ``letta_ls.search``):
        all its words (as word prefixes) in any order, else any of them."""
        return search_conversations(SearchIndex.for_agent(self.directory.parent), self.directory, query,
                                    limit=limit, filters=filters)
