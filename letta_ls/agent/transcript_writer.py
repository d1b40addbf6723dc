"""Appending to transcripts: complete JSONL records, one write and one fsync per append, never a rewrite.

A transcript (``<conversation-id>.jsonl``, see ``conversations.py``) is only ever appended to: each
append is one ``os.write`` of complete lines on an ``O_APPEND`` descriptor followed by ``fsync``, under
an exclusive ``flock`` on the transcript, so two editor windows (two processes) and threads never
interleave or lose lines. A crash mid-write can leave a torn last line; readers skip any line that does
not parse (``transcripts.py``), and the next append first writes the missing newline so the torn bytes
stay on a line of their own. What was appended is handed to the process's transcript reader, so it is
not read back. It exists apart from ``conversations.py`` because these byte-level rules are what crash
safety rests on, and they hold whatever the store does with the index.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

from letta_ls.agent.messages import Message, now_iso
from letta_ls.agent.transcripts import TRANSCRIPTS
from letta_ls.file_locks import locked_file

logger = logging.getLogger("letta_ls.agent.conversations")

TurnStatus = Literal["started", "done", "cancelled", "error"]
TURN_STATUSES = ("started", "done", "cancelled", "error")


def message_record(message: Message) -> dict[str, Any]:
    """The transcript record of one message."""
    return {"type": "message", "message": message.to_json()}


def turn_record(turn_id: str, status: TurnStatus) -> dict[str, Any]:
    """The marker that a turn started or ended with ``status``; refuses a status that is not one of ours."""
    if status not in TURN_STATUSES:
        raise ValueError(f"turn status must be one of {', '.join(TURN_STATUSES)}, not {status!r}")
    return {"type": "turn", "turnId": turn_id, "status": status, "time": now_iso()}


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def append_records(path: Path, records: list[dict[str, Any]], *, sync: bool = True) -> int:
    """Append ``records`` to the transcript at ``path`` as complete lines, one ``os.write`` under an exclusive
    flock, then one fsync for them all (unless ``sync`` is false: the caller syncs later); returns the
    transcript's size after them."""
    data = b"".join(_line(record) for record in records)
    with locked_file(path, flags=os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            logger.warning("%s ends with a torn line (an interrupted write); starting a fresh line", path)
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
        TRANSCRIPTS.appended(path, fd, size, data)
        return size + len(data)
