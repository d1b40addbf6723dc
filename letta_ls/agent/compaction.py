"""Fitting a conversation into the model's context window: Letta Code's sliding-window compaction.

This module owns the decision (when to compact, where to cut), the summariser's prompt, the summary
message the model sees afterwards, a deterministic fallback summary, the compaction event hub, and
``compact()``, which ties them to a ``ConversationStore``. The model call that writes the summary is
the caller's (the agent turn passes ``summarise``), so everything else here is pure and testable.

The rules follow letta-code (research notes section 9):

* compact when the request is larger than ``window - min(16384, 20% of window)``;
* the sliding window needs at least 4 messages and keeps at most ``(1 - p)`` of the window (p = 0.3):
  cut points are tried at p+0.1, p+0.2, ... of the message count, each snapped back to an assistant
  message, so the kept part starts with an assistant message, never separates a tool call from its
  results, and never starts after a final tool call that is still waiting for its results;
* the summariser gets the summarised messages with tool results clipped to 2,000 characters and a
  300-word limit; when its prompt overflows, the transcript shrinks from 120k towards 2k characters,
  and when it fails outright an extractive summary is used so a turn is never blocked;
* the model then sees one ``kind="summary"`` user message followed by the kept messages. The
  transcript keeps everything: the store records a ``compaction`` record naming the last summarised
  message, and ``ConversationStore.context()`` rebuilds the model's view from it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from letta_ls.agent.conversations import ConversationStore, clip
from letta_ls.agent.messages import Message
from letta_ls.agent.providers.base import ContextOverflowError

logger = logging.getLogger(__name__)

MIN_MESSAGES = 4
DEFAULT_KEEP_FRACTION = 0.7  # keep at most (1 - p) of the window, p = 0.3
MESSAGE_OVERHEAD_TOKENS = 4  # role and framing per message, as providers count it
SUMMARY_RESERVE_TOKENS = 600  # room for the summary message when planning (300 words + the note)
TOOL_RESULT_CHARS = 2_000
SUMMARY_WORDS = 300
SUMMARY_MAX_CHARS = 4_000  # a summariser that ignores the word limit is cut here
PROMPT_CHAR_LIMITS = (120_000, 30_000, 8_000, 2_000)
_HIDDEN = re.compile(r"^Note: (\d+) earlier messages? (?:are|is) hidden")

SUMMARY_INSTRUCTION = f"""\
You are compacting the memory of a coding agent. Below is the earlier part of its conversation with a
user; it is about to be removed from the agent's context window and replaced by your summary. Write a
summary of at most {SUMMARY_WORDS} words that lets the agent carry on as if it still saw these messages:

- what the user wants (goals, requirements, constraints, preferences they stated);
- what was done and decided, and why; files, commands, and identifiers that matter, with exact names;
- the current state: what works, what is broken, errors still open, the next steps that were planned;
- anything the user asked the agent to remember.

