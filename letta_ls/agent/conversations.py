"""An agent's conversations: the index, the append-only JSONL transcripts, and what is read back from them.

Layout under ``agents/<agent-id>/conversations/``::

    index.json              [{conversationId, title, created, updated, messages}, ...]
    state.json              {"lastUsed": <conversation id>}: the conversation to resume
    <conversation-id>.jsonl one transcript per conversation, one JSON record per line
    .lock                   flock guarding index.json and state.json

Every agent has a conversation whose id is literally ``default`` (created on first use); others get
``conv-<hex>`` ids. A transcript holds three kinds of record::

    {"type": "message", "message": <Message.to_json()>}
    {"type": "turn", "turnId": ..., "status": "started"|"done"|"cancelled"|"error", "time": ...}
    {"type": "compaction", "summarisedThrough": <message id>, "summary": <Message json>, "time": ..., ...}

Crash safety and concurrency. A transcript is only ever appended to: each append is one ``os.write`` of
complete lines on an ``O_APPEND`` descriptor followed by ``fsync``, under an exclusive ``flock`` on the
transcript, so two editor windows (two processes) and threads never interleave or lose lines. A crash
mid-write can leave a torn last line; readers skip any line that does not parse, and the next append
first writes the missing newline so the torn bytes stay on a line of their own. ``index.json`` and
``state.json`` are replaced atomically (temporary file + rename) under a lock on the directory. Nothing
in letta-ls rewrites a transcript.

Provider-valid histories (the repair design). Providers refuse an assistant tool call without a result.
A crash or a cancel can leave exactly that on disk, and the file must not be rewritten, so the repair
happens on read and is never stored: ``messages()`` places each tool result directly after the
assistant message that made the call, drops tool results that answer no call, and gives every call
that has no result a synthetic result ``"cancelled: no result"`` -- as soon as anything other than its
own results follows the call in the transcript (a new message, a turn marker, a compaction). A call at
the very end of the transcript with nothing after it is left pending: its turn may still be running,
here or in another window, and compaction must not cut past it. Synthetic results have deterministic
ids (``<assistant id>.<call id>.no-result``), so a compaction can name one as ``summarisedThrough`` and
every later read finds it again. A real result appended late simply replaces the synthetic one.

``messages()`` is the whole repaired history; ``context()`` is what the model sees: the latest
compaction summary followed by the messages after the message it summarised through. The transcript
itself always keeps everything, and ``render_markdown()`` renders it (for ``letta-conversation://``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from letta_ls.agent.messages import Message, new_id, now_iso
from letta_ls.home import write_json_atomic

logger = logging.getLogger(__name__)

DEFAULT_ID = "default"
DEFAULT_TITLE = "default"
TITLE_CHARS = 60
TOOL_RESULT_CLIP = 2_000
NO_RESULT = "cancelled: no result"
SNIPPET_CHARS = 160
TurnStatus = Literal["started", "done", "cancelled", "error"]
TURN_STATUSES = ("started", "done", "cancelled", "error")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class UnknownConversationError(KeyError):
    """No conversation with that id; the message lists the ids that exist."""

    def __init__(self, conversation_id: str, known: Iterable[str]) -> None:
        self.conversation_id = conversation_id
        self.known = list(known)
        super().__init__(f"no conversation {conversation_id!r}; conversations: {', '.join(self.known) or 'none'}")

    def __str__(self) -> str:
        return str(self.args[0])


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


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    message_id: str
    role: str
    created: str
    snippet: str

    def to_json(self) -> dict[str, Any]:
        return {"conversationId": self.conversation_id, "messageId": self.message_id, "role": self.role,
                "created": self.created, "snippet": self.snippet}


@dataclass(frozen=True)
class CompactionRecord:
    summarised_through: str
    summary: Message
    time: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Transcript:
    """One parse of a transcript file, records in file order."""

    records: list[tuple[str, Any]]  # ("message", Message) | ("turn", dict) | ("compaction", CompactionRecord)
    skipped: int = 0

    def raw_messages(self) -> list[Message]:
        return [rec for kind, rec in self.records if kind == "message"]

    def compactions(self) -> list[CompactionRecord]:
        return [rec for kind, rec in self.records if kind == "compaction"]


# ---------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _flocked(path: Path, operation: int, flags: int = os.O_RDWR | os.O_CREAT) -> Iterator[int]:
    fd = os.open(path, flags, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield fd
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _parse_record(data: Any) -> tuple[str, Any] | None:
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


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit} more characters]"


def title_from(text: str) -> str:
    """A title from the first user message: whitespace collapsed, about ``TITLE_CHARS`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat.rfind(" ", TITLE_CHARS // 2, TITLE_CHARS)
    return flat[: cut if cut != -1 else TITLE_CHARS].rstrip(" ,.;:") + "…"


def searchable_text(message: Message) -> str:
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


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _when(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def repair_history(records: list[tuple[str, Any]]) -> list[Message]:
    """The provider-valid history of transcript ``records`` (see the module docstring)."""
    messages = [rec for kind, rec in records if kind == "message"]
    results: dict[str, Message] = {}
    for message in messages:
        if message.role == "tool" and message.tool_call_id and message.tool_call_id not in results:
            results[message.tool_call_id] = message
    called = {call.id for m in messages if m.role == "assistant" for call in m.tool_calls}
    orphans = [m.id for m in messages if m.role == "tool" and m.tool_call_id not in called]
    if orphans:
        logger.debug("dropping %d tool result(s) that answer no tool call: %s", len(orphans), ", ".join(orphans))

    history: list[Message] = []
    placed: set[str] = set()
    for index, (kind, record) in enumerate(records):
        if kind != "message" or record.role == "tool":
            continue  # tool results are placed right after the call they answer
        history.append(record)
        if record.role != "assistant" or not record.tool_calls:
            continue
        own = {call.id for call in record.tool_calls}
        settled = any(call.id not in results for call in record.tool_calls) and any(
            not (k == "message" and r.role == "tool" and r.tool_call_id in own) for k, r in records[index + 1:])
        for call in record.tool_calls:
            if call.id in placed:
                continue
            result = results.get(call.id)
            if result is None and settled:
                result = Message(role="tool", content=NO_RESULT, tool_call_id=call.id, name=call.name,
                                 id=f"{record.id}.{call.id}.no-result", created=record.created,
                                 turn_id=record.turn_id)
            if result is not None:
                history.append(result)
                placed.add(call.id)
    return history


# ---------------------------------------------------------------------------------------------- the store
class ConversationStore:
    """The conversations of one agent, in ``directory`` (``Agent.conversations_dir``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.index_path = self.directory / "index.json"
        self.state_path = self.directory / "state.json"

    # ------------------------------------------------------------------ index
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with _flocked(self.directory / ".lock", fcntl.LOCK_EX):
            yield

    def transcript_path(self, conversation_id: str) -> Path:
        if not _ID_PATTERN.match(conversation_id):
            raise UnknownConversationError(conversation_id, [c.conversation_id for c in self._read_index()])
        return self.directory / f"{conversation_id}.jsonl"

    def _read_index(self) -> list[ConversationInfo]:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            return [ConversationInfo.from_json(item) for item in data]
        except FileNotFoundError:
            return self._scan_transcripts() if self.directory.exists() else []
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("%s is unreadable (%s); rebuilding it from the transcripts", self.index_path, exc)
            return self._scan_transcripts()

    def _scan_transcripts(self) -> list[ConversationInfo]:
        """The index rebuilt from the transcript files (when index.json is missing or damaged)."""
        infos = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if not _ID_PATTERN.match(path.stem):
                continue
            messages = self._parse(path).raw_messages()
            stamp = datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="milliseconds")
            first_user = next((m.content for m in messages if m.role == "user" and m.content.strip()), None)
            title = DEFAULT_TITLE if path.stem == DEFAULT_ID else (title_from(first_user) if first_user else None)
            infos.append(ConversationInfo(path.stem, title, messages[0].created if messages else stamp,
                                          messages[-1].created if messages else stamp, len(messages)))
        return infos

    def _write_index(self, infos: list[ConversationInfo]) -> None:
        write_json_atomic(self.index_path, [info.to_json() for info in infos])

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
        with self._locked():
            infos = self._read_index()
            for info in infos:
                if info.conversation_id == DEFAULT_ID:
                    return info
            now = now_iso()
            info = ConversationInfo(DEFAULT_ID, DEFAULT_TITLE, now, now, 0)
            self.transcript_path(DEFAULT_ID).touch()
            self._write_index([info, *infos])
            return info

    def create(self, title: str | None = None, *, subagent: str | None = None) -> ConversationInfo:
        """A new conversation ``conv-<hex>``; without a title it takes one from its first user message.
        ``subagent`` marks it as the conversation of a subagent run of that kind (a dream, a defrag)."""
        title = " ".join(title.split()) if title else None
        with self._locked():
            infos = self._read_index()
            now = now_iso()
            info = ConversationInfo(new_id("conv"), title or None, now, now, 0, subagent or None)
            self.transcript_path(info.conversation_id).touch()
            self._write_index([*infos, info])
        return info

    def rename(self, conversation_id: str, title: str) -> ConversationInfo:
        self.get(conversation_id)
        with self._locked():
            infos = self._read_index()
            info = self._find(infos, conversation_id)
            info.title = " ".join(title.split()) or info.title
            self._write_index(infos)
            return info

    def list(self) -> list[ConversationInfo]:
        """``default`` first, then the most recently updated."""
        self.ensure_default()
        infos = self._read_index()
        default = [i for i in infos if i.conversation_id == DEFAULT_ID]
        # the index position breaks ties: two conversations touched in the same millisecond
        ranked = [(i.updated, i.created, n, i) for n, i in enumerate(infos) if i.conversation_id != DEFAULT_ID]
        ranked.sort(key=lambda r: r[:3], reverse=True)
        return default + [r[3] for r in ranked]

    def get(self, conversation_id: str) -> ConversationInfo:
        if conversation_id == DEFAULT_ID:
            return self.ensure_default()
        infos = self._read_index()
        return self._find(infos, conversation_id)

    # ------------------------------------------------------------------ last used
    def last_used(self) -> str:
        """The id of the conversation to resume: the last one set, else ``default``."""
        try:
            chosen = json.loads(self.state_path.read_text(encoding="utf-8")).get("lastUsed")
        except (FileNotFoundError, ValueError, AttributeError):
            chosen = None
        if isinstance(chosen, str) and chosen != DEFAULT_ID:
            with contextlib.suppress(UnknownConversationError):
                return self.get(chosen).conversation_id
        return self.ensure_default().conversation_id

    def set_last_used(self, conversation_id: str) -> None:
        self.get(conversation_id)
        if self.last_used() == conversation_id:
            return  # nothing to write (and no fsync on every turn)
        with self._locked():
            write_json_atomic(self.state_path, {"lastUsed": conversation_id})

    # ------------------------------------------------------------------ appending
    def _append_records(self, conversation_id: str, records: list[dict[str, Any]]) -> None:
        """Complete lines, one ``os.write`` under an exclusive flock, then fsync."""
        self.get(conversation_id)
        data = b"".join(_line(record) for record in records)
        path = self.transcript_path(conversation_id)
        with _flocked(path, fcntl.LOCK_EX, os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                logger.warning("%s ends with a torn line (an interrupted write); starting a fresh line", path)
                data = b"\n" + data
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)

    def append(self, conversation_id: str, messages: list[Message]) -> None:
        """Append ``messages`` to the transcript and update the index (count, ``updated``, title)."""
        if not messages:
            return
        self._append_records(conversation_id, [{"type": "message", "message": m.to_json()} for m in messages])
        with self._locked():
            infos = self._read_index()
            info = self._find(infos, conversation_id)
            info.messages += len(messages)
            info.updated = now_iso()
            if info.title is None:
                first = next((m.content for m in messages
                              if m.role == "user" and m.kind == "message" and m.content.strip()), None)
                if first:
                    info.title = title_from(first)
            infos.remove(info)
            infos.append(info)  # the index is kept in order of recency, which breaks timestamp ties
            self._write_index(infos)

    def mark_turn(self, conversation_id: str, turn_id: str, status: TurnStatus) -> None:
        """Record that a turn started or ended, so a reader can tell a turn that never finished."""
        if status not in TURN_STATUSES:
            raise ValueError(f"turn status must be one of {', '.join(TURN_STATUSES)}, not {status!r}")
        self._append_records(conversation_id, [{"type": "turn", "turnId": turn_id, "status": status,
                                                "time": now_iso()}])

    def record_compaction(self, conversation_id: str, summarised_through: str, summary: Message,
                          **details: Any) -> None:
        """Record that everything up to ``summarised_through`` is replaced, for the model, by ``summary``."""
        record = {"type": "compaction", "summarisedThrough": summarised_through, "summary": summary.to_json(),
                  "time": now_iso(), **details}
        self._append_records(conversation_id, [record])

    # ------------------------------------------------------------------ reading
    def _parse(self, path: Path) -> _Transcript:
        try:
            with open(path, "rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
                data = handle.read()
        except FileNotFoundError:
            return _Transcript([])
        transcript = _Transcript([])
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                record = _parse_record(json.loads(raw))
            except (ValueError, KeyError, TypeError, AttributeError):
                record = None
            if record is None:
                transcript.skipped += 1
                torn = all(not rest.strip() for rest in lines[number:])
                logger.log(logging.DEBUG if torn else logging.WARNING,
                           "%s line %d: skipped an unreadable record%s", path, number,
                           " (a torn last line)" if torn else "")
                continue
            transcript.records.append(record)
        return transcript

    def _transcript(self, conversation_id: str) -> _Transcript:
        self.get(conversation_id)
        return self._parse(self.transcript_path(conversation_id))

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
        transcript = self._parse(self.transcript_path(conversation_id))
        out = [f"# {info.title or 'Untitled conversation'}", "",
               f"*Conversation `{info.conversation_id}` · {info.messages} messages · started {_when(info.created)}"
               f" · updated {_when(info.updated)}*", ""]
        for kind, record in transcript.records:
            if kind == "message":
                out.extend(_render_message(record))
            elif kind == "compaction":
                count = record.details.get("hidden", record.details.get("summarised"))
                what = f"{count} earlier messages were" if isinstance(count, int) else "Earlier messages were"
                out += [f"## Compaction summary · {_when(record.time)}", "",
                        f"> **Compaction:** {what} summarised here (through `{record.summarised_through}`); "
                        "from this point the model sees this summary instead of them.", "",
                        record.summary.content.strip(), ""]
            elif record.get("status") in ("cancelled", "error"):
                out += [f"*Turn `{record['turnId']}` {'was cancelled' if record['status'] == 'cancelled' else 'failed'}"
                        f" · {_when(str(record.get('time') or ''))}*", ""]
        if transcript.skipped:
            out += [f"*{transcript.skipped} unreadable line(s) skipped (an interrupted write).*", ""]
        return "\n".join(out).rstrip() + "\n"

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Past messages of every conversation matching ``query``, newest first.

        A message matches when it contains the query (case-insensitive) or all of its words in any order.
        """
        needle = " ".join(query.split()).casefold()
        if not needle or limit <= 0:
            return []
        words = needle.split()
        hits: list[SearchHit] = []
        for info in self.list():
            for message in self.raw_messages(info.conversation_id):
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
                hits.append(SearchHit(info.conversation_id, message.id, message.role, message.created,
                                      _snippet(text, at, length)))
        hits.sort(key=lambda hit: hit.created, reverse=True)
        return hits[:limit]


def _render_message(message: Message) -> list[str]:
    when = _when(message.created)
    if message.role == "tool":
        name = f" · `{message.name}`" if message.name else ""
        return [f"## Tool result{name} · {when}", "", _fence(clip(message.content, TOOL_RESULT_CLIP)), ""]
    label = "Summary (compaction)" if message.kind == "summary" else message.role.capitalize()
    out = [f"## {label} · {when}", ""]
    if message.content.strip():
        out += [message.content.strip(), ""]
    for call in message.tool_calls:
        body = json.dumps(call.arguments, indent=2, ensure_ascii=False) if call.arguments or not call.raw_arguments \
            else call.raw_arguments
        out += [f"**Tool call** `{call.name}` (`{call.id}`)", "", _fence(body, "json"), ""]
    return out
