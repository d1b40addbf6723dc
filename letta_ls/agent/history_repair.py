"""Provider-valid histories: a transcript's messages repaired on read so every provider accepts them.

Providers refuse an assistant tool call without a result. A crash or a cancel can leave exactly that on
disk, and the file must not be rewritten, so the repair happens on read and is never stored:
``repair_history`` places each tool result directly after the assistant message that made the call,
drops tool results that answer no call, and gives every call that has no result a synthetic result
``"cancelled: no result"`` -- as soon as anything other than its own results follows the call in the
transcript (a new message, a turn marker, a compaction). A call at the very end of the transcript with
nothing after it is left pending: its turn may still be running, here or in another window, and
compaction must not cut past it. Synthetic results have deterministic ids
(``<assistant id>.<call id>.no-result``), so a compaction can name one as ``summarisedThrough`` and every
later read finds it again. A real result appended late simply replaces the synthetic one.

It exists apart from ``conversations.py`` because it is a pure function of the records, with rules of
its own that every reader of a history (``ConversationStore.messages`` and ``context``) relies on.
"""

from __future__ import annotations

import logging

from letta_ls.agent.messages import Message
from letta_ls.agent.transcripts import Record

logger = logging.getLogger("letta_ls.agent.conversations")

NO_RESULT = "cancelled: no result"


def repair_history(records: list[Record]) -> list[Message]:
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