If the transcript starts with an earlier summary, fold it in. Leave out pleasantries and tool output
that no longer matters. Write plain prose or short bullet points, in the past tense. Reply with the
summary only."""


class Counter(Protocol):
    def count(self, text: str) -> int: ...


# ---------------------------------------------------------------------------------------------- counting
def compaction_threshold(context_window: int) -> int:
    """Compact once a request is larger than this many tokens."""
    return context_window - min(16_384, int(0.2 * context_window))


_message_counts: dict[tuple[str, int, int], int] = {}


def message_tokens(message: Message, counter: Counter) -> int:
    """Tokens of one message; memoised by id (stored messages never change), so a long conversation
    is not re-tokenised on every step."""
    key = (message.id, len(message.content), id(counter))
    cached = _message_counts.get(key)
    if cached is None:
        cached = _count_message(message, counter)
        if len(_message_counts) > 100_000:
            _message_counts.clear()
        _message_counts[key] = cached
    return cached


def _count_message(message: Message, counter: Counter) -> int:
    total = MESSAGE_OVERHEAD_TOKENS + counter.count(message.content)
    for call in message.tool_calls:
        arguments = json.dumps(call.arguments, ensure_ascii=False) if call.arguments else call.raw_arguments
        total += MESSAGE_OVERHEAD_TOKENS + counter.count(call.name) + counter.count(arguments)
    if message.name:
        total += counter.count(message.name)
    return total


def estimate_request_tokens(system: str, messages: Sequence[Message], tools_json: str | Any, counter: Counter) -> int:
    """Tokens of a whole request: system prompt, messages, and the tool schemas (a JSON string or object)."""
    if tools_json is None:
        tools_text = ""
    elif isinstance(tools_json, str):
        tools_text = tools_json
    else:
        tools_text = json.dumps(tools_json, ensure_ascii=False)
    return request_tokens(counter.count(system), counter.count(tools_text), messages, counter)


def request_tokens(system_tokens: int, tools_tokens: int, messages: Sequence[Message], counter: Counter) -> int:
    """``estimate_request_tokens`` for a caller that already knows the system prompt's and tools' counts."""
    return system_tokens + tools_tokens + MESSAGE_OVERHEAD_TOKENS + sum(message_tokens(m, counter) for m in messages)


# ---------------------------------------------------------------------------------------------- planning
@dataclass
class CompactionPlan:
    summarise: list[Message]  # the oldest messages, replaced by a summary
    keep: list[Message]  # the rest, starting with an assistant message
    tokens_before: int
    tokens_after: int  # estimate, with room for the summary
    goal: int  # at most this many tokens should remain
    fits: bool  # False when even the deepest allowed cut stays above the goal

    @property
    def summarised_through(self) -> str:
        return self.summarise[-1].id


def _pending_index(messages: Sequence[Message]) -> int | None:
    """The index of the final assistant message when some of its tool calls have no result yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role != "assistant":
            continue
        if not message.tool_calls:
            return None
        answered = {m.tool_call_id for m in messages[index + 1:] if m.role == "tool"}
        return index if any(call.id not in answered for call in message.tool_calls) else None
    return None


def _valid_cut(messages: Sequence[Message], index: int) -> bool:
    candidate = messages[index]
    if candidate.role != "assistant" or candidate.kind != "message":
        return False
    if not any(m.kind == "message" for m in messages[:index]):
        return False
    calls = {call.id for m in messages[:index] for call in m.tool_calls}
    return not any(m.role == "tool" and m.tool_call_id in calls for m in messages[index:])


def plan_compaction(messages: Sequence[Message], *, context_window: int, counter: Counter,
                    keep_fraction: float = DEFAULT_KEEP_FRACTION, overhead_tokens: int = 0,
                    force: bool = False) -> CompactionPlan | None:
    """Where to cut ``messages`` (the model's current context) so the rest fits; None when nothing to do.

    ``overhead_tokens`` is the system prompt and tool schemas, which stay. Without ``force`` a plan is
    only made when the request is over ``compaction_threshold``; ``force`` is for ``/compact`` and for a
    provider's context-overflow error. When no cut reaches the goal the deepest allowed one is returned
    (``fits`` False): compacting as much as allowed beats not compacting.
    """
    count = len(messages)
    if count < MIN_MESSAGES:
        return None
    sizes = [message_tokens(m, counter) for m in messages]
    tokens_before = overhead_tokens + sum(sizes)
    if not force and tokens_before <= compaction_threshold(context_window):
        return None
    suffix = [0] * (count + 1)
    for index in range(count - 1, -1, -1):
        suffix[index] = suffix[index + 1] + sizes[index]

    evict = min(max(1.0 - keep_fraction, 0.1), 0.9)
    goal = int((1.0 - evict) * context_window)
    pending = _pending_index(messages)
    limit = min(count - 1, pending if pending is not None else count - 1)
    deepest: tuple[int, int] | None = None
    step = 1
    while (fraction := round(evict + 0.1 * step, 6)) <= 1.0:
        step += 1
        cutoff = min(int(fraction * count + 0.5), limit)
        index = next((i for i in range(cutoff, 0, -1) if _valid_cut(messages, i)), None)
        if index is None:
            continue
        after = overhead_tokens + SUMMARY_RESERVE_TOKENS + suffix[index]
        if deepest is None or index > deepest[0]:
            deepest = (index, after)
        if after <= goal:
            return CompactionPlan(list(messages[:index]), list(messages[index:]), tokens_before, after, goal, True)
    if deepest is None:
        return None
    index, after = deepest
    return CompactionPlan(list(messages[:index]), list(messages[index:]), tokens_before, after, goal, False)


