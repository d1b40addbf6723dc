"""The embedded offline model (Qwen2.5-Coder-0.5B-Instruct by default) run in-process by llama-cpp-python.

Owns the ``local`` provider between a ``ModelRequest`` and llama.cpp: generating in a worker thread and
streaming the tokens to the event loop. The parts it relies on live beside it, one concern each:
``local_models.py`` names the embedded models and assembles a verified GGUF from the wheels that carry it;
``local_engine.py`` resolves ``model.name`` (or a GGUF path; nothing is ever downloaded) and loads it once
per process; ``local_prompt.py`` builds the chat-template
messages and fits them into the model's small window; ``local_grammar.py`` makes tool calls reliable,
decoding a reply with tools under a JSON-schema grammar and reading it back (a message reply is still
streamed as its text is decoded).

Why the guards: llama objects are not thread safe, so one lock serialises generations per model;
cancellation sets a flag the worker checks between tokens, so the model is free again at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.base import (
    ContextOverflowError,
    Done,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
)
from letta_ls.agent.providers.local_engine import (
    EMBEDDED_ALIASES,
    EMBEDDED_FILE,
    EMBEDDED_MODEL,
    EMBEDDED_PACKAGE,
    ENGINES,
    INSTALL_HINT,
    Engine,
    default_threads,
    embedded_model_path,
    load_engine,
    local_model_available,
    model_file,
    resolve_model,
)
from letta_ls.agent.providers.local_facts import user_words_for_copied_example
from letta_ls.agent.providers.local_grammar import (
    ANY_VALUE,
    CUT_OFF_CALL,
    AnswerReader,
    answer_schema,
    decode_partial_string,
    grammar_schema,
    parse_answer,
    tool_grammar,
)
from letta_ls.agent.providers.local_models import shipped_file
from letta_ls.agent.providers.local_prompt import (
    CUT_MARK,
    EXAMPLE_TEXTS,
    MESSAGE_OVERHEAD,
    PROMPT_MARGIN,
    TOOL_DESCRIPTION_CHARS,
    fit_messages,
    must_call,
    requested_commands,
    to_local_messages,
    tool_instructions,
    tools_for_small_model,
)
from letta_ls.agent.providers.local_targets import (
    aim_str_replace,
    forced_view,
    insert_as_replacement,
    replaceable_lines,
    str_replace_targets,
    view_only,
)

# what other modules and the tests import from here, kept working after the split
__all__ = ["CUT_MARK", "CUT_OFF_CALL", "EMBEDDED_ALIASES", "EMBEDDED_FILE", "EMBEDDED_MODEL", "EMBEDDED_PACKAGE",
           "INSTALL_HINT", "LOCAL_CONTEXT_LIMIT", "MAX_OUTPUT_TOKENS", "MESSAGE_OVERHEAD", "PROMPT_MARGIN",
           "STOP_WAIT", "TOOL_DESCRIPTION_CHARS", "LocalProvider", "StreamTiming", "answer_schema",
           "decode_partial_string", "embedded_model_path", "fit_messages", "grammar_schema", "local_model_available",
           "parse_answer",
           "to_local_messages", "tokens_per_second", "tool_instructions"]
_ENGINES, _load, _Answer, _ANY_VALUE = ENGINES, load_engine, AnswerReader, ANY_VALUE  # private names tests use

LOCAL_CONTEXT_LIMIT = 8192  # SmolLM2's training window (Qwen's is larger); CPU prefill beyond it is too slow anyway
MAX_OUTPUT_TOKENS = 512
STOP_WAIT = 2.0  # seconds a cancelled stream waits for the worker to let go of the model


# ---------------------------------------------------------------------------------------------- the worker thread

@dataclass(frozen=True)
class _Started:
    input_tokens: int


@dataclass(frozen=True)
class _Piece:
    text: str
    finish: str | None


@dataclass(frozen=True)
class _PromptRead:
    """Sent by the worker with the first generated piece: llama.cpp's own prompt-reading time for this request and
    when the request started (``time.perf_counter``), so the consumer can tell how long after the prompt was
    read its first delta arrived."""

    prompt_seconds: float
    prompt_tokens: int
    started: float


@dataclass(frozen=True)
class StreamTiming:
    """The last stream's timing, from the engine's own counters: how long reading the prompt took, and how long
    after that the first streamed delta (text, or the tool call when there is no text) reached the consumer."""

    prompt_seconds: float
    prompt_tokens: int
    first_delta_after_prompt: float


_FINISHED = object()


def _prompt_counters(llama: Any) -> tuple[float, int]:
    """llama.cpp's cumulative prompt-reading counters (milliseconds, tokens); zeros when they cannot be read."""
    try:
        import llama_cpp

        perf = llama_cpp.llama_perf_context(llama._ctx.ctx)
        return float(perf.t_p_eval_ms), int(perf.n_p_eval)
    except Exception:
        return 0.0, 0


def _acquire(lock: threading.Lock, cancelled: threading.Event) -> bool:
    while not cancelled.is_set():
        if lock.acquire(timeout=0.05):
            return True
    return False


