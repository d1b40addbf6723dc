"""The local model's prompt: chat-template messages for a request, fitted into the model's small window.

It exists apart from the provider because building the prompt is pure text work (no llama.cpp beyond its
tokenizer) that reads and tests on its own. With tools, the system prompt gains a section describing
each tool and the answer format the grammar enforces (``local_grammar.py``: a call as a JSON object, a
reply in plain text), and earlier assistant turns are written in that format, so the model sees its own
format in the history. ``fit_messages``
then cuts the result to the window: the user's last message and what follows it are always kept, the
system prompt and long messages are cut in the middle (head and tail stay), and older messages are
kept newest first while they fit.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.base import ToolSpec
from letta_ls.agent.providers.openai_provider import pair_tool_results

PROMPT_MARGIN = 32  # tokens kept free for the chat template's own markers
MESSAGE_OVERHEAD = 8  # tokens the template adds around each message (<|im_start|>role\n ... <|im_end|>\n)
CUT_MARK = "\n[... {count} tokens cut to fit the local model's context ...]\n"
TOOL_DESCRIPTION_CHARS = 400


def _summarise_parameters(schema: dict[str, Any]) -> str:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        return "none"
    required = set(schema.get("required") or [])
    parts: list[str] = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        kind = prop.get("type", "any")
        details = [kind if isinstance(kind, str) else "/".join(map(str, kind))]
        if isinstance(prop.get("enum"), list):
            details.append("one of " + ", ".join(str(value) for value in prop["enum"]))
        if name in required:
            details.append("required")
        text = f"{name} ({'; '.join(details)})"
        if prop.get("description"):
            text += f": {prop['description']}"
        parts.append(text)
    return "; ".join(parts)


# One worked example per memory command: a small model copies the shape of an example far better than it
# follows a schema, and the example's request says when each command is the right one.
MEMORY_EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (  # rare commands first, the common ones last
    ("Forget the notes file.", {"command": "delete", "file_path": "notes.md", "reason": "The user asked"}),
    ("Rename notes.md to reference/notes.md.",
     {"command": "rename", "old_path": "notes.md", "new_path": "reference/notes.md", "reason": "The user asked"}),
    ("Look at reference/deploy.md.", {"command": "view", "file_path": "reference/deploy.md"}),
    ("Remember our API handlers live in src/api/.",
     {"command": "create", "file_path": "system/project.md", "description": "Facts about this project",
      "file_text": "- API handlers live in src/api/.", "reason": "Where the API handlers are"}),
    ("Actually I use Emacs, not Vim. / I moved from Vim to Emacs.",
     {"command": "str_replace", "file_path": "system/human.md", "old_string": "Vim", "new_string": "Emacs",
      "reason": "The user uses Emacs now"}),
    ("Remember that I like short commit messages.",
     {"command": "insert", "file_path": "system/human.md", "insert_line": 0,
      "insert_text": "- Likes short commit messages.", "reason": "The user's commit style"}),
)
EXAMPLE_TEXTS = frozenset(text for _, arguments in MEMORY_EXAMPLES for name, text in arguments.items()
                          if name in ("file_text", "insert_text", "new_string"))
NO_CALL_EXAMPLE = ("What does git rebase do?", "It replays your commits on top of another branch.")


def memory_examples() -> str:
    """The worked examples, as user request -> the exact JSON answer."""
    lines = ["# Examples", "Store durable facts with the memory tool; answer questions with a message."]
    for request, arguments in MEMORY_EXAMPLES:
        call = {"type": "tool", "name": "memory", "arguments": arguments}
        lines.append(f"User: {request}\nYou: {json.dumps(call, ensure_ascii=False)}")
    question, reply = NO_CALL_EXAMPLE
    lines.append(f"User: {question}\nYou: {reply}")
    return "\n".join(lines)


def tool_instructions(tools: Sequence[ToolSpec]) -> str:
    """The system-prompt section that tells the model what each tool does and how to answer."""
    lines = ["# Tools", "You can call these tools:"]
    for tool in tools:
        description = " ".join(tool.description.split())
        if len(description) > TOOL_DESCRIPTION_CHARS:
            description = description[:TOOL_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " ..."
        lines.append(f"- {tool.name}: {description} Arguments: {_summarise_parameters(tool.parameters)}.")
    lines += ["", "To call a tool, answer with only this JSON object: "
              '{"type": "tool", "name": "<tool name>", "arguments": {...}}. Otherwise reply to the user in plain '
              "text."]
    if any(tool.name == "memory" for tool in tools):
        lines += ["", memory_examples()]
    return "\n".join(lines)


RESULT_NEXT = "(Now reply to the user in one short sentence, or call a tool again.)"
ERROR_NEXT = "(That call failed and changed nothing. Correct it using the error and call the tool again.)"


def _tool_result(message: Message) -> str:
    """A tool's result as the user turn that follows the call, with what to do next: a small model otherwise
    tends to repeat the result to the user as its reply, or to give up after an error."""
    content = message.content or "(no output)"
    after = ERROR_NEXT if content.startswith("Error:") else RESULT_NEXT
    return f"[Result of the {message.name or 'tool'} call]\n{content}\n{after}"


# A request in so many words to change memory: the small model then must call a tool (it otherwise often
# answers "Noted!" and stores nothing). Anything else leaves it free to reply.
MEMORY_REQUEST = re.compile(
    r"\b(remember|memori[sz]e|keep in mind|note (this|that|for)|save (this|that)|forget|"
    r"(update|correct|fix|change|edit) (your|my|the|that|it|what)\b.{0,20}\b(memory|notes?|memories)|"
    r"(update|correct|fix) (your )?(memory|notes)|in your memory|correction|"
    r"(that's|that is|you're|you are|you have it|you've got it|you got it) (wrong|incorrect|mistaken))", re.IGNORECASE)


def asks_to_change_memory(messages: Sequence[Message]) -> bool:
    """Whether the conversation ends with the user asking, in so many words, for memory to change."""
    last = messages[-1] if messages else None
    return last is not None and last.role == "user" and bool(MEMORY_REQUEST.search(last.content or ""))


# Words that make a request to remember more than adding a fact: something stored is wrong, changed or to go.
CHANGE_WORDS = re.compile(r"\b(actually|not|n't|instead|wrong|fix|correct(ion)?|update[ds]?|chang(e|ed|es)|moved?|"
                          r"switched|now|no longer|anymore|forget|delete|remove|rename|replace|edit)\b", re.IGNORECASE)
# ... and words of any edit: after a view, a request with one of these is held to a call (the edit it was for)
EDIT_WORDS = re.compile(r"\b(add|set|put)\b|" + CHANGE_WORDS.pattern, re.IGNORECASE)
ADD_COMMANDS = frozenset({"insert", "create"})
ADD_WORDS = re.compile(r"\b(add|append)\b", re.IGNORECASE)


def requested_commands(messages: Sequence[Message]) -> frozenset[str] | None:
    """The memory commands the grammar allows for this request: only adding (``insert``, ``create``) when the user
    asks to remember or to add something and says nothing of it changing; no ``view`` right after a view; no
    ``delete`` or ``rename`` unless the request speaks of a file (``FILE_COMMANDS``); None (every command) otherwise.

    Why: held to a call, a 0.5B model asked to remember a new fact often reaches for ``str_replace`` on a
    file that does not hold the old text (or for ``view``), and the fact is lost; deciding the command by
    the request's words first, then letting the model write the arguments, is what it does reliably.
    """
    request = next((m.content or "" for m in reversed(messages) if m.role == "user"), "")
    if ADD_WORDS.search(request) and not CHANGE_WORDS.search(request):
        return ADD_COMMANDS  # "add a line saying ...": after a view, the 0.5B model replaced the line it had read
    if viewed_in_last_step(messages):
        return EDIT_COMMANDS if FILE_WORDS.search(request) else EDIT_COMMANDS - FILE_COMMANDS
    if asks_to_change_memory(messages) and not CHANGE_WORDS.search(request):
        return ADD_COMMANDS
    return None if FILE_WORDS.search(request) else ALL_COMMANDS - FILE_COMMANDS


EDIT_COMMANDS = frozenset({"create", "str_replace", "insert", "delete", "rename"})
ALL_COMMANDS = EDIT_COMMANDS | {"view"}
# Commands that move or remove a whole file: offered only when the request speaks of a file (a path, ".md", the
# word "file"), because the 0.5B model read "we renamed the app" as a rename of the notes file, and "forget
# that I like tabs" could delete every fact beside it.
FILE_COMMANDS = frozenset({"delete", "rename"})
FILE_WORDS = re.compile(r"\bfiles?\b|\.md\b|\w/\w", re.IGNORECASE)


def viewed_in_last_step(messages: Sequence[Message]) -> bool:
    """Whether the model's last step viewed a memory file that it was then shown: the 0.5B model otherwise
    views the same file again until the turn's step limit, and the edit it was asked for never comes."""
    last = messages[-1] if messages else None
    if last is None or last.role != "tool" or last.name != "memory" or (last.content or "").startswith("Error:"):
        return False
    step = next((m for m in reversed(messages) if m.role == "assistant"), None)
    return step is not None and any(call.name == "memory" and call.arguments.get("command") == "view"
                                    for call in step.tool_calls)


