"""The local model's answer format: the grammar a reply with tools is decoded under, and reading it back.

A 135M model cannot follow a free-form tool-call format, so when the request has tools the reply is
decoded under a grammar built from a JSON schema: one object that is either
``{"type": "message", "text": ...}`` or ``{"type": "tool", "name": <a tool>, "arguments": <its
parameters>}``. The grammar makes the reply parse and the arguments match the tool's schema (as far as
llama.cpp's schema converter goes: unsupported keywords are dropped, and a schema it still cannot
convert becomes a free JSON object). ``AnswerReader`` streams a message reply as its ``text`` string is
decoded and reads a tool call back once generation ends.

It is apart from the provider (``local.py``) because writing the format (the schema, the grammar) and
reading it back (partial strings, the final parse) are one concern that changes together and is tested
without generating.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from letta_ls.agent.messages import ToolCall, new_id
from letta_ls.agent.providers.base import ProviderError, ToolSpec
from letta_ls.agent.providers.local_engine import Engine

log = logging.getLogger("letta_ls.agent.providers.local")  # the provider's logger, as before the split

ANY_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean", "null", "object", "array"]}
_PRIMITIVES = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
_MESSAGE_PREFIX = re.compile(r'\A\s*\{\s*"type"\s*:\s*"message"\s*,\s*"text"\s*:\s*"')
_TOOL_PREFIX = re.compile(r'\A\s*\{\s*"type"\s*:\s*"tool"')
CUT_OFF_CALL = ("(The local model's tool call was cut off after {tokens} tokens, so nothing was done. Ask again "
                "more simply, or configure a larger model: see the README's Models section.)")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


# ---------------------------------------------------------------------------------------------- the tool grammar

def grammar_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """``schema`` reduced to what llama.cpp's JSON-schema converter handles well.

    Keeps types, properties, required, items, enum, const and unions; drops patterns, formats, length
    and range limits, ``$ref`` and anything else (the tool still checks its arguments when it runs).
    """
    if not isinstance(schema, dict) or depth > 6:
        return dict(ANY_VALUE)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str | int | float | bool) or v is None for v in enum):
        return {"enum": list(enum)}
    if "const" in schema and (isinstance(schema["const"], str | int | float | bool) or schema["const"] is None):
        return {"const": schema["const"]}
    union = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(union, list) and union:
        return {"anyOf": [grammar_schema(alternative, depth + 1) for alternative in union]}
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k in _PRIMITIVES]
        if not kinds:
            return dict(ANY_VALUE)
        if len(kinds) > 1:
            return {"anyOf": [grammar_schema({**schema, "type": k}, depth + 1) for k in kinds]}
        kind = kinds[0]
    if kind == "object" or (kind is None and isinstance(schema.get("properties"), dict)):
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not properties:
            return {"type": "object"}
        clean = {name: grammar_schema(prop, depth + 1) for name, prop in properties.items() if isinstance(name, str)}
        required = [name for name in schema.get("required") or [] if name in clean]
        return {"type": "object", "properties": clean, "required": required}
    if kind == "array":
        items = schema.get("items")
        return {"type": "array", "items": grammar_schema(items, depth + 1) if isinstance(items, dict) else ANY_VALUE}
    if kind in _PRIMITIVES:
        return {"type": kind}
    return dict(ANY_VALUE)


def _answer_schema(tools: Sequence[ToolSpec], arguments: Sequence[dict[str, Any]],
                   call_required: bool = False) -> dict[str, Any]:
    message = {"type": "object", "properties": {"type": {"const": "message"}, "text": {"type": "string"}},
               "required": ["type", "text"]}
    calls = [{"type": "object", "properties": {"type": {"const": "tool"}, "name": {"enum": [tool.name]},
                                               "arguments": schema},
              "required": ["type", "name", "arguments"]}
             for tool, schema in zip(tools, arguments, strict=True)]
    return {"oneOf": calls if call_required else [message, *calls]}


def _is_object_schema(schema: dict[str, Any]) -> bool:
    """An arguments object, or a union of them (a tool's strict schema: one alternative per command)."""
    union = schema.get("anyOf")
    if isinstance(union, list):
        return bool(union) and all(isinstance(alt, dict) and alt.get("type") == "object" for alt in union)
    return schema.get("type") == "object"


def answer_schema(tools: Sequence[ToolSpec], call_required: bool = False) -> dict[str, Any]:
    """The JSON schema a reply with tools must match: a message, or a call of one tool with its arguments
    (the tool's ``strict_parameters`` when it has them); only a call when ``call_required``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    arguments: list[dict[str, Any]] = []
    for tool in tools:
        schema = grammar_schema(tool.strict_parameters or tool.parameters or {"type": "object"})
        if not _is_object_schema(schema):
            schema = {"type": "object"}
        try:
            json_schema_to_gbnf(json.dumps(_answer_schema([tool], [schema])))
        except Exception as exc:  # the converter asserts on what it cannot handle
            log.debug("the %s tool's parameters do not convert to a grammar (%s); using a free object", tool.name, exc)
            schema = {"type": "object"}
        arguments.append(schema)
    return _answer_schema(tools, arguments, call_required)


def _grammar_compiles(llama_cpp: Any, llama: Any, text: str) -> bool:
    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, text.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _with_plain_reply(calls: str, call_required: bool) -> str:
    """The grammar of an answer: one of the ``calls`` (a JSON object) or, unless a call is required, a reply in
    plain text, which is anything that does not start with ``{``.

    Why plain text and not a JSON message: the first token of a reply is then text the user sees (streaming
    starts one token after the prompt is read, not after ``{"type": "message", "text": "``), and a chat model
    writes plain replies as it was trained to; the choice between replying and calling is its first token.
    """
    if call_required:
        return calls
    renamed = re.sub(r"(?m)^root ::=", "call ::=", calls, count=1)
    return renamed + '\nroot ::= call | plain\nplain ::= [^{ \\t\\n] [^\\x00]*\n'


def tool_grammar(engine: Engine, tools: Sequence[ToolSpec], call_required: bool = False) -> Any:
    """The grammar for a reply with these tools, checked by llama.cpp itself (call with the engine lock held)."""
    key = json.dumps([call_required, [[tool.name, tool.parameters, tool.strict_parameters] for tool in tools]],
                     sort_keys=True, default=str)
    grammar = engine.grammars.get(key)
    if grammar is not None:
        return grammar
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    text = _with_plain_reply(json_schema_to_gbnf(json.dumps(answer_schema(tools, True))), call_required)
    if not _grammar_compiles(llama_cpp, engine.llama, text):
        log.warning("llama.cpp refused the tool grammar; falling back to free-form arguments")
        text = _with_plain_reply(json_schema_to_gbnf(json.dumps(_answer_schema(tools, [{"type": "object"}] * len(tools),
                                                                               True))), call_required)
        if not _grammar_compiles(llama_cpp, engine.llama, text):
            raise ProviderError("The local model could not build a grammar for the tools' schemas.")
    grammar = LlamaGrammar.from_string(text, verbose=False)
    if len(engine.grammars) >= 16:
        engine.grammars.clear()
    engine.grammars[key] = grammar
    return grammar


# ---------------------------------------------------------------------------------------------- reading the answer

def decode_partial_string(body: str) -> str:
    """The decodable start of a JSON string body (the text after its opening quote), up to its closing quote.

    Used while the reply streams: an escape sequence cut by the end of ``body`` is left for later.
    Raw control characters (which llama.cpp's string rule lets through) are kept as they are.
    """
    out: list[str] = []
    i, size = 0, len(body)
    while i < size:
        char = body[i]
        if char == '"':
            break
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= size:
            break
        escape = body[i + 1]
        if escape != "u":
            out.append(_ESCAPES.get(escape, escape))
            i += 2
            continue
        try:
            code = int(body[i + 2:i + 6], 16) if len(body) >= i + 6 else None
        except ValueError:
            code = 0xFFFD
        if code is None:
            break
        if 0xD800 <= code < 0xDC00:  # a surrogate pair needs its second half
            if len(body) < i + 12:
                break
            try:
                low = int(body[i + 8:i + 12], 16) if body[i + 6:i + 8] == "\\u" else -1
            except ValueError:
                low = -1
            if 0xDC00 <= low < 0xE000:
                out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                i += 12
                continue
            code = 0xFFFD
        out.append("\ufffd" if 0xDC00 <= code < 0xE000 else chr(code))
        i += 6
    return "".join(out)


def parse_answer(raw: str, tools: Sequence[ToolSpec]) -> ToolCall | str | None:
    """A grammar-constrained reply read back: a ``ToolCall``, the message text, or ``None`` when it is broken."""
    try:
        value = json.loads(raw, strict=False)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    names = {tool.name for tool in tools}
    if value.get("type") == "tool" and value.get("name") in names and isinstance(value.get("arguments"), dict):
        return ToolCall(id=new_id("call"), name=value["name"], arguments=value["arguments"])
    if value.get("type") == "message" and isinstance(value.get("text"), str):
        return value["text"]
    return None


def _plain(raw: str) -> str | None:
    """A reply in plain text (what does not start with ``{``), without its leading blanks; None for JSON."""
    stripped = raw.lstrip()
    return stripped if stripped and not stripped.startswith("{") else None


class AnswerReader:
    """Turns the generated pieces into text deltas and, with tools, a tool call."""

    def __init__(self, tools: Sequence[ToolSpec]) -> None:
        self.tools = list(tools)
        self.raw: list[str] = []
        self.streamed = ""  # message text already handed out

    def feed(self, piece: str) -> list[str]:
        self.raw.append(piece)
        if not self.tools:
            return [piece]
        plain = _plain(raw := "".join(self.raw))
        if plain is not None:  # a plain reply streams as it is decoded
            new, self.streamed = plain[len(self.streamed):], plain
            return [new] if new else []
        match = _MESSAGE_PREFIX.match(raw)
        if match is None:
            return []
        text = decode_partial_string(raw[match.end():])
        new, self.streamed = text[len(self.streamed):], text
        return [new] if new else []

    def finish(self, truncated: bool) -> tuple[ToolCall | None, list[str]]:
        """``(tool_call, remaining_texts)`` once generation ended."""
        if not self.tools:
            return None, []
        raw = "".join(self.raw)
        plain = _plain(raw)
        parsed = plain.rstrip() if plain is not None else parse_answer(raw, self.tools)
        if isinstance(parsed, ToolCall):
            return parsed, []
        if isinstance(parsed, str):
            rest = parsed[len(self.streamed):] if parsed.startswith(self.streamed) else ""
            return None, [rest] if rest else []
        if self.streamed:  # a message cut short (by max_tokens): what was streamed is the reply
            return None, []
        if truncated and _TOOL_PREFIX.match(raw):
            # a call cut off mid-arguments: say so in words rather than show half a JSON object
            return None, [CUT_OFF_CALL.format(tokens=len(self.raw))]
        if not truncated:
            log.warning("the local model's reply did not parse despite the grammar: %r", raw[:200])
        return None, [raw.strip()] if raw.strip() else []
