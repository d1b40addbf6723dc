"""Codex sessions ("rollouts"): where they are on disk and how to read them into ``Session`` records.

What the format is (from openai/codex's ``codex-rs`` rollout recorder and protocol types, and public
readers: letta-ai/trajectory's codex adapter, session-format notes verified against codex-cli 0.144, and
rollouts codex-cli 0.29 and 0.171 wrote here, in tests/init/samples/real/codex-generated/):

- ``$CODEX_HOME`` (default ``~/.codex``) ``/sessions/YYYY/MM/DD/rollout-<local time>-<uuid>.jsonl``;
  ``codex archive`` moves files to a flat ``archived_sessions/``; a ``.jsonl.zst`` is a compressed
  rollout, read through the ``zstandard`` package as it is decompressed (a plain copy wins over it).
- Since September 2025 every line is ``{"timestamp", "type", "payload"}`` with ``type`` one of
  ``session_meta`` (line 1: ``id``, ``timestamp``, ``cwd``, ``originator``, ``cli_version``, ``source``
  (a subagent's is ``{"subagent": {"thread_spawn": {"parent_thread_id", ...}}}``), ``git`` with
  ``commit_hash``, ``branch``, ``repository_url``), ``response_item`` (the model-visible items:
  ``message`` with role ``user`` / ``assistant`` / ``developer`` and ``input_text`` / ``output_text``
  blocks, ``function_call`` with JSON-string ``arguments`` and ``call_id``, ``function_call_output``,
  ``custom_tool_call`` (``apply_patch`` with the patch as ``input``), ``local_shell_call``,
  ``web_search_call``, ``reasoning`` (encrypted)), ``event_msg`` (UI events: ``user_message``,
  ``agent_message``, ``token_count``, ``turn_aborted``...), ``turn_context`` (``cwd``, ``model``...),
  ``compacted`` (``message``: the model's summary under Codex's preamble, plus a replacement history that
  repeats earlier prompts, not read), and newer ``world_state``, ``token_usage_record`` and
  ``inter_agent_*`` lines, skipped here. Before a ``compacted`` line, 0.171 records the model's answer to
  its summarising prompt as an assistant message: dropped, the summary is kept once as the compaction's.
- Before that ("bare" rollouts): line 1 is ``{"id", "timestamp", "instructions", "git"}`` with no
  ``type`` and no ``cwd``; then bare response items and ``{"record_type": "state"}`` lines. The working
  directory is recovered from the ``<cwd>`` of the ``<environment_context>`` the harness sends as the
  first user message (0.29; 0.20 did not record it, so only the git remote tells the project). A session
  resumed with ``experimental_resume`` is a new rollout copying the resumed one's items first, before its
  second state line and with no timestamps: that copy is skipped (see ``_first_bare_block``).
- Harness context arrives as user messages too (``<environment_context>``, ``<user_instructions>``,
  ``# AGENTS.md instructions``, ``<permissions instructions>``...): it is not the user's words and is
  dropped. The typed prompt is in both a ``response_item`` message and (in the default history mode) an
  ``event_msg`` ``user_message``; response items are used, events only when a file has no messages.
- Shell calls: ``shell`` with ``command: ["bash", "-lc", "..."]``, ``shell_command`` / ``exec_command``
  with a string; outputs were once JSON ``{"output", "metadata": {"exit_code"}}``, now text starting
  ``Exit code: N``. A forked or subagent rollout replays its parent's lines after its own
  ``session_meta``; lines older than the session's own start are skipped as that replay.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from letta_ls.init.history.codex_items import blocks_text, call, nonblank, output_of, user_text
from letta_ls.init.history.common import SessionBuilder, parse_time
from letta_ls.init.history.jsonl import JsonlStats, read_jsonl
from letta_ls.init.history.model import ReadLimits, Session

SOURCE = "codex"
_ROLLOUT_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context", "compacted"})
_SKIPPED_TYPES = frozenset({"world_state", "inter_agent_communication", "inter_agent_communication_metadata",
                            "token_usage_record"})
_MODEL_OUTPUT = frozenset({"function_call", "custom_tool_call", "local_shell_call", "web_search_call"})
_ITEM_TYPES = frozenset({
    "message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
    "local_shell_call", "local_shell_call_output", "web_search_call", "reasoning", "tool_search_call",
    "tool_search_output", "image_generation_call", "compaction", "context_compaction",
})
_ENV_CWD = re.compile(r"<cwd>\s*(.*?)\s*</cwd>", re.S)
_ROLLOUT_NAME = re.compile(r"^rollout-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})-(.+)\.jsonl(?:\.zst)?$")


def codex_root(home: Path, env: Mapping[str, str]) -> Path:
    configured = env.get("CODEX_HOME", "").strip()
    return Path(configured).expanduser() if configured else home / ".codex"


@dataclass
class RolloutFiles:
    paths: list[Path]
    compressed: int = 0  # ``.jsonl.zst`` files among ``paths``


def list_rollouts(root: Path, errors: list[str]) -> RolloutFiles:
    """Every rollout under ``sessions/`` and ``archived_sessions/``, newest file name first."""
    found = RolloutFiles([])
    for folder in (root / "sessions", root / "archived_sessions"):
        if not folder.is_dir():
            continue

        def unreadable(error: OSError) -> None:
            errors.append(f"cannot list {error.filename}: {error.strerror}")

        for dirpath, dirs, files in os.walk(folder, onerror=unreadable, followlinks=False):
            dirs.sort()
            for name in files:
                if not name.startswith("rollout-"):
                    continue
                if name.endswith(".jsonl"):
                    found.paths.append(Path(dirpath) / name)
                elif name.endswith(".jsonl.zst") and name[:-4] not in files:  # a plain copy is read instead
                    found.paths.append(Path(dirpath) / name)
                    found.compressed += 1
    found.paths.sort(key=lambda p: p.name, reverse=True)
    return found


@dataclass(frozen=True)
class RolloutHead:
    """What the first lines of a rollout say: enough to decide whether it belongs to the project."""

    id: str | None
    cwd: str | None
    repository_url: str | None
    started_at: datetime | None
    subagent: bool = False


def peek_rollout(path: Path, limits: ReadLimits) -> RolloutHead:
    session_id = cwd = url = None
    started = None
    subagent = False
    for _number, record in read_jsonl(path, max_bytes=limits.peek_bytes, max_line_bytes=limits.peek_bytes):
        payload, kind = _unwrap(record)
        if kind == "session_meta":
            if session_id is None:
                source = payload.get("source")
                subagent = (isinstance(source, dict) and "subagent" in source) or bool(payload.get("parent_thread_id"))
            session_id = session_id or nonblank(payload.get("id"))
            started = started or parse_time(payload.get("timestamp"))
            cwd = cwd or nonblank(payload.get("cwd"))
            git = payload.get("git")
            url = url or (nonblank(git.get("repository_url")) if isinstance(git, dict) else None)
            if cwd:
                break
        elif kind == "turn_context" and nonblank(payload.get("cwd")):
            cwd = payload["cwd"]
            break
        elif kind == "response_item" and payload.get("type") == "message":
            found = _ENV_CWD.search(blocks_text(payload.get("content")))
            if found:
                cwd = found.group(1)
                break
    return RolloutHead(session_id, cwd, url, started or _time_from_name(path), subagent)


def read_codex_rollout(path: Path, limits: ReadLimits) -> Session:
    """Read one rollout (either era) into a ``Session``."""
    name = _ROLLOUT_NAME.match(path.name)
    builder = SessionBuilder(SOURCE, name.group(2) if name else path.stem, path, limits)
    stats = JsonlStats()
    state = _State()
    for _number, record in read_jsonl(path, max_bytes=limits.max_file_bytes, max_line_bytes=limits.max_line_bytes,
                                      stats=stats):
        payload, kind = _unwrap(record)
        when = parse_time(record.get("timestamp"))
        if kind == "session_meta":
            state.bare = state.bare or (state.own_id is None and "type" not in record)
            _meta(builder, state, payload)
            continue
        if state.bare and "record_type" in record:
            state.state_lines += 1
            if state.state_lines == 2:
                _first_bare_block(builder, state)
            continue
        if state.bare and state.state_lines == 1 and kind == "response_item":
            state.first_block.append((payload, when))
            continue
        if state.own_start and when and when < state.own_start:
            state.replayed += 1
            continue
        builder.saw_time(when)
        if kind == "turn_context":
            builder.saw_cwd(payload.get("cwd"))
            builder.saw_model(payload.get("model"))
        elif kind == "response_item":
            _item(builder, state, payload, when)
        elif kind == "event_msg":
            _event(builder, state, payload, when)
        elif kind == "compacted":
            _compacted(builder, state, nonblank(payload.get("message")) or "", when)
        elif kind == "unknown":
            state.unknown.add(str(record.get("type"))[:40])
    _first_bare_block(builder, state)
    return _finish(builder, state, stats, path)


@dataclass
class _State:
    # "item" (a response item) or "event" (an event_msg) for each message, to drop duplicated events
    tags: list[str] = field(default_factory=list)
    own_start: datetime | None = None
    own_id: str | None = None
    replayed: int = 0
    # the bare format: the items between its first two ``record_type: state`` lines, held back until the
    # second one shows whether they are the session's start or a resumed session's replay
    bare: bool = False
    state_lines: int = 0
    first_block: list[tuple[dict[str, Any], datetime | None]] = field(default_factory=list)
    resumed_replay: int = 0
    compacted_lines: int = 0
    compaction_events: int = 0
    unknown: set[str] = field(default_factory=set)

    def tag(self, builder: SessionBuilder, tag: str) -> None:
        """Tag the messages added since the last call (Codex replies are never merged, so counts line up)."""
        self.tags.extend([tag] * (len(builder.session.messages) - len(self.tags)))


def _unwrap(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(payload, kind) for a line of either era: kind is a rollout line type, ``skip`` or ``unknown``."""
    kind = record.get("type")
    if kind in _ROLLOUT_TYPES and isinstance(record.get("payload"), dict):
        return record["payload"], kind
    if kind in _SKIPPED_TYPES or "record_type" in record:
        return {}, "skip"
    if kind is None and isinstance(record.get("id"), str) and "timestamp" in record:
        return record, "session_meta"  # the bare era's first line
    if kind in _ITEM_TYPES:
        return record, "response_item"  # a bare-era item
    return {}, "unknown"


