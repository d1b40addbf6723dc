"""Compaction as a user notices it: the window is respected, tool calls stay with their results, the
transcript keeps everything while the model's context shrinks, and a failing summariser never blocks."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from letta_ls.agent.compaction import (
    CompactionEvent,
    CompactionEvents,
    apply_compaction,
    compact,
    compaction_threshold,
    estimate_request_tokens,
    extractive_summary,
    message_tokens,
    plan_compaction,
    summarise_prompt,
)
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.base import ContextOverflowError
from letta_ls.memfs.tokens import get_token_counter

COUNTER = get_token_counter(exact=False)  # UTF-8 bytes / 4: deterministic and fast


def turn(n: int, size: int = 400, calls: int = 1) -> list[Message]:
    """One user request, an assistant step with ``calls`` tool calls and their results, a final reply."""
    tool_calls = [ToolCall(f"call-{n}-{c}", "read_file", {"path": f"f{n}-{c}.py"}) for c in range(calls)]
    out = [Message(role="user", content=f"request {n}: " + "u" * size)]
    if calls:
        out.append(Message(role="assistant", content=f"looking {n}", tool_calls=tool_calls))
        out += [Message(role="tool", content="r" * size, tool_call_id=c.id, name=c.name) for c in tool_calls]
    out.append(Message(role="assistant", content=f"answer {n}: " + "a" * size))
    return out


def history(turns: int, size: int = 400) -> list[Message]:
    return [m for n in range(turns) for m in turn(n, size)]


def tokens(messages: list[Message]) -> int:
    return sum(message_tokens(m, COUNTER) for m in messages)


def assert_tool_calls_intact(summarised: list[Message], kept: list[Message]) -> None:
    calls_before = {c.id for m in summarised for c in m.tool_calls}
    assert not any(m.role == "tool" and m.tool_call_id in calls_before for m in kept)
    calls_after = {c.id for m in kept for c in m.tool_calls}
    assert not any(m.role == "tool" and m.tool_call_id in calls_after for m in summarised)
    assert kept[0].role == "assistant"


def test_threshold_formula() -> None:
    assert compaction_threshold(128_000) == 111_616
    assert compaction_threshold(200_000) == 183_616
    assert compaction_threshold(32_000) == 25_600  # 20% is less than 16,384 here
    assert compaction_threshold(8_192) == 8_192 - 1_638


def test_request_estimate_counts_system_messages_and_tools() -> None:
    messages = turn(0)
    base = estimate_request_tokens("", [], None, COUNTER)
    with_system = estimate_request_tokens("s" * 400, [], "", COUNTER)
    assert with_system == base + 100
    tools = [{"name": "grep", "description": "d" * 100, "parameters": {}}]
    full = estimate_request_tokens("s" * 400, messages, tools, COUNTER)
    assert full > with_system + tokens(messages)
    assert estimate_request_tokens("s" * 400, messages, tools, COUNTER) == full  # str or object alike


def test_no_plan_below_the_threshold_or_with_too_few_messages() -> None:
    messages = history(10)  # about 4k tokens
    assert plan_compaction(messages, context_window=128_000, counter=COUNTER) is None
    assert plan_compaction(messages[:3], context_window=100, counter=COUNTER, force=True) is None
    assert plan_compaction(messages, context_window=128_000, counter=COUNTER, force=True) is not None
    window = 4_000  # threshold 3,200
    assert tokens(messages) > compaction_threshold(window)
    assert plan_compaction(messages, context_window=window, counter=COUNTER) is not None
    # the system prompt and tools count too
    small = history(3)
    assert plan_compaction(small, context_window=window, counter=COUNTER) is None
    assert plan_compaction(small, context_window=window, counter=COUNTER, overhead_tokens=3_000) is not None


def test_plan_keeps_at_most_the_window_share_and_cuts_at_assistant_messages() -> None:
    messages = history(40)
    window = 8_000
    plan = plan_compaction(messages, context_window=window, counter=COUNTER)
    assert plan is not None and plan.fits
    assert plan.summarise + plan.keep == messages
    assert plan.goal == int(0.7 * window)
    assert plan.tokens_after <= plan.goal and tokens(plan.keep) < plan.goal
    fraction = len(plan.summarise) / len(messages)
    assert 0.4 - 0.05 <= fraction <= 1.0
    assert_tool_calls_intact(plan.summarise, plan.keep)
    # a looser goal cuts less (the first cut point that fits wins)
    loose = plan_compaction(messages, context_window=window, counter=COUNTER, keep_fraction=0.9, force=True)
    assert loose is not None and len(loose.summarise) < len(plan.summarise)


def test_plan_never_splits_tool_calls_from_results_on_random_histories() -> None:
    rng = random.Random(7)
    for _ in range(150):
        messages = [m for n in range(rng.randint(2, 14))
                    for m in turn(n, size=rng.randint(10, 900), calls=rng.randint(0, 4))]
        window = rng.randint(600, 9_000)
        plan = plan_compaction(messages, context_window=window, counter=COUNTER, force=True)
        if plan is None:
            continue
        assert plan.summarise + plan.keep == messages
        assert any(m.kind == "message" for m in plan.summarise)
        assert_tool_calls_intact(plan.summarise, plan.keep)


def test_plan_never_cuts_past_a_pending_final_tool_call() -> None:
    messages = history(12)
    pending = Message(role="assistant", content="c" * 4_000, tool_calls=[ToolCall("call-p", "grep", {"q": "x"})])
    messages.append(pending)
    plan = plan_compaction(messages, context_window=1_000, counter=COUNTER, force=True)
    assert plan is not None and not plan.fits  # even keeping only the pending step exceeds 700 tokens
    assert plan.keep == [pending]
    messages.append(Message(role="tool", content="found", tool_call_id="call-p", name="grep"))
    answered = plan_compaction(messages, context_window=1_000, counter=COUNTER, force=True)
    assert answered is not None and answered.keep == messages[-2:]  # the call and its result stay together


def test_summarise_prompt_clips_tool_results_and_asks_for_300_words() -> None:
    messages = turn(0, size=10)
    messages[2].content = "R" * 9_000
    prompt = summarise_prompt(messages)
    assert "at most 300 words" in prompt
    assert "R" * 2_000 in prompt and "R" * 2_001 not in prompt and "[7000 more characters]" in prompt
    assert "(called read_file" in prompt and "request 0" in prompt
    shrunk = summarise_prompt(history(50), max_chars=2_000)
    assert "characters omitted" in shrunk and len(shrunk) < 4_000


def test_apply_compaction_builds_the_summary_message() -> None:
    messages = history(20)
    plan = plan_compaction(messages, context_window=4_000, counter=COUNTER)
    assert plan is not None
    context = apply_compaction(messages, plan, "They read files.")
    assert context[0].kind == "summary" and context[0].role == "user"
    assert context[0].content == (f"Note: {len(plan.summarise)} earlier messages are hidden. "
                                  "The following is a summary of them:\n\nThey read files.")
    assert context[1:] == plan.keep
    with pytest.raises(ValueError):
        apply_compaction(messages[1:], plan, "x")


async def test_compact_keeps_the_transcript_whole_while_the_context_shrinks(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations")
    messages = history(30)
    store.append("default", messages)
    prompts: list[str] = []

    async def summarise(prompt: str) -> str:
        prompts.append(prompt)
        return "The user asked for files; the agent read them."

    result = await compact(store, "default", summarise, context_window=6_000, counter=COUNTER,
                           events=CompactionEvents(), agent_id="agent-1")
    assert result is not None and not result.fallback
    assert "request 0" in prompts[0]
    assert [m.to_json() for m in store.messages("default")] == [m.to_json() for m in messages]  # all on disk
    context = store.context("default")
    assert [m.id for m in context] == [m.id for m in result.context]
    assert context[0].kind == "summary" and "the agent read them" in context[0].content
    assert len(context) < len(messages) and result.summarised + result.kept == len(messages)
    assert result.tokens_after < result.tokens_before and result.tokens_after <= int(0.7 * 6_000)
    assert_tool_calls_intact(messages[: result.summarised], context[1:])

    # later messages join the context; a second compaction folds the first summary in
    store.append("default", history(30)[:60])
    again = await compact(store, "default", summarise, context_window=6_000, counter=COUNTER,
                          events=None, agent_id="agent-1")
    assert again is not None
    assert "[earlier summary]" in prompts[1]
    hidden = int(store.context("default")[0].content.split()[1])
    assert hidden == len(store.messages("default")) - (len(store.context("default")) - 1)
    assert len(store.compactions("default")) == 2
    assert "Compaction summary" in store.render_markdown("default")
    # nothing to do when it fits
    assert await compact(store, "default", summarise, context_window=1_000_000, counter=COUNTER,
                         events=None, agent_id="agent-1") is None


async def test_a_failing_summariser_falls_back_to_an_extractive_summary(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations")
    store.append("default", history(30))

    async def broken(prompt: str) -> str:
        raise RuntimeError("model unavailable")

    result = await compact(store, "default", broken, context_window=6_000, counter=COUNTER, events=None,
                           agent_id="agent-1")
    assert result is not None and result.fallback
    summary = store.context("default")[0].content
    assert "Extractive summary" in summary and "- request 0: uuu" in summary
    assert "Last assistant reply: answer" in summary
    assert len(summary) < 4_000


async def test_an_overflowing_summariser_gets_shorter_prompts(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations")
    store.append("default", history(60, size=1_500))
    sizes: list[int] = []

    async def small_window(prompt: str) -> str:
        sizes.append(len(prompt))
        if len(prompt) > 20_000:
            raise ContextOverflowError("prompt too long")
        return "short summary"

    result = await compact(store, "default", small_window, context_window=20_000, counter=COUNTER, events=None,
                           agent_id="agent-1")
    assert result is not None and not result.fallback
    assert len(sizes) >= 2 and sizes == sorted(sizes, reverse=True)
    assert result.summary.content.endswith("short summary")


def test_extractive_summary_is_bounded() -> None:
    messages = [m for n in range(100) for m in turn(n, size=5_000)]
    text = extractive_summary(messages)
    assert "more requests" in text and len(text) < 6_000


async def test_events_reach_subscribers_and_a_failing_one_breaks_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ConversationStore(tmp_path / "conversations")
    store.append("default", history(30))
    events = CompactionEvents()
    heard: list[CompactionEvent] = []
    heard_async: list[CompactionEvent] = []

    def failing(event: CompactionEvent) -> None:
        raise RuntimeError("subscriber bug")

    async def async_listener(event: CompactionEvent) -> None:
        heard_async.append(event)

    events.subscribe(failing)
    events.subscribe(heard.append)
    events.subscribe(async_listener)
    ignored: list[CompactionEvent] = []
    events.subscribe(ignored.append)()  # unsubscribed at once

    async def summarise(prompt: str) -> str:
        return "summary"

    with caplog.at_level(logging.ERROR, logger="letta_ls.agent.compaction"):
        result = await compact(store, "default", summarise, context_window=6_000, counter=COUNTER, events=events,
                               agent_id="agent-7")
    await asyncio.sleep(0)
    assert result is not None
    assert heard == [CompactionEvent("agent-7", "default", result.summarised, result.kept,
                                     result.tokens_before, result.tokens_after)]
    assert heard_async == heard and ignored == []
    assert "a compaction subscriber failed" in caplog.text
    assert store.context("default")[0].kind == "summary"
