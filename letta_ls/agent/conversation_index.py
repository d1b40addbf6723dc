"""The index of an agent's conversations (titles, message counts, recency) and the one to resume.

Under ``agents/<agent-id>/conversations/``::

    index.json   [{conversationId, title, created, updated, messages, bytes}, ...]   oldest update first
    state.json   {"lastUsed": <conversation id>}

``bytes`` is how much of the conversation's transcript the entry accounts for: its count, ``updated``
and (for an untitled conversation) the title taken from the first user message may lag behind the
transcript, and a reader brings them up to date from the transcript's bytes after that point
(``catch_up``, used by ``ConversationStore.get``/``list``), so what they report is exact, even after a
crash between a transcript append and an index write. That lets a turn leave the index alone until the
lag passes ``MAX_LAG_BYTES``: writing it (temporary file, ``fsync``, rename) costs more than the
transcript append it describes. An entry without ``bytes`` (written by an earlier version) is taken as
exact until its next write, which counts its transcript whole.

Both files are replaced atomically, only while ``ConversationStore`` holds the directory's lock
(``.lock``); readers take no lock, since a rename is atomic and they see the old file or the new one,
never a mix. Each conversation is written on a line of its own with the C JSON encoder (an indented
dump goes through the much slower pure-Python one). Everything here but titles the user gave can be
recomputed, and ``scan_transcripts`` does so when the index is missing or unreadable.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from letta_ls.agent.transcripts import TRANSCRIPTS, summarise_tail
from letta_ls.atomic_files import write_atomic

logger = logging.getLogger("letta_ls.agent.conversations")

INDEX_FILE = "index.json"
STATE_FILE = "state.json"
DEFAULT_ID = "default"
DEFAULT_TITLE = "default"
TITLE_CHARS = 60
MAX_LAG_BYTES = 32 * 1024  # how far an entry may fall behind its transcript before a turn rewrites it
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass
class ConversationInfo:
    conversation_id: str
    title: str | None
    created: str
    updated: str
    messages: int = 0
    subagent: str | None = None  # the kind of subagent run (dream, defrag, ...) that held this conversation

    def to_json(self) -> dict[str, Any]:
        data = {"conversationId": self.conversation_id, "title": self.title, "created": self.created,
                "updated": self.updated, "messages": self.messages}
        if self.subagent:
            data["subagent"] = self.subagent
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationInfo:
        created = str(data.get("created") or "")
        subagent = data.get("subagent")
        return cls(conversation_id=str(data["conversationId"]), title=data.get("title"), created=created,
                   updated=str(data.get("updated") or created), messages=int(data.get("messages") or 0),
                   subagent=str(subagent) if subagent else None)


@dataclass
class ConversationIndex:
    """The index as read: conversations in order of their last update, and what each accounts for."""

    conversations: list[ConversationInfo] = field(default_factory=list)
    accounted: dict[str, int] = field(default_factory=dict)  # conversation id -> transcript bytes counted

    def find(self, conversation_id: str) -> ConversationInfo | None:
        for info in self.conversations:
            if info.conversation_id == conversation_id:
                return info
        return None

    def to_text(self) -> str:
        rows = ",\n".join("  " + json.dumps(self._row(info), ensure_ascii=False) for info in self.conversations)
        return f"[\n{rows}\n]\n" if rows else "[]\n"

    def _row(self, info: ConversationInfo) -> dict[str, Any]:
        row = info.to_json()
        accounted = self.accounted.get(info.conversation_id)
        if accounted is not None:
            row["bytes"] = accounted
        return row

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> ConversationIndex:
        infos = [ConversationInfo.from_json(row) for row in rows]
        accounted = {info.conversation_id: row["bytes"] for info, row in zip(infos, rows, strict=True)
                     if isinstance(row.get("bytes"), int) and row["bytes"] >= 0}
        return cls(infos, accounted)


def title_from(text: str) -> str:
    """A title from the first user message: whitespace collapsed, about ``TITLE_CHARS`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat.rfind(" ", TITLE_CHARS // 2, TITLE_CHARS)
    return flat[: cut if cut != -1 else TITLE_CHARS].rstrip(" ,.;:") + "…"


def catch_up(index: ConversationIndex, info: ConversationInfo, transcript: Path, *, recount: bool = False) -> bool:
    """Bring ``info`` up to date with its ``transcript`` from the bytes its entry has not accounted for:
    message count, ``updated``, and a title from the first user message when it has none. True when it
    changed. An entry that accounts for nothing (written by an earlier version) is taken as exact,
    unless ``recount``: then the whole transcript is counted, so that it is exact from then on."""
    accounted = index.accounted.get(info.conversation_id)
    if accounted is None and not recount:
        return False
    summary = summarise_tail(transcript, accounted or 0)
    if summary is None:  # the transcript shrank or was replaced: count it all again
        accounted, summary = None, summarise_tail(transcript, 0)
        if summary is None:
            return False
    if accounted is not None and summary.end == accounted:
        return False
    info.messages = (info.messages if accounted is not None else 0) + summary.messages
    if summary.last_activity is not None and _later(summary.last_activity, info.updated):
        info.updated = summary.last_activity
    if info.title is None and summary.first_user:
        info.title = title_from(summary.first_user)
    index.accounted[info.conversation_id] = summary.end
    return True


def _later(candidate: str, than: str) -> bool:
    try:
        return datetime.fromisoformat(candidate) > datetime.fromisoformat(than)
    except (TypeError, ValueError):  # unreadable or naive/aware mismatch: compare the text
        return candidate > than


def peek_index(directory: Path, conversation_id: str) -> tuple[bool, int | None]:
    """Whether the conversation has an entry, and the transcript bytes it accounts for (None: unknown,
    so write to be sure), without building every entry: this runs after every append. Anything
    unexpected reads as unknown, which sends the caller to the locked, full path."""
    try:
        rows = json.loads((directory / INDEX_FILE).read_bytes())
        row = next((row for row in rows if row.get("conversationId") == conversation_id), None)
    except (OSError, ValueError, TypeError, AttributeError):
        return False, None
    if row is None:
        return False, None
    accounted = row.get("bytes")
    return True, accounted if isinstance(accounted, int) else None


def read_index(directory: Path) -> ConversationIndex:
    """The index of ``directory``, rebuilt from the transcripts when it is missing or unreadable."""
    path = directory / INDEX_FILE
    try:
        return ConversationIndex.from_rows(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        if not directory.exists():
            return ConversationIndex()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.warning("%s is unreadable (%s); rebuilding it from the transcripts", path, exc)
    return scan_transcripts(directory)


def write_index(directory: Path, index: ConversationIndex) -> None:
    """Replace the index atomically (the caller holds the directory lock)."""
    _write_atomic(directory / INDEX_FILE, index.to_text())


def read_last_used(directory: Path) -> str | None:
    """The conversation id ``state.json`` names (not checked against the index), if any."""
    try:
        chosen = json.loads((directory / STATE_FILE).read_text(encoding="utf-8")).get("lastUsed")
    except (FileNotFoundError, ValueError, AttributeError):
        return None
    return chosen if isinstance(chosen, str) else None


def write_last_used(directory: Path, conversation_id: str) -> None:
    """Replace ``state.json`` atomically (the caller holds the directory lock)."""
    _write_atomic(directory / STATE_FILE, json.dumps({"lastUsed": conversation_id}) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def scan_transcripts(directory: Path) -> ConversationIndex:
    """The conversations rebuilt from the transcript files (when the index is missing or damaged)."""
    index = ConversationIndex()
    for path in sorted(directory.glob("*.jsonl")):
        if not ID_PATTERN.match(path.stem):
            continue
        transcript = TRANSCRIPTS.read(path)
        messages = transcript.raw_messages()
        stamp = datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="milliseconds")
        first_user = next((m.content for m in messages if m.role == "user" and m.content.strip()), None)
        title = DEFAULT_TITLE if path.stem == DEFAULT_ID else (title_from(first_user) if first_user else None)
        index.conversations.append(ConversationInfo(path.stem, title, messages[0].created if messages else stamp,
                                                    messages[-1].created if messages else stamp, len(messages)))
        index.accounted[path.stem] = transcript.end
    return index