# ---------------------------------------------------------------------------------------------- summaries
def transcript_text(messages: Sequence[Message]) -> str:
    """The messages as plain text for the summariser, tool results clipped to 2,000 characters."""
    lines: list[str] = []
    for message in messages:
        if message.kind == "summary":
            lines.append(f"[earlier summary]\n{message.content.strip()}")
        elif message.role == "tool":
            lines.append(f"[tool result: {message.name or message.tool_call_id}]\n"
                         f"{clip(message.content.strip(), TOOL_RESULT_CHARS)}")
        else:
            parts = [f"[{message.role}]"]
            if message.content.strip():
                parts.append(message.content.strip())
            for call in message.tool_calls:
                arguments = json.dumps(call.arguments, ensure_ascii=False) if call.arguments else call.raw_arguments
                parts.append(f"(called {call.name} {clip(arguments, TOOL_RESULT_CHARS)})")
            lines.append("\n".join(parts))
    return "\n\n".join(lines)


def summarise_prompt(messages: Sequence[Message], *, max_chars: int = PROMPT_CHAR_LIMITS[0]) -> str:
    """The summariser's whole prompt; a transcript over ``max_chars`` keeps its start and its end."""
    text = transcript_text(messages)
    if len(text) > max_chars:
        head = max_chars // 4
        tail = max_chars - head
        text = f"{text[:head]}\n\n[… {len(text) - max_chars} characters omitted …]\n\n{text[-tail:]}"
    return f"{SUMMARY_INSTRUCTION}\n\n<transcript>\n{text}\n</transcript>"


def hidden_count(messages: Sequence[Message]) -> int:
    """How many original messages ``messages`` stand for (an earlier summary counts what it hid)."""
    total = 0
    for message in messages:
        if message.kind == "summary":
            found = _HIDDEN.match(message.content)
            total += int(found.group(1)) if found else 0
        else:
            total += 1
    return total


def summary_message(hidden: int, text: str) -> Message:
    noun = "message is" if hidden == 1 else "messages are"
    note = f"Note: {hidden} earlier {noun} hidden. The following is a summary of them:"
    return Message(role="user", kind="summary", content=f"{note}\n\n{text.strip()}")


def extractive_summary(messages: Sequence[Message]) -> str:
    """A summary without a model: the earlier summary, each user request's first line, the last reply."""
    out: list[str] = ["(Extractive summary: the summariser was unavailable.)"]
    earlier = [m for m in messages if m.kind == "summary"]
    if earlier:
        body = earlier[-1].content.split("\n\n", 1)[-1].strip()
        out.append("Earlier: " + clip(body, 1_200))
    asks = []
    for message in messages:
        if message.role == "user" and message.kind == "message" and message.content.strip():
            first = next(line.strip() for line in message.content.splitlines() if line.strip())
            asks.append("- " + (first if len(first) <= 200 else first[:200] + "…"))
    if asks:
        if len(asks) > 15:
            asks = [*asks[:3], f"- … {len(asks) - 13} more requests …", *asks[-10:]]
        out.append("The user asked:\n" + "\n".join(asks))
    replies = [m for m in messages if m.role == "assistant" and m.kind == "message" and m.content.strip()]
    reply = next((m for m in reversed(replies) if not m.tool_calls), replies[-1] if replies else None)
    if reply is not None:
        out.append("Last assistant reply: " + clip(reply.content.strip(), 800))
    return "\n\n".join(out)


def apply_compaction(messages: Sequence[Message], plan: CompactionPlan, summary_text: str) -> list[Message]:
    """The context the model sees next: the summary message, then the kept messages."""
    cut = len(plan.summarise)
    if [m.id for m in messages[:cut]] != [m.id for m in plan.summarise]:
        raise ValueError("the compaction plan was made for different messages; plan again")
    return [summary_message(hidden_count(plan.summarise), summary_text), *messages[cut:]]


# ---------------------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class CompactionEvent:
    agent_id: str
    conversation_id: str
    summarised: int  # messages folded into the summary by this compaction
    kept: int
    tokens_before: int
    tokens_after: int