def _meta(builder: SessionBuilder, state: _State, payload: dict[str, Any]) -> None:
    session_id = nonblank(payload.get("id"))
    if state.own_id is not None:
        return  # a parent's meta replayed into a fork: keep our own
    state.own_id = session_id
    if session_id:
        builder.session.id = session_id
    state.own_start = parse_time(payload.get("timestamp"))
    builder.saw_time(state.own_start)
    builder.saw_cwd(payload.get("cwd"))
    git = payload.get("git")
    if isinstance(git, dict):
        builder.saw_branch(git.get("branch"))
    source = payload.get("source")
    if isinstance(source, dict) and isinstance(source.get("subagent"), dict):
        spawn = source["subagent"].get("thread_spawn")
        parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
        builder.session.parent_id = nonblank(parent) or "unknown"
    elif nonblank(payload.get("parent_thread_id")):
        builder.session.parent_id = payload["parent_thread_id"]


def _first_bare_block(builder: SessionBuilder, state: _State) -> None:
    """Read the first block of a bare rollout, or skip it as the history of the session it resumes.

    A fresh session has only its start there (the harness's context, in 0.20 also the first prompt) since the
    model has not answered yet. A session resumed with ``experimental_resume`` (0.2x) is a new rollout that
    begins by copying every item of the resumed one, model output included, in that block: those prompts,
    calls and edits are the resumed session's own (read from its file), so only the harness context that
    tells this session's folder is kept from them. The bare format has no timestamps to tell them apart."""
    block, state.first_block = state.first_block, []
    resumed = any(p.get("type") in _MODEL_OUTPUT or (p.get("type") == "message" and p.get("role") == "assistant")
                  for p, _ in block)
    for payload, when in block:
        harness = payload.get("type") == "message" and user_text(blocks_text(payload.get("content"))) is None
        if resumed and not harness:
            state.resumed_replay += 1
            continue
        builder.saw_time(when)
        _item(builder, state, payload, when)