def _generate(engine: Engine, request: ModelRequest, seed: int, cancelled: threading.Event,
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


def _run_locked(engine: Engine, request: ModelRequest, seed: int, cancelled: threading.Event,
                emit: Callable[[object], None]) -> None:
    llama = engine.llama
    max_tokens = max(1, min(request.max_output_tokens, MAX_OUTPUT_TOKENS, engine.window // 4))
    # the prompt describes every memory command (its prefix stays the same from turn to turn); the grammar may
    # allow fewer, chosen from the request's words
    wire, anchor = to_local_messages(request.system, request.messages, tools_for_small_model(request.tools))
    tools = tools_for_small_model(request.tools, requested_commands(request.messages))
    # a str_replace may only name a line the model was shown (the file just viewed, or the prompt's memory)
    tools = aim_str_replace(tools, str_replace_targets(request.system, request.messages))
    # a change to a file the prompt only lists starts with a view of it (it cannot be edited unseen)
    view_first = forced_view(request.system, request.messages)
    if view_first is not None:
        tools = view_only(tools, view_first)
    messages, input_tokens = fit_messages(llama, wire, anchor, engine.window - max_tokens - PROMPT_MARGIN)
    options: dict[str, Any] = {"max_tokens": max_tokens, "seed": seed, "stream": True}
    if tools:
        # greedy under the grammar; the repeat penalty keeps a small model from looping inside a string
        # argument until max_tokens (which would cut the call off and do nothing). Asked in so many words
        # to change memory, it must call a tool.
        grammar = tool_grammar(engine, tools, call_required=view_first is not None or must_call(request.messages))
        options.update(grammar=grammar, temperature=0.0, repeat_penalty=1.15)
    else:
        options.update(temperature=0.2, top_k=40, top_p=0.95, repeat_penalty=1.1)
    emit(_Started(input_tokens))
    started, (read_ms, read_tokens) = time.perf_counter(), _prompt_counters(llama)
    try:
        chunks: Iterator[dict[str, Any]] = llama.create_chat_completion(messages=messages, **options)
        try:
            for number, chunk in enumerate(chunks):
                if cancelled.is_set():
                    break
                if number == 0:  # the prompt has been read: llama.cpp's counters say how long that took
                    now_ms, now_tokens = _prompt_counters(llama)
                    emit(_PromptRead((now_ms - read_ms) / 1000, now_tokens - read_tokens, started))
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

    ``model`` empty means the default embedded model, an embedded model's name that one (``local_models``),
    anything else a GGUF path;
    ``context_window`` is held between 512 and 8192 tokens; ``n_threads`` defaults to half the cores.
    """

    name = "local"
    # a small model: its memory calls are repaired, and storing a worked example word for word is refused
    repair_examples = EXAMPLE_TEXTS
    # a call that fails validation goes back once with the error as its result; a second failure ends the turn
    # (a small model that failed twice tends to loop, and each step is seconds on two cores)
    failed_call_retries = 1
    # after a memory edit that succeeded, the program says where it was saved instead of a second model step: a
    # 0.5B model's follow-up tends to repeat the tool result, and re-reading the changed memory costs seconds
    ends_turn_after_memory_edit = True

    def __init__(self, *, model: str | None = None, context_window: int = LOCAL_CONTEXT_LIMIT,
                 n_threads: int | None = None, seed: int = 0) -> None:
        """Cheap: checks that llama-cpp-python and the model file are there; the model loads on first use."""
        self.source, self.model = resolve_model(model)
        # known now for a file as it is (a path, SmolLM2's wheel); an assembled model's once it is verified
        self.path: Path | None = self.source if isinstance(self.source, Path) else shipped_file(self.source)
        self.context_window = max(512, min(int(context_window), LOCAL_CONTEXT_LIMIT))
        self.n_threads = n_threads or default_threads()
        self.seed = seed
        self.timing: StreamTiming | None = None  # the last stream's (tests and the eval read it)

    def __repr__(self) -> str:
        return f"LocalProvider(model={self.model!r}, context_window={self.context_window})"

    async def load(self) -> None:
        """Load the model now (in a worker thread) instead of on the first request."""
        await self._engine()

    async def _engine(self) -> Engine:
        if self.path is None:  # first use: assemble and verify the embedded model (seconds, once per machine)
            self.path = await asyncio.to_thread(model_file, self.source)
        engine = ENGINES.get((str(self.path), self.context_window, self.n_threads))
        if engine is not None:
            return engine
        return await asyncio.to_thread(load_engine, self.path, self.context_window, self.n_threads)

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
        answer = AnswerReader(request.tools)
        input_tokens: int | None = None
        output_tokens = 0
        finish: str | None = None
        read: _PromptRead | None = None
        self.timing = None

        def first_delta() -> None:
            if read is not None and self.timing is None:
                after = time.perf_counter() - read.started - read.prompt_seconds
                self.timing = StreamTiming(read.prompt_seconds, read.prompt_tokens, max(after, 0.0))
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
                if isinstance(item, _PromptRead):
                    read = item
                    continue
                assert isinstance(item, _Piece)
                finish = item.finish or finish
                if item.text:
                    output_tokens += 1
                    for text in answer.feed(item.text):
                        first_delta()
                        yield TextDelta(text)
            truncated = finish == "length"
            call, texts = answer.finish(truncated)
            for text in texts:
                first_delta()
                yield TextDelta(text)
            if call is not None:  # a corrected line added beside the wrong one replaces it
                request_text = next((m.content or "" for m in reversed(request.messages) if m.role == "user"), "")
                call = insert_as_replacement(call, replaceable_lines(request.system, request.messages), request_text)
                call = user_words_for_copied_example(call, request.messages)  # an example copied, not the fact
                first_delta()
                yield ToolCallEvent(call)
                yield Done("tool_calls", input_tokens, output_tokens)
            else:
                yield Done("max_tokens" if truncated else "end", input_tokens, output_tokens)
        finally:
            cancelled.set()
            if not worker.done():
                await asyncio.wait([worker], timeout=STOP_WAIT)


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
