"""Claude Code sessions: where they are on disk and how to read them into ``Session`` records.

What the format is (learned from public readers and reports, since Anthropic documents only the folder):

- Sessions live in ``~/.claude/projects/<dir>/<session-uuid>.jsonl`` (``CLAUDE_CONFIG_DIR`` replaces
  ``~/.claude``). ``<dir>`` is the absolute path the session was started in with every character outside
  ``[a-zA-Z0-9]`` replaced by ``-`` (Claude Code's ``sanitizePath``: ``/home/u/my_app.v2`` becomes
  ``-home-u-my-app-v2``; JavaScript's regex works on UTF-16 units, so a character outside the BMP becomes
  two dashes); a name longer than 200 characters is cut to 200 and given a ``-<hash>`` suffix. Readers
  that only replaced ``/`` missed projects with dots or underscores (lossless-claude/lcm#534,
  omnara-ai/omnara#106, Michaelliv/claude-quest#15). The name is lossy (``my-app`` and ``my_app``
  collide), so a session is matched by the ``cwd`` its records carry, not by the folder name alone; and
  a folder is also searched when its name does not match, because the ``cwd`` inside may still be this
  project (a symlinked path, or a session started in a subfolder).
- Subagents: since 2.1.2 each lives in ``<dir>/<session-uuid>/subagents/agent-<id>.jsonl`` (and
  ``subagents/workflows/<run>/``), earlier in ``<dir>/agent-<id>.jsonl``; ``agent-acompact-<id>.jsonl`` there
  is not a subagent but the compaction's own run (the harness's summarising prompt and the summary, which
  the session's file holds too), left out; older versions wrote them inline
  in the session file; 2.0.x also wrote a warm-up run per built-in agent (prompt "Warmup"), left out too.
  Their records carry ``isSidechain: true`` and ``agentId``
  (daaain/claude-code-log#80, anthropics/claude-agent-sdk-typescript#242, letta-ai/trajectory#26).
- One JSON object per line, ``type`` ``user`` / ``assistant`` / ``system`` / ``summary`` /
  ``file-history-snapshot`` / ``queue-operation`` / ``progress``..., with ``uuid``, ``parentUuid``,
  ``sessionId``, ``timestamp``, ``cwd``, ``gitBranch``, ``version``, ``isSidechain``, ``isMeta``.
  ``message.content`` is a string or a list of blocks: ``text``, ``tool_use`` (``id``, ``name``,
  ``input``), ``tool_result`` (``tool_use_id``, ``content`` string or blocks, ``is_error``),
  ``thinking``, ``image``. One assistant reply is often written as several records, one per block, with
  the same ``message.id``: they are joined here.
- Compaction writes a ``system`` record with ``subtype: compact_boundary`` and then a ``user`` record
  with ``isCompactSummary: true`` holding the model's summary ("This session is being continued from a
  previous conversation..."); ``summary`` records hold a short title (microsoft/amplifier's
  ``session_format_specification.md``). ``isMeta`` user records are harness bookkeeping (the
  local-command caveat); ``<command-name>`` blocks are slash commands, ``<bash-input>`` is a ``!`` line,
  ``<local-command-stdout>`` / ``<bash-stdout>`` are their output, ``<system-reminder>`` blocks are
  injected context, ``<task-notification>`` user records (no ``isMeta``) say a background task finished.
- 2.1.x writes a prompt typed while the agent is busy as a ``queue-operation`` ``enqueue`` (``content``);
  one fed in mid-turn is then ``remove``d and never gets a user record (``_Queued``).
- A ``summary`` record titles the conversation whose last record is its ``leafUuid``; a new session's file
  often opens with summaries of *other* sessions ("API Error: 401 ...", "Conversation Cleared"), so only a
  summary whose ``leafUuid`` is one of this file's records gives the title.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from letta_ls.init.history.common import SessionBuilder, as_json, parse_time
from letta_ls.init.history.jsonl import JsonlStats, read_jsonl
from letta_ls.init.history.model import MessageKind, ReadLimits, Session, ToolCall

SOURCE = "claude-code"
MAX_DIR_NAME = 200
_COMPACTION_RUN = "agent-acompact-"
_EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
_READ_TOOLS = frozenset({"Read", "NotebookRead"})
_SHELL_TOOLS = frozenset({"Bash", "BashOutput"})
# record types that are bookkeeping, not conversation: skipped without a note
_BOOKKEEPING = frozenset({
    "file-history-snapshot", "progress", "custom-title", "ai-title", "last-prompt", "mode",
    "permission-mode", "attachment", "tag", "agent-name", "pr-link", "checkpoint", "worktree-state",
    # 2.1.3xx: the requests sent to the model (their text repeats the conversation with system reminders and
    # image data), tool and cost tallies; the conversation itself is in the user / assistant records
    "api-request", "api-request-blob", "api-request-shape", "atis-latch", "tools-used", "cost-state",
})
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
_COMMAND_NAME = re.compile(r"<command-name>(.*?)</command-name>", re.S)
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_BASH_INPUT = re.compile(r"<bash-input>(.*?)</bash-input>", re.S)
# user records the harness writes, never typed: command output, background-task notifications, hook output
_HARNESS_TAGS = ("<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>", "<bash-stdout>",
                 "<bash-stderr>", "<task-notification>", "<user-prompt-submit-hook>", "<command-message>",
                 "Caveat: The messages below were generated by the user while running local commands")
_SLASH_COMMAND = re.compile(r"^/[\w:-]+(?:\s|$)")
# a slash command's record: 2.x writes ``<command-name>`` first, 1.0 writes ``<command-message>`` ("init is
# analyzing your codebase…") first; a ``<command-message>`` without a name is harness text
_COMMAND_RECORD = re.compile(r"^(?:<command-message>.*?</command-message>\s*)?<command-name>", re.S)
_CONTINUED = "This session is being continued from a previous conversation"


def encode_project_dir(path: str) -> str:
    """The folder name Claude Code gives a project started in ``path`` (before any length cut)."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" * (2 if ord(ch) > 0xFFFF else 1) for ch in path)