def _compacted(builder: SessionBuilder, state: _State, message: str, when: datetime | None) -> None:
    """A ``compacted`` line: the summary the model wrote, under Codex's preamble, kept once as the compaction's.

    Codex 0.171 (local compaction) first records the model's answer to its summarising prompt as an assistant
    message; that is no reply to the user, so the message just before goes when the ``compacted`` message
    ends with it (Codex puts its preamble first). A reply the summary only quotes stays."""
    builder.session.compactions += 1
    state.compacted_lines += 1
    messages = builder.session.messages
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant" and not last.tool_calls and last.text.strip() \
            and message.rstrip().endswith(last.text.strip()):
        messages.pop()
        state.tags.pop()
    builder.user(message, when, kind="compaction-summary")
    state.tag(builder, "item")


def _item(builder: SessionBuilder, state: _State, payload: dict[str, Any], when: datetime | None) -> None:
    kind = payload.get("type")
    if kind == "message":
        role = payload.get("role")
        text = blocks_text(payload.get("content"))
        if role == "user":
            found = _ENV_CWD.search(text) if text.lstrip().startswith("<environment_context>") else None
            if found:
                builder.saw_cwd(found.group(1))
            builder.user(user_text(text) or "", when)
        elif role == "assistant":
            builder.assistant(text, [], when)
    elif kind in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
        builder.assistant("", [call(builder, payload)], when)
    elif kind in ("function_call_output", "custom_tool_call_output", "local_shell_call_output"):
        text, failed = output_of(payload.get("output"))
        builder.tool_result(text, nonblank(payload.get("call_id")), when, is_error=failed)
    elif kind in ("compaction", "context_compaction"):
        builder.session.compactions += 1
        state.compacted_lines += 1
    state.tag(builder, "item")


