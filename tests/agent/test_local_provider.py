"""The embedded local provider with the real default model the ``local`` extra installs (Qwen2.5-Coder-0.5B).

The model (about 490 MB) is assembled once per machine and loaded once for the module; every generation
is capped at a few dozen tokens so the module stays short on two cores.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers import local, local_prompt
from letta_ls.agent.providers.base import (
    Done,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
)
from letta_ls.agent.providers.local import (
    EMBEDDED_MODEL,
    LocalProvider,
    decode_partial_string,
    fit_messages,
    grammar_schema,
    local_model_available,
    parse_answer,
    to_local_messages,
)
from letta_ls.agent.providers.openai_provider import INTERRUPTED_RESULT

MEMORY_TOOL = ToolSpec("memory", "Save a note to a memory file, or view a memory file.", {
    "type": "object",
    "properties": {
        "command": {"type": "string", "enum": ["view", "create", "str_replace"]},
        "file_path": {"type": "string", "description": "path inside memory, e.g. notes/style.md"},
    },
    "required": ["command", "file_path"],
})
GREP_TOOL = ToolSpec("grep", "Search the workspace files for a regular expression.", {
    "type": "object",
    "properties": {"pattern": {"type": "string", "format": "regex"}, "path": {"type": "string"},
                   "max_results": {"type": "integer", "minimum": 1}},
    "required": ["pattern"],
})
# Keywords llama.cpp's converter trips over (a bad pattern, a remote $ref) must not break the grammar.
ODD_TOOL = ToolSpec("schedule", "Schedule a reminder.", {
    "type": "object",
    "properties": {"when": {"type": "string", "pattern": "^(unclosed", "format": "date-time"},
                   "details": {"$ref": "https://example.com/details.json"},
                   "tags": {"type": "array", "items": {"type": "string", "maxLength": 10_000}}},
    "required": ["when"],
    "additionalProperties": False,
})


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    model = LocalProvider()
    asyncio.run(model.load())  # the model is cached per process, so every test's loop can use it
    return model


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def ask(text: str, *, tools: list[ToolSpec] | None = None, system: str = "You are a helpful coding assistant.",
        max_tokens: int = 48) -> ModelRequest:
    return ModelRequest(system=system, messages=[Message("user", text)], tools=tools or [],
                        max_output_tokens=max_tokens)


def validate(value: Any, schema: dict[str, Any], where: str = "arguments") -> None:
    """Enough of JSON-schema validation for the tools here: types, enums, required and no extra keys."""
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    types = {"object": dict, "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list}
    if kind in types:
        assert isinstance(value, types[kind]), f"{where}: {value!r} is not {kind}"
    if kind == "object":
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{where}: {name} is missing"
        for name, item in value.items():
            assert name in properties, f"{where}: unexpected {name}"
            validate(item, properties[name], f"{where}.{name}")
    if kind == "array":
        for index, item in enumerate(value):
            validate(item, schema.get("items", {}), f"{where}[{index}]")


def check_reply(events: list[StreamEvent], tools: list[ToolSpec]) -> ToolCall | str:
    """The reply as a tool call or a message, after checking the stream is well formed."""
    assert events and isinstance(events[-1], Done), events
    assert not any(isinstance(event, Done) for event in events[:-1])
    calls = [event.call for event in events if isinstance(event, ToolCallEvent)]
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    if calls:
        assert len(calls) == 1 and not text and events[-1].stop_reason == "tool_calls"
        call = calls[0]
        spec = next(tool for tool in tools if tool.name == call.name)
        assert call.id.startswith("call-") and call.raw_arguments == ""
        validate(call.arguments, spec.parameters)
        return call
    assert text.strip() and events[-1].stop_reason in ("end", "max_tokens")
    return text


def test_the_embedded_model_is_installed_and_named() -> None:
    assert local_model_available()
    model = LocalProvider(context_window=128_000)  # the settings default: capped to what the model can hold
    assert (model.name, model.model, model.context_window) == ("local", EMBEDDED_MODEL, 8192)
    assert EMBEDDED_MODEL == "qwen2.5-coder-0.5b-instruct" and model.path is None  # assembled at first use
    asyncio.run(model.load())
    assert model.path.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" and model.path.is_file()
    assert model.path.stat().st_size == 491_400_064
    llama = local._ENGINES[(str(model.path), model.context_window, model.n_threads)].llama
    assert "<|im_start|>" in llama.metadata["tokenizer.chat_template"]
    assert llama.chat_format == "chat_template.default"  # the GGUF's own (Qwen's) chat template formats prompts
    smallest = LocalProvider(model="smollm2")
    assert smallest.model == "smollm2-135m-instruct" and smallest.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"


async def test_a_plain_prompt_streams_text_in_pieces(provider: LocalProvider) -> None:
    events = await collect(provider.stream(ask("Write two sentences about the sea.")))
    pieces = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(pieces) >= 3 and "".join(pieces).strip()
    done = events[-1]
    assert isinstance(done, Done) and done.stop_reason in ("end", "max_tokens")
    assert done.output_tokens and done.output_tokens >= len(pieces) and done.input_tokens and done.input_tokens > 10


async def test_a_request_for_the_tool_gets_a_valid_tool_call(provider: LocalProvider) -> None:
    events = await collect(provider.stream(ask("Remember that I prefer tabs: call the memory tool.",
                                               tools=[MEMORY_TOOL], max_tokens=96)))
    reply = check_reply(events, [MEMORY_TOOL])
    assert isinstance(reply, ToolCall) and reply.name == "memory"
    assert reply.arguments["command"] in ("view", "create", "str_replace")


async def test_with_several_tools_the_reply_is_a_valid_call_or_a_message(provider: LocalProvider) -> None:
    tools = [MEMORY_TOOL, GREP_TOOL, ODD_TOOL]
    for text in ("Hi! What is the capital of France?", "Find every TODO comment in the workspace with grep.",
                 "Remind me tomorrow at 9 to review the pull request."):
        check_reply(await collect(provider.stream(ask(text, tools=tools, max_tokens=96))), tools)


async def test_tool_history_is_sent_back_and_the_model_answers(provider: LocalProvider) -> None:
    call = ToolCall("call-1", "memory", {"command": "create", "file_path": "notes/style.md"})
    history = [Message("user", "Remember that I prefer tabs."), Message("assistant", "", tool_calls=[call]),
               Message("tool", "Created notes/style.md", tool_call_id="call-1", name="memory"),
               Message("user", "Thanks. Now just say done.")]
    request = ModelRequest(system="You are a coding assistant.", messages=history, tools=[MEMORY_TOOL],
                           max_output_tokens=64)
    check_reply(await collect(provider.stream(request)), [MEMORY_TOOL])


async def test_cancelling_stops_generation_and_the_model_stays_usable(provider: LocalProvider) -> None:
    story = ask("Write a very long story about a dragon who learns to code.", max_tokens=512)
    stream = provider.stream(story)
    pieces = []
    async for event in stream:
        if isinstance(event, TextDelta):
            pieces.append(event.text)
        if len(pieces) == 3:
            break
    started = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    assert time.monotonic() - started < local.STOP_WAIT
    engine = local._ENGINES[(str(provider.path), provider.context_window, provider.n_threads)]
    assert not engine.lock.locked()  # the worker let go of the model, it did not run on to 512 tokens

    first_piece = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(story):
            if isinstance(event, TextDelta):
                first_piece.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not engine.lock.locked()

    events = await collect(provider.stream(ask("Say hello.", max_tokens=16)))
    assert isinstance(events[-1], Done) and "".join(e.text for e in events if isinstance(e, TextDelta)).strip()


async def test_concurrent_requests_take_turns_on_the_one_model(provider: LocalProvider) -> None:
    other = LocalProvider()  # a second provider shares the loaded model and its lock
    replies = await asyncio.gather(*(collect(model.stream(ask(text, max_tokens=12)))
                                     for model, text in ((provider, "Name a colour."), (other, "Name a fruit."))))
    for events in replies:
        assert isinstance(events[-1], Done) and any(isinstance(e, TextDelta) and e.text for e in events)


async def test_a_long_prompt_is_cut_to_fit_instead_of_failing() -> None:
    small = LocalProvider(context_window=512)  # the same truncation as 8k, with a prefill that takes a second
    system = "You are a helpful assistant. " + "Project notes: tabs, not spaces. " * 400
    history = [Message("user" if i % 2 == 0 else "assistant", f"Earlier message {i}. " * 50) for i in range(6)]
    history.append(Message("user", "Here is a file:\n" + "x = compute(y)\n" * 2700 + "\nWhat does it do?"))
    assert len(history[-1].content) > 40_000
    events = await collect(small.stream(ModelRequest(system=system, messages=history, max_output_tokens=16)))
    done = events[-1]
    assert isinstance(done, Done) and done.input_tokens is not None and done.input_tokens + 16 <= 512


def test_fitting_keeps_the_system_head_the_last_user_message_and_the_newest_history(provider: LocalProvider) -> None:
    llama = local._load(provider.path, provider.context_window, provider.n_threads).llama
    history = [Message("user" if i % 2 == 0 else "assistant", f"message {i} " + "filler " * 300) for i in range(30)]
    history.append(Message("user", "FINAL QUESTION " + "detail " * 5000 + "END OF QUESTION"))
    wire, anchor = to_local_messages("SYSTEM START " + "rule " * 8000 + "SYSTEM END", history, [])
    budget = 2000
    fitted, used = fit_messages(llama, wire, anchor, budget)
    total = sum(len(llama.tokenize(m["content"].encode(), add_bos=False)) + local.MESSAGE_OVERHEAD for m in fitted)
    assert used <= budget and total <= budget + 16
    assert fitted[0]["role"] == "system" and fitted[0]["content"].startswith("SYSTEM START")
    assert fitted[0]["content"].endswith("SYSTEM END") and "tokens cut" in fitted[0]["content"]
    last = fitted[-1]["content"]
    assert last.startswith("FINAL QUESTION") and last.endswith("END OF QUESTION") and "tokens cut" in last
    assert len(fitted) == 2  # nothing older fits next to them

    long_system = "SYSTEM " + "rule " * 1500  # more than half the budget, yet it fits next to the question
    fitted, used = fit_messages(llama, *to_local_messages(long_system, [Message("user", "Why?")], []), budget)
    assert fitted[0]["content"] == long_system.strip() and fitted[1]["content"] == "Why?" and used <= budget

    short = [Message("user", f"question {i}") for i in range(40)]
    fitted, used = fit_messages(llama, *to_local_messages("Be brief.", short, []), 120)
    assert fitted[-1]["content"] == "question 39" and fitted[0]["role"] == "system" and used <= 120
    kept = [int(m["content"].split()[1]) for m in fitted[1:]]
    assert kept == list(range(40 - len(kept), 40)) and 3 < len(kept) < 40  # the newest, contiguous


async def test_a_file_that_is_not_a_model_fails_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file" * 100)
    model = LocalProvider(model=str(broken), context_window=512)
    assert model.model == "broken"
    with pytest.raises(ProviderError, match=r"could not be loaded from .*broken\.gguf"):
        await collect(model.stream(ask("Hi")))
    with pytest.raises(ProviderError, match="or a path to a GGUF file"):
        LocalProvider(model=str(tmp_path / "missing.gguf"))


def test_without_llama_cpp_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    assert not local_model_available()
    with pytest.raises(ProviderError, match=r"pip install 'letta-ls\[local\]'"):
        LocalProvider()


def test_the_history_is_written_for_the_chat_template() -> None:
    call = ToolCall("call-1", "memory", {"command": "view", "file_path": "a.md"})
    orphan = ToolCall("call-2", "grep", {"pattern": "x"})
    history = [Message("user", "Look at a.md"), Message("assistant", "Sure.", tool_calls=[call]),
               Message("tool", "contents of a", tool_call_id="call-1", name="memory"),
               Message("assistant", "", tool_calls=[orphan]), Message("user", "And?")]
    wire, anchor = to_local_messages("Be kind.", history, [MEMORY_TOOL, GREP_TOOL])
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user", "assistant", "user", "user"]
    assert anchor == 6 and wire[6]["content"] == "And?"
    system = wire[0]["content"]
    # the tool section (with one worked example per memory command) comes first: it never changes, so its
    # evaluation is reused across turns; the agent's own system prompt follows
    assert system.startswith("# Tools") and system.endswith("Be kind.") and "- memory: Save a note" in system
    assert system.index("# Examples") < system.index("Be kind.")
    assert '"command": "str_replace", "file_path": "system/human.md"' in system
    assert "command (string; one of view, create, str_replace; required)" in system
    assert '{"type": "tool", "name": "<tool name>"' in system
    # the two forms the grammar allows: a call as its JSON object (alone), a reply in plain text
    assert json.loads(wire[2]["content"]) == {"type": "tool", "name": "memory", "arguments": call.arguments}
    replied, _ = to_local_messages("", [Message("user", "x"), Message("assistant", "Hello there.")], [MEMORY_TOOL])
    assert replied[-1] == {"role": "assistant", "content": "Hello there."}
    assert wire[3]["content"] == f"[Result of the memory call]\ncontents of a\n{local_prompt.RESULT_NEXT}"
    assert wire[5]["content"] == f"[Result of the grep call]\n{INTERRUPTED_RESULT}\n{local_prompt.RESULT_NEXT}"
    failed, _ = to_local_messages("", [Message("user", "x"), Message("assistant", "", tool_calls=[call]),
                                       Message("tool", "Error: no such file", tool_call_id="call-1", name="memory")],
                                  [MEMORY_TOOL])
    assert failed[-1]["content"].endswith(local_prompt.ERROR_NEXT)  # told to correct the call, not to give up

    plain, _ = to_local_messages("", history, [])
    assert plain[1]["content"].startswith("Sure.\n(called the memory tool with {")


def test_schemas_are_reduced_to_what_the_grammar_converter_handles() -> None:
    reduced = grammar_schema(ODD_TOOL.parameters)
    assert reduced == {"type": "object", "required": ["when"], "properties": {
        "when": {"type": "string"}, "details": local._ANY_VALUE,
        "tags": {"type": "array", "items": {"type": "string"}}}}
    assert grammar_schema({"type": ["string", "null"]}) == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert grammar_schema({"enum": ["a", "b"], "type": "string"}) == {"enum": ["a", "b"]}


def test_the_memory_tools_grammar_requires_each_commands_arguments_and_a_reason() -> None:
    from letta_ls.agent.tools import TOOL_SPECS

    memory = next(tool for tool in TOOL_SPECS if tool.name == "memory")
    schema = local.answer_schema([memory])
    call = next(alt for alt in schema["oneOf"] if alt["properties"]["type"] == {"const": "tool"})
    by_command = {alt["properties"]["command"]["const"]: alt for alt in call["properties"]["arguments"]["anyOf"]}
    assert set(by_command) == {"view", "create", "str_replace", "insert", "delete", "rename", "update_description"}
    assert by_command["create"]["required"] == ["command", "file_path", "description", "reason"]
    assert by_command["rename"]["required"] == ["command", "old_path", "new_path", "reason"]
    assert by_command["view"]["required"] == ["command", "file_path"]
    assert "reason" not in by_command["view"]["properties"]
    assert memory.parameters["required"] == ["command"]  # what the cloud APIs see stays as it was


async def test_the_embedded_model_saving_a_note_names_the_file_and_the_reason(provider: LocalProvider) -> None:
    from letta_ls.agent.tools import TOOL_SPECS

    memory = next(tool for tool in TOOL_SPECS if tool.name == "memory")
    events = await collect(provider.stream(ask(
        "Remember this in your memory file system/human.md: I prefer tabs over spaces. Use the memory tool "
        "with the insert command.", tools=[memory], max_tokens=160)))
    reply = check_reply(events, [memory])
    assert isinstance(reply, ToolCall), reply
    command = reply.arguments["command"]
    required = local.answer_schema([memory])["oneOf"][1]["properties"]["arguments"]["anyOf"]
    needed = next(alt["required"] for alt in required if alt["properties"]["command"]["const"] == command)
    assert all(name in reply.arguments for name in needed), reply.arguments
    assert command == "view" or "reason" in reply.arguments


def test_a_tool_call_cut_off_by_max_tokens_is_said_in_words_not_shown_as_json() -> None:
    answer = local._Answer([MEMORY_TOOL])
    pieces = ['{"type": "tool", ', '"name": "memory", ', '"arguments": {"command": "create", ', '"file_text": "a a']
    for piece in pieces:
        assert answer.feed(piece) == []  # nothing of a call is streamed as text
    call, texts = answer.finish(truncated=True)
    assert call is None and texts == [local.CUT_OFF_CALL.format(tokens=4)]
    assert "nothing was done" in texts[0] and "{" not in texts[0]


def test_answers_are_read_back_and_partial_strings_decoded() -> None:
    assert decode_partial_string('Hello \\"you\\" \\n\\u00e9\\ud83d\\ude00 done" trailing') == 'Hello "you" \né😀 done'
    assert decode_partial_string("cut in an escape \\") == "cut in an escape "
    assert decode_partial_string("cut in a unicode escape \\u00") == "cut in a unicode escape "
    assert decode_partial_string("half a pair \\ud83d") == "half a pair "
    call = parse_answer('{"type": "tool", "name": "memory", "arguments": {"command": "view", "file_path": "a"}}',
                        [MEMORY_TOOL])
    assert isinstance(call, ToolCall) and call.name == "memory" and call.arguments["file_path"] == "a"
    assert parse_answer('{"type": "message", "text": "line one\nline two"}', [MEMORY_TOOL]) == "line one\nline two"
    assert parse_answer('{"type": "tool", "name": "nope", "arguments": {}}', [MEMORY_TOOL]) is None
    assert parse_answer('{"type": "message", "text": "cut', [MEMORY_TOOL]) is None

    answer = local._Answer([MEMORY_TOOL])
    streamed = [text for piece in ('{"type": "mess', 'age", "text": "Hel', "lo \\", 'u00e9!"', "}")
                for text in answer.feed(piece)]
    assert streamed == ["Hel", "lo ", "é!"] and answer.finish(False) == (None, [])
    broken = local._Answer([MEMORY_TOOL])
    assert broken.feed('{"type": "tool", "name": "mem') == []
    assert broken.finish(True) == (None, [local.CUT_OFF_CALL.format(tokens=1)])  # said, not half-shown
    unparsed = local._Answer([MEMORY_TOOL])
    unparsed.feed('{"type": "tool", "name": "nope", "arguments": {}}')
    assert unparsed.finish(False) == (None, ['{"type": "tool", "name": "nope", "arguments": {}}'])  # kept as text


def test_a_plain_reply_streams_from_its_first_piece_and_a_call_is_read_back_at_the_end() -> None:
    reader = local._Answer([MEMORY_TOOL])
    assert reader.feed(" It") == ["It"] and reader.feed(" replays") == [" replays"]
    assert reader.finish(False) == (None, [])
    reader = local._Answer([MEMORY_TOOL])
    text = json.dumps({"type": "tool", "name": "memory", "arguments": {"command": "view", "file_path": "a.md"}})
    assert [reader.feed(text[i:i + 5]) for i in range(0, len(text), 5)] == [[]] * len(range(0, len(text), 5))
    call, rest = reader.finish(False)
    assert call is not None and call.arguments == {"command": "view", "file_path": "a.md"} and rest == []
