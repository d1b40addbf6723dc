"""The conversation index: exact counts and times even when a turn did not rewrite it (or crashed before
it could), a write only when one is due, and an index written by an earlier version still trusted."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from letta_ls.agent.conversation_index import MAX_LAG_BYTES, read_index
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations")


def index_identity(store: ConversationStore) -> tuple[int, int, bytes]:
    stat = store.index_path.stat()
    return stat.st_ino, stat.st_mtime_ns, store.index_path.read_bytes()


def turn(store: ConversationStore, conversation: str, n: int, *, reply: str = "an answer") -> None:
    """A turn as the agent records it."""
    store.begin_turn(conversation, f"turn-{n}", Message(role="user", content=f"question {n}", turn_id=f"turn-{n}"),
                     sync=False)
    store.set_last_used(conversation)
    store.sync(conversation)
    store.end_turn(conversation, f"turn-{n}", "done", [Message(role="assistant", content=reply, turn_id=f"turn-{n}")])


def test_a_turn_in_the_current_conversation_leaves_the_index_alone_yet_counts_are_exact(
        store: ConversationStore) -> None:
    conversation = store.create("Build flags").conversation_id
    store.set_last_used(conversation)
    before = index_identity(store)
    turn(store, conversation, 1)
    turn(store, conversation, 2)
    assert index_identity(store) == before  # no index write: two transcript appends per turn, nothing else
    info = store.get(conversation)
    assert info.messages == 4 and info.title == "Build flags"
    assert info.updated > info.created
    listed = {i.conversation_id: i for i in ConversationStore(store.directory).list()}  # another window
    assert listed[conversation].messages == 4 and listed[conversation].updated == info.updated
    assert store.last_used() == conversation


def state_identity(store: ConversationStore) -> tuple[int, int, bytes]:
    path = store.directory / "state.json"
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, path.read_bytes()


def test_switching_conversation_writes_only_the_conversation_to_resume(store: ConversationStore) -> None:
    first = store.create().conversation_id
    second = store.create().conversation_id
    turn(store, first, 1)
    assert store.last_used() == first
    before = index_identity(store)
    turn(store, second, 2)
    assert index_identity(store) == before
    assert store.last_used() == second == ConversationStore(store.directory).last_used()
    assert store.get(second).messages == 2 and store.get(first).messages == 2


def test_an_untitled_conversation_is_titled_from_its_first_message_and_keeps_it(store: ConversationStore) -> None:
    conversation = store.create().conversation_id
    store.set_last_used(conversation)
    turn(store, conversation, 1)
    assert store.get(conversation).title == "question 1"
    assert [i.title for i in store.list() if i.conversation_id == conversation] == ["question 1"]
    store.rename(conversation, "Renamed")  # a write: the derived title and counts are stored with it
    assert store.get(conversation).title == "Renamed" and store.get(conversation).messages == 2


def test_a_crash_before_the_index_write_loses_no_count(store: ConversationStore) -> None:
    conversation = store.create("crashy").conversation_id
    store.append(conversation, [Message(role="user", content="kept")])
    # another process appended and died before touching the index
    with open(store.transcript_path(conversation), "ab") as handle:
        for text in ("one", "two"):
            record = {"type": "message", "message": Message(role="assistant", content=text).to_json()}
            handle.write((json.dumps(record) + "\n").encode())
    assert store.get(conversation).messages == 3
    assert {i.conversation_id: i.messages for i in store.list()}[conversation] == 3


def test_an_entry_that_lags_too_far_is_rewritten(store: ConversationStore) -> None:
    conversation = store.create("long").conversation_id
    store.set_last_used(conversation)
    big = "x" * 4000
    count = 0
    while read_index(store.directory).accounted[conversation] == 0:
        store.append(conversation, [Message(role="user", content=big)])
        count += 1
        assert count * 4000 < 2 * MAX_LAG_BYTES + 8000, "the index was never caught up"
    on_disk = read_index(store.directory)
    assert on_disk.find(conversation).messages == count  # a reader starting cold needs no long tail
    assert store.transcript_path(conversation).stat().st_size - on_disk.accounted[conversation] <= MAX_LAG_BYTES


def test_concurrent_turns_keep_each_turns_marker_and_message_together(store: ConversationStore) -> None:
    conversation = store.create("busy").conversation_id

    def window(name: str) -> None:
        for i in range(10):
            turn(store, conversation, i, reply=f"{name}:{i}")

    threads = [threading.Thread(target=window, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [json.loads(line) for line in store.transcript_path(conversation).read_text().splitlines()]
    for index, record in enumerate(records):
        if record["type"] == "turn" and record["status"] == "started":
            assert records[index + 1]["type"] == "message" and records[index + 1]["message"]["role"] == "user"
        if record["type"] == "message" and record["message"]["role"] == "assistant":
            assert records[index + 1]["type"] == "turn" and records[index + 1]["status"] == "done"
    assert store.get(conversation).messages == 4 * 10 * 2


def test_an_index_written_by_an_earlier_version_is_trusted_then_counted_whole(store: ConversationStore) -> None:
    store.directory.mkdir(parents=True)
    old = {"conversationId": "conv-0123456789abcdef", "title": "An old one", "created": "2026-01-01T00:00:00.000+00:00",
           "updated": "2026-01-02T00:00:00.000+00:00", "messages": 1}  # no "bytes"
    store.index_path.write_text(json.dumps([old], indent=2))
    (store.directory / "state.json").write_text(json.dumps({"lastUsed": "conv-0123456789abcdef"}))
    record = {"type": "message", "message": Message(role="user", content="hi").to_json()}
    store.transcript_path("conv-0123456789abcdef").write_text(json.dumps(record) + "\n")

    assert store.last_used() == "conv-0123456789abcdef"
    assert store.get("conv-0123456789abcdef").messages == 1 and store.get("conv-0123456789abcdef").title == "An old one"
    store.append("conv-0123456789abcdef", [Message(role="assistant", content="hello again")])
    rows = {row["conversationId"]: row for row in json.loads(store.index_path.read_text())}
    assert rows["conv-0123456789abcdef"]["title"] == "An old one" and rows["conv-0123456789abcdef"]["messages"] == 2
    assert rows["conv-0123456789abcdef"]["bytes"] == store.transcript_path("conv-0123456789abcdef").stat().st_size
    assert store.get("conv-0123456789abcdef").messages == 2


def test_setting_the_current_conversation_again_writes_nothing(store: ConversationStore) -> None:
    conversation = store.create().conversation_id
    store.set_last_used(conversation)
    before = state_identity(store)
    store.set_last_used(conversation)
    turn(store, conversation, 1)
    assert state_identity(store) == before


def test_turns_in_the_default_conversation_write_no_state_at_all(store: ConversationStore) -> None:
    store.ensure_default()
    before = index_identity(store)
    turn(store, "default", 1)
    turn(store, "default", 2)
    assert not (store.directory / "state.json").exists() and index_identity(store) == before
    assert store.last_used() == "default" and store.get("default").messages == 4