def _event(builder: SessionBuilder, state: _State, payload: dict[str, Any], when: datetime | None) -> None:
    kind = payload.get("type")
    tag = "event"
    if kind == "user_message" and nonblank(payload.get("message")):
        builder.user(user_text(payload["message"]) or "", when)
    elif kind == "agent_message" and nonblank(payload.get("message")):
        builder.assistant(payload["message"], [], when)
    elif kind == "turn_aborted" and payload.get("reason") in ("interrupted", None):
        builder.user("[interrupted by the user]", when, kind="interrupted")
        tag = "item"  # no response item says this
    elif kind == "context_compacted":
        state.compaction_events += 1
    state.tag(builder, tag)


def _finish(builder: SessionBuilder, state: _State, stats: JsonlStats, path: Path) -> Session:
    messages = builder.session.messages
    tagged = list(zip(state.tags, messages, strict=True))
    has_items = any(tag == "item" and m.role in ("user", "assistant") and m.kind == "text" for tag, m in tagged)
    builder.session.messages = [m for tag, m in tagged if tag == "item" or not has_items]
    if not state.compacted_lines:
        builder.session.compactions += state.compaction_events
    session = builder.finish(stats)
    if session.started_at is None:
        session.started_at = _time_from_name(path)
    if state.replayed:
        lines = "line" if state.replayed == 1 else "lines"
        session.notes.append(f"skipped {state.replayed} {lines} replayed from the session it was forked from")
    if state.resumed_replay:
        lines = "line" if state.resumed_replay == 1 else "lines"
        session.notes.append(f"skipped {state.resumed_replay} {lines} replayed from the session it resumed")
    if state.unknown:
        session.notes.append("skipped lines of unknown type: " + ", ".join(sorted(state.unknown)[:5]))
    return session


def _time_from_name(path: Path) -> datetime | None:
    name = _ROLLOUT_NAME.match(path.name)
    if not name:
        return None
    day, clock = name.group(1).split("T")
    return parse_time(f"{day}T{clock.replace('-', ':')}")  # local time in the name; close enough to order by