def must_call(messages: Sequence[Message]) -> bool:
    """A call is required: the user asked in so many words to change memory, or asked for an edit before the view
    just made."""
    if asks_to_change_memory(messages):
        return True
    if not viewed_in_last_step(messages):
        return False
    request = next((m for m in reversed(messages) if m.role == "user"), None)
    return request is not None and bool(MEMORY_REQUEST.search(request.content or "")
                                        or EDIT_WORDS.search(request.content or ""))


SMALL_MODEL_LEFT_OUT = frozenset({"update_description"})  # chosen by a 0.5B model for "update my notes"


def _small_model_memory(tool: ToolSpec, commands: frozenset[str] | None = None) -> ToolSpec:
    """The memory tool as the small model may call it: its grammar without ``update_description`` (which it
    picks whenever a request says "update") and with ``file_text`` required by ``create`` (it otherwise
    creates an empty file and believes the fact stored)."""
    union = (tool.strict_parameters or {}).get("anyOf")
    if not isinstance(union, list):
        return tool
    kept = []
    for alternative in union:
        command = alternative.get("properties", {}).get("command", {}).get("const")
        if command in SMALL_MODEL_LEFT_OUT or (commands is not None and command not in commands):
            continue
        if command == "create":
            alternative = {**alternative, "required": [*alternative["required"], "file_text"]}
        kept.append(alternative)
    return dataclasses.replace(tool, strict_parameters={"anyOf": kept})


