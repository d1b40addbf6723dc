"""Reading transcript files: one JSON record per line, parsed once and then only at the new tail.

A transcript (``<conversation-id>.jsonl``, see ``conversations.py``) only ever grows, so a reader that
remembers how far it got needs to parse only what was appended since: another window's turn, or this
process's own last append. ``TranscriptReader`` keeps, per file, the records parsed so far and the byte
offset just after the last complete line it consumed, keyed by the file's identity (device + inode).
Each read takes a shared ``flock`` (writers hold an exclusive one while they append whole lines) and:

* parses only the bytes after the remembered offset when the file is the same inode, is at least as
  long, and still holds the same bytes just before that offset;
* parses the whole file again when it was replaced (another inode), shrank, or was rewritten in place;
* never consumes an unterminated last line: that is a write torn by a crash. It is counted as skipped
  for this read and looked at again next time, when the next append has put a newline after it (the
  torn bytes then stay an unreadable line of their own, skipped for good).

A writer in this process hands over what it appended (``appended``), so its own records are decoded
from the bytes it wrote rather than read back. Records are shared between reads (that is the point):
the ``Message`` objects a read returns must be treated as read-only. The cache is bounded (the least
recently read transcripts are forgotten) and shared by every ``ConversationStore`` in the process.
``summarise_tail`` answers what an index entry needs (message count, latest time) for the bytes after
a given offset. Nothing here writes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls import file_locks
from letta_ls.agent.messages import Message

logger = logging.getLogger("letta_ls.agent.conversations")

CACHED_TRANSCRIPTS = 64
TAIL_CHECK_BYTES = 64  # compared before reading on from a remembered offset: detects a rewrite in place


@dataclass(frozen=True)
class CompactionRecord:
    summarised_through: str
    summary: Message
    time: str
    details: dict[str, Any] = field(default_factory=dict)


Record = tuple[str, Any]  # ("message", Message) | ("turn", dict) | ("compaction", CompactionRecord)


@dataclass
class Transcript:
    """One read of a transcript file, records in file order; ``skipped`` counts unreadable lines."""

    records: list[Record]
    skipped: int = 0
    end: int = 0  # bytes read: just after the last complete line

    def raw_messages(self) -> list[Message]:
        return [rec for kind, rec in self.records if kind == "message"]

    def compactions(self) -> list[CompactionRecord]:
        return [rec for kind, rec in self.records if kind == "compaction"]


def parse_record(data: Any) -> Record | None:
    """One line's JSON as a record, or None when it is not a record this version understands."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    if kind == "message" and isinstance(data.get("message"), dict):
        return "message", Message.from_json(data["message"])
    if kind == "turn" and data.get("turnId"):
        return "turn", data
    if kind == "compaction" and isinstance(data.get("summary"), dict) and data.get("summarisedThrough"):
        details = {k: v for k, v in data.items() if k not in ("type", "summarisedThrough", "summary", "time")}
        summary = Message.from_json(data["summary"])
        return "compaction", CompactionRecord(str(data["summarisedThrough"]), summary,
                                              str(data.get("time") or summary.created), details)
    return None


