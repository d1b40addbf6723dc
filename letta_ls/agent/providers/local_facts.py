"""The fact a request to remember states, in the user's words, for when a small model copies an example instead.

Why: held to a call, the 0.5B model sometimes writes the nearest worked example's text word for word
("- API handlers live in src/api/.") instead of the fact it was given; refused, it often copies it again
on the retry, and nothing is stored. When the request only asks to add a fact (no word of a change), the
fact is the request itself without the words that ask to remember it, so the program writes that text
into the call the model aimed (its command and file stay the model's choice). A copy in any other
request is still refused by the memory tool's repair (``call_repair.refuse_copied_example``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.local_prompt import CHANGE_WORDS, EXAMPLE_TEXTS, asks_to_change_memory

_ASKING = re.compile(r"^\s*(?:please[,\s]+)?(?:remember|memori[sz]e|keep in mind|note(?: this)?(?: for the future)?|"
                     r"save this|save that)\b\s*(?:that\b)?\s*[:,\-–]?\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_GREETING = re.compile(r"^(hi|hello|hey|thanks|thank you)\b[\s!,.]*$", re.IGNORECASE)
_TEXT_ARGUMENTS = ("file_text", "insert_text", "new_string")


def stated_fact(request: str) -> str | None:
    """The request's fact as a memory line (``- The database is PostgreSQL 16.``), or None when it states none:
    the sentence that asks to remember, without its asking words, else the other sentences."""
    sentences = [s.strip() for s in _SENTENCE.split(request.strip()) if s.strip()]
    facts: list[str] = []
    for sentence in sentences:
        rest = _ASKING.sub("", sentence, count=1) if _ASKING.match(sentence) else None
        if rest is not None and rest.strip(" .!?").lower() not in ("", "that", "this", "it"):
            facts = [rest]
            break
        if rest is None and not _GREETING.match(sentence) and not re.search(r"\bremember\b", sentence, re.I):
            facts.append(sentence)
    fact = " ".join(facts).strip().rstrip(".!")
    if not fact:
        return None
    return f"- {fact[0].upper()}{fact[1:]}."


def user_words_for_copied_example(call: ToolCall, messages: Sequence[Message]) -> ToolCall:
    """``call`` with a worked example's text replaced by the fact the user stated, in a request only to remember."""
    copied = [name for name in _TEXT_ARGUMENTS
              if isinstance(call.arguments.get(name), str) and call.arguments[name].strip() in EXAMPLE_TEXTS]
    request = messages[-1].content or "" if messages and messages[-1].role == "user" else ""
    if (call.name != "memory" or not copied or not asks_to_change_memory(messages)
            or CHANGE_WORDS.search(request)):
        return call
    fact = stated_fact(request)
    if fact is None:
        return call
    return dataclasses.replace(call, arguments={**call.arguments, **dict.fromkeys(copied, fact)})
