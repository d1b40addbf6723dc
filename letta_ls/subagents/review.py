"""The part of the agent's conversations a dream reviews: everything after each conversation's cursor.

``collect_review(store, cursors)`` reads every conversation of the agent except subagent runs' own (a
dream never reviews a dream), takes the messages after the last one a successful dream reviewed, oldest
first across conversations, and stops at a character budget so the slice always fits one model request.
What did not fit is counted (``remaining``) and waits for the next dream: the cursors only advance through
what was really shown (``ReviewSlice.cursors``).

``ReviewSlice.render()`` is the transcript text handed to the dream *as message content* (never on a
command line, never in a file): user and assistant text, tool calls with their arguments clipped, tool
results clipped, each with its absolute time so the dream can turn "yesterday" into a date.

Pure reading; never writes. Core code: no LSP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from letta_ls.agent.conversation_render import format_time
from letta_ls.agent.conversations import ConversationStore, clip
from letta_ls.agent.messages import Message
from letta_ls.subagents.sleeptime_state import Cursor

REVIEW_BUDGET_CHARS = 60_000  # the whole slice, rendered
MESSAGE_CHARS = 6_000  # one user or assistant message
TOOL_RESULT_CHARS = 1_000
TOOL_ARGUMENT_CHARS = 300


@dataclass(frozen=True)
class ConversationSlice:
    conversation_id: str
    title: str | None
    messages: tuple[Message, ...]
    rendered: tuple[str, ...]  # one block per message
    reviewed_before: int  # messages of this conversation earlier dreams already reviewed
    end: Cursor  # the last message shown


@dataclass(frozen=True)
class ReviewSlice:
    conversations: tuple[ConversationSlice, ...]
    remaining: int  # unreviewed messages left for a later dream (over the budget)

    @property
    def is_empty(self) -> bool:
        return not self.conversations

    @property
    def message_count(self) -> int:
        return sum(len(c.messages) for c in self.conversations)

    def cursors(self) -> dict[str, Cursor]:
        """Where each conversation's cursor goes once the dream's work is merged."""
        return {c.conversation_id: c.end for c in self.conversations}

    def render(self) -> str:
        blocks = []
        for conv in self.conversations:
            title = _attribute(conv.title or "untitled")
            blocks.append(f'<conversation id="{conv.conversation_id}" title="{title}" '
                          f'reviewed_before="{conv.reviewed_before}" messages="{len(conv.messages)}">')
            blocks.extend(conv.rendered)
            blocks.append("</conversation>")
        if self.remaining:
            blocks.append(f"({self.remaining} later messages did not fit in this review; the next dream reads them.)")
        return "\n\n".join(blocks)

    def describe(self) -> str:
        """One line for progress and reports."""
        if self.is_empty:
            return "nothing new since the last dream"
        count = len(self.conversations)
        text = (f"{self.message_count} message{'s' if self.message_count != 1 else ''} from {count} "
                f"conversation{'s' if count != 1 else ''}")
        return text + (f" ({self.remaining} more wait for the next dream)" if self.remaining else "")


def _attribute(text: str) -> str:
    return " ".join(text.split()).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def render_message(message: Message) -> str | None:
    """One message as the dream reads it (None for what carries nothing to learn from)."""
    when = format_time(message.created, seconds=False)
    if message.role == "tool":
        name = message.name or "tool"
        return f"[{when}] result of {name}:\n{clip(message.content.strip(), TOOL_RESULT_CHARS)}"
    if message.role not in ("user", "assistant"):
        return None
    parts = []
    if message.content.strip():
        parts.append(f"[{when}] {message.role}:\n{clip(message.content.strip(), MESSAGE_CHARS)}")
    for call in message.tool_calls:
        arguments = json.dumps(call.arguments, ensure_ascii=False) if call.arguments else call.raw_arguments
        parts.append(f"[{when}] assistant called {call.name}({clip(arguments or '', TOOL_ARGUMENT_CHARS)})")
    return "\n".join(parts) or None


def _start(messages: list[Message], cursor: Cursor | None) -> int:
    """The position of the first message after ``cursor``."""
    if cursor is None:
        return 0
    if cursor.index < len(messages) and messages[cursor.index].id == cursor.message_id:
        return cursor.index + 1
    for position, message in enumerate(messages):
        if message.id == cursor.message_id:
            return position + 1
    return min(cursor.index + 1, len(messages))  # the id is gone (a rewritten file): trust the position


def collect_review(store: ConversationStore, cursors: Mapping[str, Cursor], *,
                   budget_chars: int = REVIEW_BUDGET_CHARS) -> ReviewSlice:
    """The unreviewed messages of every non-subagent conversation, oldest first, within ``budget_chars``."""
    pending: list[tuple[str, str, str | None, list[Message], int]] = []
    for info in store.list():
        if info.subagent or info.messages == 0:
            continue
        messages = store.raw_messages(info.conversation_id)
        start = _start(messages, cursors.get(info.conversation_id))
        if start < len(messages):
            pending.append((messages[start].created, info.conversation_id, info.title, messages, start))
    pending.sort(key=lambda item: item[0])

    slices: list[ConversationSlice] = []
    used, remaining = 0, 0
    for _first, conv, title, messages, start in pending:
        if used >= budget_chars:
            remaining += len(messages) - start
            continue
        shown: list[Message] = []
        rendered: list[str] = []
        position = start
        while position < len(messages):
            block = render_message(messages[position])
            size = len(block) + 2 if block else 0
            if used + size > budget_chars and (shown or slices):
                break  # always show at least one message, so a dream never stalls on a huge one
            used += size
            shown.append(messages[position])
            if block:
                rendered.append(block)
            position += 1
        remaining += len(messages) - position
        if shown:
            end = Cursor(shown[-1].id, position - 1)
            slices.append(ConversationSlice(conv, title, tuple(shown), tuple(rendered), start, end))
    return ReviewSlice(tuple(slices), remaining)