def tools_for_small_model(tools: Sequence[ToolSpec], commands: frozenset[str] | None = None) -> list[ToolSpec]:
    """Only the memory tool when the agent offers it: seven tools in the prompt and the grammar lead a 0.5B
    model to search when asked to remember (issue 17); reading the workspace is left to larger models.
    ``commands`` narrows the memory commands the grammar allows (``requested_commands``)."""
    memory = [_small_model_memory(tool, commands) for tool in tools if tool.name == "memory"]
    return memory or list(tools)


def _call_json(call: ToolCall) -> str:
    return json.dumps({"type": "tool", "name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def to_local_messages(system: str, messages: Sequence[Message],
                      tools: Sequence[ToolSpec]) -> tuple[list[dict[str, str]], int | None]:
    """``(messages, anchor)``: chat-template messages (system, user and assistant roles) for a request, and
    the index of the last message the user wrote (``None`` without one), which fitting always keeps.

    With tools, the tool section joins the system prompt and earlier assistant turns are written in the
    answer format the grammar enforces (a call as JSON, a reply as plain text), so the model sees its own
    format in the history; tool results become user text naming the tool.
    """
    # the tool section comes first: it never changes, so llama.cpp reuses its evaluation from turn to turn
    # (memory, which changes on each edit, follows; the per-step metadata is near the end)
    system_text = "\n\n".join(part for part in (tool_instructions(tools) if tools else "", system.strip()) if part)
    wire: list[dict[str, str]] = [{"role": "system", "content": system_text}] if system_text else []
    anchor: int | None = None
    for message in pair_tool_results(messages):
        if message.role == "tool":
            wire.append({"role": "user", "content": _tool_result(message)})
        elif message.kind == "summary" or message.role == "user":
            anchor = len(wire)
            wire.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            parts: list[str] = []
            if tools:  # a reply in plain text, a call as its JSON object: the two forms the grammar allows
                parts = [message.content] if message.content and not message.tool_calls else []
                parts += [_call_json(call) for call in message.tool_calls]
            else:
                parts = [message.content] if message.content else []
                parts += [f"(called the {call.name} tool with {json.dumps(call.arguments, ensure_ascii=False)})"
                          for call in message.tool_calls]
            if parts:
                wire.append({"role": "assistant", "content": "\n".join(parts)})
        else:
            wire.append({"role": "system", "content": message.content})
    return wire, anchor


def _cut_middle(llama: Any, tokens: list[int], keep: int) -> str:
    """The text of ``tokens`` with the middle cut so about ``keep`` tokens remain, head and tail kept."""
    marker = CUT_MARK.format(count=len(tokens) - keep)
    keep = max(keep - 24, 2)  # room for the marker itself
    head, tail = tokens[: keep - keep // 2], tokens[len(tokens) - keep // 2:]
    return (llama.detokenize(head).decode("utf-8", "ignore") + marker
            + llama.detokenize(tail).decode("utf-8", "ignore"))


def _water_level(costs: Sequence[int], budget: int) -> int:
    """The largest cap ``c`` with ``sum(min(cost, c)) <= budget`` (each message gets a fair share)."""
    remaining, count = budget, len(costs)
    for cost in sorted(costs):
        if cost * count > remaining:
            return max(remaining // count, 0)
        remaining -= cost
        count -= 1
    return max(costs, default=0)


def fit_messages(llama: Any, wire: list[dict[str, str]], anchor: int | None,
                 budget: int) -> tuple[list[dict[str, str]], int]:
    """``(messages, estimated_prompt_tokens)`` cut to fit ``budget`` tokens.

    The message at ``anchor`` (the last one the user wrote) and everything after it are always kept;
    the system prompt gets what they leave, but at least half the budget (it is cut in the middle:
    its head and tail stay); when the kept messages are still too long they are cut in the middle,
    fairly; older messages are then kept newest first while they fit.
    """
    def tokenize(text: str) -> list[int]:
        return list(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    system = wire[0] if wire and wire[0]["role"] == "system" and anchor != 0 else None
    rest = wire[1:] if system is not None else list(wire)
    if anchor is None:
        anchor = max(len(rest) - 1, 0)
    elif system is not None:
        anchor -= 1
    required = rest[anchor:]
    tokens_of = [tokenize(entry["content"]) for entry in required]
    required_cost = sum(len(tokens) + MESSAGE_OVERHEAD for tokens in tokens_of)
    used = 0
    if system is not None:
        tokens = tokenize(system["content"])
        share = max(budget // 2, budget - required_cost, 64) - MESSAGE_OVERHEAD
        if len(tokens) > share:
            system = {"role": "system", "content": _cut_middle(llama, tokens, share)}
            used = share + MESSAGE_OVERHEAD
        else:
            used = len(tokens) + MESSAGE_OVERHEAD
    room = max(budget - used - MESSAGE_OVERHEAD * len(required), 16 * len(required))
    cap = _water_level([len(tokens) for tokens in tokens_of], room)
    kept_tail: list[dict[str, str]] = []
    for entry, tokens in zip(required, tokens_of, strict=True):
        if len(tokens) > cap:
            entry = {"role": entry["role"], "content": _cut_middle(llama, tokens, cap)}
            used += cap + MESSAGE_OVERHEAD
        else:
            used += len(tokens) + MESSAGE_OVERHEAD
        kept_tail.append(entry)
    kept_head: list[dict[str, str]] = []
    for entry in reversed(rest[:anchor]):
        cost = len(tokenize(entry["content"])) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        kept_head.append(entry)
        used += cost
    kept_head.reverse()
    return ([system] if system is not None else []) + kept_head + kept_tail, used
