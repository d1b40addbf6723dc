"""The read-only ``letta-conversation://`` document: a whole transcript rendered as markdown.

Everything is shown, compacted messages included (the transcript keeps them; only the model sees the
summary instead): each message under a heading with its time, tool calls and results in fences long
enough for what they hold (results clipped), compaction summaries and cancelled or failed turns
marked. It exists apart from ``conversations.py`` because presentation changes for readers, not for
storage; it reads nothing itself (``ConversationStore.render_markdown`` hands it the records).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from letta_ls.agent.conversation_index import ConversationInfo
from letta_ls.agent.messages import Message
from letta_ls.agent.transcripts import Transcript

TOOL_RESULT_CLIP = 2_000


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit} more characters]"


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def format_time(stamp: str, *, seconds: bool = True) -> str:
    """An ISO time stamp of a transcript as people read it ("2026-12-01 17:05:02 UTC"); text that is not a
    time stamp is shown as it is."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


def render_conversation(info: ConversationInfo, transcript: Transcript) -> str:
    """The markdown of the conversation ``info`` whose transcript reads ``transcript``."""
    out = [f"# {info.title or 'Untitled conversation'}", "",
           f"*Conversation `{info.conversation_id}` · {info.messages} messages · started {format_time(info.created)}"
           f" · updated {format_time(info.updated)}*", ""]
    for kind, record in transcript.records:
        if kind == "message":
            out.extend(_render_message(record))
        elif kind == "compaction":
            count = record.details.get("hidden", record.details.get("summarised"))
            what = f"{count} earlier messages were" if isinstance(count, int) else "Earlier messages were"
            out += [f"## Compaction summary · {format_time(record.time)}", "",
                    f"> **Compaction:** {what} summarised here (through `{record.summarised_through}`); "
                    "from this point the model sees this summary instead of them.", "",
                    record.summary.content.strip(), ""]
        elif record.get("status") in ("cancelled", "error"):
            out += [f"*Turn `{record['turnId']}` {'was cancelled' if record['status'] == 'cancelled' else 'failed'}"
                    f" · {format_time(str(record.get('time') or ''))}*", ""]
    if transcript.skipped:
        out += [f"*{transcript.skipped} unreadable line(s) skipped (an interrupted write).*", ""]
    return "\n".join(out).rstrip() + "\n"


def _render_message(message: Message) -> list[str]:
    when = format_time(message.created)
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