class CompactionEvents:
    """A tiny hub: subscribers hear about every compaction; their failures are logged, never raised.

    A callback may be a coroutine function; it is then scheduled on the running event loop.
    """

    def __init__(self) -> None:
        self._callbacks: list[Callable[[CompactionEvent], Any]] = []
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    def subscribe(self, callback: Callable[[CompactionEvent], Any]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def emit(self, event: CompactionEvent) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    self._schedule(result)
            except Exception:
                logger.exception("a compaction subscriber failed")

    def _schedule(self, awaitable: Awaitable[Any]) -> None:
        try:
            task = asyncio.ensure_future(awaitable)
        except RuntimeError:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            logger.warning("an async compaction subscriber was skipped: no running event loop")
            return
        self._tasks.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                logger.error("a compaction subscriber failed", exc_info=done.exception())

        task.add_done_callback(finished)


# ---------------------------------------------------------------------------------------------- compact
@dataclass
class CompactionResult:
    context: list[Message]  # what the model sees now
    summary: Message
    summarised: int
    kept: int
    tokens_before: int
    tokens_after: int
    fallback: bool  # True when the extractive summary stood in for the summariser


async def _summary_text(plan: CompactionPlan, summarise: Callable[[str], Awaitable[str]]) -> tuple[str, bool]:
    for max_chars in PROMPT_CHAR_LIMITS:
        try:
            text = (await summarise(summarise_prompt(plan.summarise, max_chars=max_chars))).strip()
        except ContextOverflowError:
            logger.info("the summariser's prompt overflowed at %d characters; shrinking it", max_chars)
            continue
        except Exception as exc:
            logger.warning("the summariser failed (%s); using an extractive summary", exc)
            break
        if text:
            return clip(text, SUMMARY_MAX_CHARS), False
        logger.warning("the summariser returned nothing; using an extractive summary")
        break
    return extractive_summary(plan.summarise), True


async def compact(store: ConversationStore, conversation_id: str, summarise: Callable[[str], Awaitable[str]], *,
                  context_window: int, counter: Counter, events: CompactionEvents | None, agent_id: str,
                  force: bool = False, overhead_tokens: int = 0,
                  keep_fraction: float = DEFAULT_KEEP_FRACTION) -> CompactionResult | None:
    """Compact the conversation if it needs it (or ``force``); None when there was nothing to do.

    Plans over ``store.context()``, asks ``summarise`` for the summary (an extractive summary when it
    fails), records the compaction in the transcript, tells ``events``' subscribers, and returns the new
    context as the store now reads it. Cancellation leaves nothing recorded.
    """
    context = await asyncio.to_thread(store.context, conversation_id)
    plan = plan_compaction(context, context_window=context_window, counter=counter, keep_fraction=keep_fraction,
                           overhead_tokens=overhead_tokens, force=force)
    if plan is None:
        return None
    text, fallback = await _summary_text(plan, summarise)
    summary = summary_message(hidden_count(plan.summarise), text)
    summarised = sum(1 for m in plan.summarise if m.kind == "message")
    projected = [summary, *plan.keep]
    tokens_after = overhead_tokens + sum(message_tokens(m, counter) for m in projected)
    await asyncio.to_thread(store.record_compaction, conversation_id, plan.summarised_through, summary,
                            summarised=summarised, hidden=hidden_count(plan.summarise), kept=len(plan.keep),
                            tokensBefore=plan.tokens_before, tokensAfter=tokens_after, fallback=fallback)
    new_context = await asyncio.to_thread(store.context, conversation_id)
    if len(new_context) != len(projected):  # another window appended meanwhile
        tokens_after = overhead_tokens + sum(message_tokens(m, counter) for m in new_context)
    logger.info("compacted %s/%s: %d messages summarised, %d kept, %d → %d tokens%s", agent_id, conversation_id,
                summarised, len(new_context) - 1, plan.tokens_before, tokens_after, " (extractive)" if fallback else "")
    if events is not None:
        events.emit(CompactionEvent(agent_id, conversation_id, summarised, len(new_context) - 1,
                                    plan.tokens_before, tokens_after))
    return CompactionResult(new_context, summary, summarised, len(new_context) - 1, plan.tokens_before,
                            tokens_after, fallback)