def project_dir_matches(name: str, encoded: str) -> bool:
    """Whether a folder under ``projects/`` is the one for a path that encodes to ``encoded``."""
    if name == encoded:
        return True
    return len(encoded) > MAX_DIR_NAME and name.startswith(encoded[:MAX_DIR_NAME] + "-")


def claude_root(home: Path, env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    return Path(configured).expanduser() if configured else home / ".claude"


@dataclass(frozen=True)
class TranscriptFile:
    path: Path
    folder: str  # the project folder's name
    parent_id: str | None  # for a subagent's file in ``<session>/subagents/``: that session's id
    subagent: bool


def transcripts_in(folder: Path) -> Iterator[TranscriptFile]:
    """Every session and subagent transcript in one project folder (sorted; symlinks are not followed)."""
    entries = sorted(os.scandir(folder), key=lambda e: e.name)
    for entry in entries:
        if entry.name.endswith(".jsonl") and not entry.name.startswith(_COMPACTION_RUN) \
                and entry.is_file(follow_symlinks=False):
            yield TranscriptFile(Path(entry.path), folder.name, None, entry.name.startswith("agent-"))
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        subagents = Path(entry.path) / "subagents"
        if not subagents.is_dir():
            continue
        for root, dirs, files in os.walk(subagents, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                if name.startswith("agent-") and name.endswith(".jsonl") and not name.startswith(_COMPACTION_RUN):
                    yield TranscriptFile(Path(root) / name, folder.name, entry.name, True)


@dataclass(frozen=True)
class ClaudeHead:
    cwd: str | None
    started_at: datetime | None
    readable: bool  # at least one record could be read: a transcript, not junk with a session's name


def peek_cwd(path: Path, limits: ReadLimits) -> ClaudeHead:
    """The working directory a transcript records first (reading at most ``limits.peek_bytes``)."""
    first_time = None
    readable = False
    for _number, record in read_jsonl(path, max_bytes=limits.peek_bytes, max_line_bytes=limits.peek_bytes):
        readable = True
        first_time = first_time or parse_time(record.get("timestamp"))
        cwd = record.get("cwd")
        if isinstance(cwd, str) and cwd:
            return ClaudeHead(cwd, first_time, True)
    return ClaudeHead(None, first_time, readable)


def read_claude_session(path: Path, limits: ReadLimits, *, parent_id: str | None = None,
                        subagent: bool = False) -> Session:
    """Read one Claude Code transcript (a session, or a subagent's own file when ``subagent``).

    A session's id is its file name (a resumed session's file also holds records copied from the
    sessions it continues, with their ids); a subagent's is its ``agentId``.
    """
    builder = SessionBuilder(SOURCE, path.stem, path, limits)
    stats = JsonlStats()
    unknown: set[str] = set()
    parent_ids: set[str] = set()
    agent_id: str | None = None
    own_uuids: set[str] = set()
    summaries: list[tuple[Any, Any]] = []  # (leafUuid, title): a summary may describe another session
    queued = _Queued()
    for _number, record in read_jsonl(path, max_bytes=limits.max_file_bytes, max_line_bytes=limits.max_line_bytes,
                                      stats=stats):
        kind = record.get("type")
        if isinstance(record.get("uuid"), str):
            own_uuids.add(record["uuid"])
        if kind in ("user", "assistant"):
            if isinstance(record.get("sessionId"), str):
                parent_ids.add(record["sessionId"])
            if agent_id is None and isinstance(record.get("agentId"), str):
                agent_id = record["agentId"]
            if kind == "user":
                queued.delivered_as(record)
            _conversation_record(builder, record, kind, inline_sidechain=not subagent)
        elif kind == "summary":
            summaries.append((record.get("leafUuid"), record.get("summary")))
        elif kind == "queue-operation":
            queued.operation(builder, record)
        elif kind == "custom-title":
            builder.saw_title(record.get("customTitle") or record.get("title"))
        elif kind == "system":
            builder.saw_time(parse_time(record.get("timestamp")))
            if record.get("subtype") == "compact_boundary":
                builder.session.compactions += 1
        elif kind not in _BOOKKEEPING:
            unknown.add(str(kind)[:40])
    queued.finish(builder)
    for leaf, title in summaries:
        if leaf is None or leaf in own_uuids:
            builder.saw_title(title)
    session = builder.finish(stats)
    if subagent:
        session.id = agent_id or path.stem.removeprefix("agent-")
        session.parent_id = parent_id or (next(iter(parent_ids)) if len(parent_ids) == 1 else "unknown")
        if _is_warmup(session):
            session.messages.clear()  # no conversation: the history leaves the file out
    if unknown:
        session.notes.append("skipped records of unknown type: " + ", ".join(sorted(unknown)[:5]))
    return session


_WARMUP_PROMPT = "Warmup"


def _is_warmup(session: Session) -> bool:
    """Claude Code 2.0 starts its Explore / Plan agents with the prompt "Warmup" (a subagent file whose only
    prompt is that word, and whose reply introduces the agent): the harness priming a cache, not a task."""
    prompts = [m.text.strip() for m in session.messages if m.role == "user" and m.kind == "text"]
    return prompts == [_WARMUP_PROMPT] and not session.tool_calls()


class _Queued:
    """Prompts typed while the agent was busy (2.1.x): written as a ``queue-operation`` enqueue first.

    The harness later feeds each one in mid-turn (``remove``: it never gets a user record, so it is kept
    here) or starts a turn with it (``dequeue``, then its user record, which is the one kept). A prompt is
    kept where it was delivered, not where it was enqueued: 2.1.332 writes the enqueue of a prompt typed
    while busy before the user record of the prompt it was busy with (whose own enqueue, holding an image,
    has no ``content``), and keeping it at its enqueue put it first. A ``dequeue`` names no prompt, and the
    one it delivers may be such a content-less one, so it takes nothing: the user record that repeats a
    waiting prompt does. One never delivered (the session ended) is kept at the end. Background-task
    notifications and slash commands are enqueued too: neither is a prompt (a command's ``<command-name>``
    record is written when it runs).
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[str, Any]] = []  # (prompt, when it was enqueued)

    def operation(self, builder: SessionBuilder, record: dict[str, Any]) -> None:
        operation = record.get("operation")
        content = record.get("content")
        if operation == "enqueue":
            if isinstance(content, str) and _is_typed(content) and not _SLASH_COMMAND.match(content):
                self._waiting.append((content, parse_time(record.get("timestamp"))))
        elif operation == "remove":
            delivered = self._take(content)
            if delivered is not None:
                _user_text(builder, delivered[0], parse_time(record.get("timestamp")) or delivered[1], False)

    def delivered_as(self, record: dict[str, Any]) -> None:
        """A user record that repeats a waiting prompt is that prompt delivered: it no longer waits."""
        if not self._waiting or record.get("isSidechain") is True or record.get("isMeta") is True:
            return
        message = record.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
        if isinstance(content, str):
            key = " ".join(content.split())
            for index, (text, _when) in enumerate(self._waiting):
                if " ".join(text.split()) == key:
                    del self._waiting[index]
                    return

    def finish(self, builder: SessionBuilder) -> None:
        for text, when in self._waiting:
            _user_text(builder, text, when, False)
        self._waiting.clear()

    def _take(self, content: Any) -> tuple[str, Any] | None:
        """The waiting prompt a ``remove`` feeds in: the one with its ``content`` when it names one, else the
        oldest (2.1.38 writes a ``remove`` without content)."""
        if isinstance(content, str) and content:
            for index, (text, _when) in enumerate(self._waiting):
                if text == content:
                    return self._waiting.pop(index)
            return None
        if content is None and self._waiting:
            return self._waiting.pop(0)
        return None


def _conversation_record(builder: SessionBuilder, record: dict[str, Any], kind: str, *, inline_sidechain: bool) -> None:
    when = parse_time(record.get("timestamp"))
    builder.saw_time(when)
    builder.saw_cwd(record.get("cwd"))
    builder.saw_branch(record.get("gitBranch"))
    sidechain = inline_sidechain and record.get("isSidechain") is True
    message = record.get("message")
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if kind == "assistant":
        model = message.get("model")
        if model == "<synthetic>":
            return  # "No response requested." and the like: written by the harness, not the model
        builder.saw_model(model)
        _assistant(builder, content, when, sidechain, message.get("id"))
        return
    if record.get("isMeta") is True:
        return
    if record.get("isCompactSummary") is True:
        builder.user(_text_of(content), when, kind="compaction-summary", sidechain=sidechain)
        return
    if isinstance(content, str):
        _user_text(builder, content, when, sidechain)
        return
    if not isinstance(content, list):
        return
    texts = []
    typed = False  # an image is marked where it was sent, but an image alone (nothing typed) is no prompt
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            builder.tool_result(_text_of(block.get("content")), _str(block.get("tool_use_id")), when,
                                is_error=block.get("is_error") is True, sidechain=sidechain)
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
            typed = typed or _is_typed(block["text"])
        elif block.get("type") == "image":
            texts.append("[image]")
    if typed:
        _user_text(builder, "\n".join(texts), when, sidechain)


def _is_typed(text: str) -> bool:
    """Whether a user text is something the person typed (or a command they ran), not harness text."""
    text = _REMINDER.sub("", text).strip()
    return bool(text) and (not text.startswith(_HARNESS_TAGS) or bool(_COMMAND_RECORD.match(text)))


def _user_text(builder: SessionBuilder, text: str, when: Any, sidechain: bool) -> None:
    if not _is_typed(text):
        return
    text = _REMINDER.sub("", text).strip()
    kind: MessageKind = "text"
    if "<command-name>" in text:
        name = _COMMAND_NAME.search(text)
        args = _COMMAND_ARGS.search(text)
        text = " ".join(part.strip() for part in (name.group(1) if name else "", args.group(1) if args else "") if part)
        kind = "command"
    elif text.startswith("<bash-input>"):
        command = _BASH_INPUT.search(text)
        text = "! " + (command.group(1).strip() if command else "")
        kind = "command"
    elif text.startswith("[Request interrupted by user"):
        kind = "interrupted"
    elif text.startswith(_CONTINUED):
        kind = "compaction-summary"  # versions before isCompactSummary
    builder.user(text, when, kind=kind, sidechain=sidechain)


def _assistant(builder: SessionBuilder, content: Any, when: Any, sidechain: bool, message_id: Any) -> None:
    if isinstance(content, str):
        builder.assistant(content, [], when, sidechain=sidechain, merge_key=_str(message_id))
        return
    if not isinstance(content, list):
        return
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(_tool_call(builder, block))
    builder.assistant("\n\n".join(texts), calls, when, sidechain=sidechain, merge_key=_str(message_id))


def _tool_call(builder: SessionBuilder, block: dict[str, Any]) -> ToolCall:
    name = _str(block.get("name")) or "tool"
    arguments = block.get("input")
    args = arguments if isinstance(arguments, dict) else {}
    command = args.get("command") if name in _SHELL_TOOLS and isinstance(args.get("command"), str) else None
    paths: tuple[str, ...] = ()
    if name in _EDIT_TOOLS or name in _READ_TOOLS:
        target = args.get("file_path") or args.get("notebook_path") or args.get("path")
        paths = (target,) if isinstance(target, str) else ()
    return builder.call(name, arguments if arguments is not None else {}, _str(block.get("id")), command=command,
                        paths=paths, edits=name in _EDIT_TOOLS)


def _text_of(content: Any) -> str:
    """The text of a message or tool result: a string, or the text blocks of a list (images noted)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") == "image":
                    parts.append("[image]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return "" if content is None else as_json(content)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
