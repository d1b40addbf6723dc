"""``/remember``: store what the user says, through the agent when a model is there, and always.

With a model, the agent gets Letta Code's remember reminder (classify, find the right file or make one,
avoid duplicates, commit, say where). If there is no model, the model fails, or it stores nothing, the
text is still kept: appended, classified, to ``system/remembered.md`` (created when missing), and the
reply says so and where. Nothing the user asks to remember is dropped.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from letta_ls.agent.runtime import AgentRuntime, Emit, load_prompt
from letta_ls.memfs.authors import user_author
from letta_ls.memfs.operations import MemoryOperations, MemoryToolError

FALLBACK_PATH = "system/remembered.md"
FALLBACK_DESCRIPTION = "Things the user explicitly asked me to remember, with their kind and date."

_RULE = re.compile(r"\b(always|never|must|don't|do not|avoid|only)\b", re.I)
_PREFERENCE = re.compile(r"\b(prefer|prefers|like|likes|want|wants|use|uses|rather)\b", re.I)
_CORRECTION = re.compile(r"\b(actually|wrong|not correct|instead|correction|mistake|no,)\b", re.I)


@dataclass
class RememberResult:
    reply: str
    commits: list[str] = field(default_factory=list)
    stored_in: str | None = None


class NothingToRemember(ValueError):
    """/remember without text and without a model to look at the conversation."""


def classify(text: str) -> str:
    """correction, rule, preference or fact: Letta Code's four kinds, by their usual wording."""
    if _CORRECTION.search(text):
        return "correction"
    if _RULE.search(text):
        return "rule"
    if _PREFERENCE.search(text):
        return "preference"
    return "fact"


def store_verbatim(runtime: AgentRuntime, text: str) -> RememberResult:
    """Append the text to system/remembered.md as one classified line (one commit), unless it is there.

    Whether the file exists (create) or not (insert), and whether the text is already there, is decided
    under the writer lock, so many ``letta-ls remember`` at once each see the others' commits and none
    fails on "already exists" or drops its text."""
    session = runtime.session
    ops = MemoryOperations(session.repo, user_author(session.repo.path), actor="user",
                           guard=session.operations("user").guard)
    line = " ".join(text.split())
    kind = classify(line)
    entry = f"- ({kind}, {datetime.now(UTC).date().isoformat()}) {line}\n"
    reason = f"remember: {line[:60]}"
    with session.repo.locked():
        existing = session.repo.snapshot().get(FALLBACK_PATH)
        if existing is not None and existing.text is not None and line.casefold() in existing.text.casefold():
            return RememberResult(f"I already remember this, in {FALLBACK_PATH}.", [], FALLBACK_PATH)
        if existing is None:
            result = ops.create(FALLBACK_PATH, FALLBACK_DESCRIPTION, entry, reason=reason)
        else:
            result = ops.insert(FALLBACK_PATH, 10**9, entry, reason=reason)
    return RememberResult(f"Stored as a {kind} in {FALLBACK_PATH} (commit {(result.commit or '')[:7]}).",
                          [result.commit] if result.commit else [], FALLBACK_PATH)


async def remember(runtime: AgentRuntime, text: str | None, *, conversation_id: str | None = None,
                   emit: Emit | None = None) -> RememberResult:
    text = (text or "").strip()
    if runtime.provider is None:
        if not text:
            raise NothingToRemember("nothing to remember: give the text to store (no model is configured to look "
                                    "at the conversation instead)")
        try:
            stored = await asyncio.to_thread(store_verbatim, runtime, text)
        except MemoryToolError as exc:
            raise NothingToRemember(f"could not store that: {exc}") from exc
        stored.reply = ("No model is configured, so I stored your words as they are. " + stored.reply)
        return stored
    ask = text or "(no text given: look at our recent conversation for what is worth remembering, or ask me)"
    turn = await runtime.run_turn(ask, conversation_id=conversation_id, emit=emit, preamble=load_prompt("remember.md"))
    if turn.commits or not text:
        return RememberResult(turn.reply or "Stored.", list(turn.commits))
    why = f"the model failed ({turn.error})" if turn.error else "the model did not store it"
    try:
        stored = await asyncio.to_thread(store_verbatim, runtime, text)
    except MemoryToolError as exc:
        return RememberResult(f"{turn.reply}\n\nI could not store that: {exc}".strip(), list(turn.commits))
    reply = f"{turn.reply}\n\n{stored.reply} ({why}, so nothing is lost.)".strip()
    return RememberResult(reply, list(turn.commits) + stored.commits, stored.stored_in)
