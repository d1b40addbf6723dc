"""What a dream reviews: the messages after each cursor, across conversations, bounded, never its own runs."""

from __future__ import annotations

from pathlib import Path

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message, ToolCall
from letta_ls.subagents.review import TOOL_RESULT_CHARS, collect_review
from letta_ls.subagents.sleeptime_state import Cursor


def chat(store: ConversationStore, conv: str, *texts: str) -> list[Message]:
    messages = [Message("user" if n % 2 == 0 else "assistant", text) for n, text in enumerate(texts)]
    store.append(conv, messages)
    return messages


def test_everything_is_reviewed_the_first_time_and_nothing_twice(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    chat(store, "default", "We use pnpm here.", "Noted.")
    review = collect_review(store, {})
    assert review.message_count == 2 and review.remaining == 0
    assert "We use pnpm here." in review.render() and "[20" in review.render()  # absolute times
    again = collect_review(store, review.cursors())
    assert again.is_empty and again.describe() == "nothing new since the last dream"
    later = chat(store, "default", "Actually we moved to bun.", "Got it.")
    third = collect_review(store, review.cursors())
    assert [m.id for c in third.conversations for m in c.messages] == [m.id for m in later]
    assert "We use pnpm" not in third.render() and third.conversations[0].reviewed_before == 2


def test_subagent_conversations_are_never_reviewed(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    chat(store, "default", "hello", "hi")
    run = store.create("dream 2026-12-01 14:03", subagent="dream").conversation_id
    chat(store, run, "Review these conversations", "I stored a lesson")
    review = collect_review(store, {})
    assert [c.conversation_id for c in review.conversations] == ["default"]
    assert "I stored a lesson" not in review.render()


def test_tool_results_and_arguments_are_clipped(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    call = ToolCall("call-1", "read_file", {"path": "x" * 1000})
    store.append("default", [Message("user", "read it"), Message("assistant", "", tool_calls=[call]),
                             Message("tool", "y" * 50_000, tool_call_id="call-1", name="read_file")])
    text = collect_review(store, {}).render()
    assert "y" * TOOL_RESULT_CHARS in text and "y" * (TOOL_RESULT_CHARS + 1) not in text
    assert "more characters]" in text and "x" * 400 not in text


def test_a_budget_keeps_the_rest_for_the_next_dream_oldest_first(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    first = chat(store, "default", *[f"old message {n} " + "a" * 200 for n in range(10)])
    other = store.create().conversation_id
    chat(store, other, "newer conversation")
    review = collect_review(store, {}, budget_chars=1_000)
    assert review.conversations[0].conversation_id == "default" and review.remaining > 0
    shown = review.conversations[0].messages
    assert len(shown) < 10 and review.cursors()["default"] == Cursor(shown[-1].id, len(shown) - 1)
    rest = collect_review(store, review.cursors(), budget_chars=100_000)
    assert rest.conversations[0].messages[0].id == first[len(shown)].id
    assert {c.conversation_id for c in rest.conversations} == {"default", other} and rest.remaining == 0


def test_one_huge_message_is_still_reviewed(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    chat(store, "default", "z" * 100_000)
    review = collect_review(store, {}, budget_chars=500)
    assert review.message_count == 1 and review.remaining == 0


def test_a_cursor_whose_position_moved_is_found_by_its_id(tmp_path: Path):
    store = ConversationStore(tmp_path)
    store.ensure_default()
    messages = chat(store, "default", "one", "two", "three")
    review = collect_review(store, {"default": Cursor(messages[1].id, 0)})
    assert [m.content for c in review.conversations for m in c.messages] == ["three"]