def _decode(raw: bytes) -> Record | None:
    try:
        return parse_record(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _read_from(fd: int, start: int, size: int) -> bytes:
    """Bytes ``start`` to ``size`` of the file (empty when there is nothing new)."""
    chunks = []
    while start < size:
        chunk = os.pread(fd, size - start, start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class _Parsed:
    """What is known of one file: its identity, the records of its first ``offset`` bytes."""

    device: int
    inode: int
    offset: int  # just after the last complete line consumed
    tail: bytes  # the bytes just before ``offset`` (at most TAIL_CHECK_BYTES)
    records: tuple[Record, ...]
    skipped: int  # unreadable complete lines among them


class TranscriptReader:
    """Reads transcripts, parsing each file's bytes once (see the module docstring)."""

    def __init__(self, capacity: int = CACHED_TRANSCRIPTS) -> None:
        self._items: OrderedDict[str, _Parsed] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def read(self, path: Path) -> Transcript:
        """Every record of ``path`` (an empty transcript when the file does not exist)."""
        key = os.path.abspath(path)
        try:
            fd = os.open(key, os.O_RDONLY)
        except FileNotFoundError:
            self.forget(key)
            return Transcript([])
        try:
            file_locks.lock(fd, shared=True)
            stat = os.fstat(fd)
            known = self._usable(key, fd, stat)
            start = known.offset if known is not None else 0
            parsed, torn = self._parse_tail(key, stat, known, _read_from(fd, start, stat.st_size), start)
        finally:
            os.close(fd)  # closing drops the lock
        self._remember(key, parsed)
        return Transcript(list(parsed.records), parsed.skipped + torn, parsed.offset)

    def appended(self, path: Path, fd: int, start: int, data: bytes) -> None:
        """Tell the reader that this process appended ``data`` at byte ``start`` of ``path`` (``fd`` open
        on it, the exclusive lock still held): when its parse ended exactly at ``start``, the new records
        are added from ``data``, so a writer never reads its own records back. Otherwise nothing changes
        and the next read parses the tail as usual."""
        key = os.path.abspath(path)
        stat = os.fstat(fd)
        known = self._usable(key, fd, stat)
        if known is None and start != 0:
            return
        if known is not None and known.offset != start:
            return
        parsed, _torn = self._parse_tail(key, stat, known, data, start)
        self._remember(key, parsed)

    def forget(self, path: Path | str) -> None:
        with self._lock:
            self._items.pop(os.path.abspath(path), None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    # ------------------------------------------------------------------ internals
    def _usable(self, key: str, fd: int, stat: os.stat_result) -> _Parsed | None:
        """The remembered parse of this very file, if the file still starts with what it parsed."""
        with self._lock:
            known = self._items.get(key)
        if known is None:
            return None
        if (stat.st_dev, stat.st_ino) != (known.device, known.inode) or stat.st_size < known.offset:
            return None  # replaced, or shrank
        if known.tail and os.pread(fd, len(known.tail), known.offset - len(known.tail)) != known.tail:
            return None  # rewritten in place
        return known

    def _parse_tail(self, key: str, stat: os.stat_result, known: _Parsed | None, data: bytes,
                    start: int) -> tuple[_Parsed, int]:
        """The parse of ``data`` (the file from byte ``start``) added to ``known``, and 1 if it ends torn."""
        records = list(known.records) if known is not None else []
        skipped = known.skipped if known is not None else 0
        end = data.rfind(b"\n") + 1  # complete lines only; what follows the last newline is a torn write
        position = start
        for raw in data[:end].split(b"\n")[:-1]:
            at, position = position, position + len(raw) + 1
            if not raw.strip():
                continue
            record = _decode(raw)
            if record is None:
                skipped += 1
                logger.warning("%s: skipped an unreadable record (%d bytes at offset %d)", key, len(raw), at)
                continue
            records.append(record)
        torn = 1 if data[end:].strip() else 0
        if torn:
            logger.debug("%s: skipped a torn last line (an interrupted write)", key)
        before = known.tail if known is not None else b""
        tail = (before + data[max(0, end - TAIL_CHECK_BYTES):end])[-TAIL_CHECK_BYTES:]
        return _Parsed(stat.st_dev, stat.st_ino, start + end, tail, tuple(records), skipped), torn

    def _remember(self, key: str, parsed: _Parsed) -> None:
        with self._lock:  # the latest read wins; one that raced ahead only costs the next read a little more
            self._items[key] = parsed
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


TRANSCRIPTS = TranscriptReader()


@dataclass(frozen=True)
class TailSummary:
    """What a transcript gained after byte ``start``: enough to bring an index entry up to date."""

    end: int  # just after the last complete line (a torn last line is left for later)
    messages: int  # message records in [start, end)
    last_activity: str | None  # the latest time among those records
    first_user: str | None  # the content of the first user message among them


def summarise_tail(path: Path, start: int) -> TailSummary | None:
    """Summarise the records after byte ``start`` of ``path``; None when the file is shorter than
    ``start`` (it shrank or was replaced: the caller must count from the beginning). Reads under a
    shared lock, so it never sees half of an append."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None if start else TailSummary(0, 0, None, None)
    try:
        file_locks.lock(fd, shared=True)
        size = os.fstat(fd).st_size
        if size < start:
            return None
        data = _read_from(fd, start, size)
    finally:
        os.close(fd)
    end = data.rfind(b"\n") + 1
    messages, latest, first_user = 0, None, None
    for raw in data[:end].split(b"\n"):
        record = _decode(raw) if raw.strip() else None
        if record is None:
            continue  # blank or unreadable: the reader skips it too
        kind, value = record
        if kind == "message":
            messages += 1
            when = value.created
            if first_user is None and value.role == "user" and value.kind == "message" and value.content.strip():
                first_user = value.content
        else:
            when = value.time if kind == "compaction" else value.get("time")
        if isinstance(when, str) and (latest is None or when > latest):
            latest = when
    return TailSummary(start + end, messages, latest, first_user)
