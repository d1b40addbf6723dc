"""Conversations as a user meets them: resuming, listing, transcripts that survive crashes and concurrent
windows, the rendered ``letta-conversation://`` document, and searching past messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from letta_ls.agent.conversations import (
    NO_RESULT,
    ConversationStore,
    UnknownConversationError,
)
from letta_ls.agent.messages import Message, ToolCall

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "agent" / "conversations")


def lines_of(store: ConversationStore, conversation_id: str) -> list[str]:
    return store.transcript_path(conversation_id).read_text(encoding="utf-8").splitlines()


def tool_exchange(question: str = "What is in main.py?") -> list[Message]:
    call = ToolCall("call-1", "read_file", {"path": "main.py"})
    return [
        Message(role="user", content=question),
        Message(role="assistant", content="Let me look.", tool_calls=[call]),
        Message(role="tool", content="print('hello')", tool_call_id="call-1", name="read_file"),
        Message(role="assistant", content="It prints hello."),
    ]


def test_default_conversation_exists_and_is_resumed(store: ConversationStore, tmp_path: Path) -> None:
    listed = store.list()
    assert [c.conversation_id for c in listed] == ["default"]
    assert store.last_used() == "default"
    assert store.transcript_path("default").exists()

    other = store.create("Refactor the parser")
    store.set_last_used(other.conversation_id)
    reopened = ConversationStore(tmp_path / "agent" / "conversations")  # a new window / process
    assert reopened.last_used() == other.conversation_id
    assert reopened.get("default").title == "default"


def test_new_conversations_get_ids_and_titles(store: ConversationStore) -> None:
    named = store.create("  Fix   the build ")
    assert re.fullmatch(r"conv-[0-9a-f]+", named.conversation_id)
    assert named.title == "Fix the build"

    untitled = store.create()
    assert untitled.title is None
    first = "Please help me understand why the integration tests fail on CI but pass locally every time"
    store.append(untitled.conversation_id, [Message(role="user", content=first)])
    store.append(untitled.conversation_id, [Message(role="user", content="something else")])
    title = store.get(untitled.conversation_id).title
    assert title is not None and title.startswith("Please help me understand why") and title.endswith("…")
    assert len(title) <= 61

    store.append("default", [Message(role="user", content="hello there")])
    assert store.get("default").title == "default"


def test_list_puts_default_first_then_most_recently_updated(store: ConversationStore) -> None:
    older = store.create("older")
    newer = store.create("newer")
    assert [c.title for c in store.list()] == ["default", "newer", "older"]
    store.append(older.conversation_id, [Message(role="user", content="bump")])
    assert [c.conversation_id for c in store.list()] == ["default", older.conversation_id, newer.conversation_id]


def test_append_and_read_round_trip_with_tool_calls(store: ConversationStore) -> None:
    messages = tool_exchange()
    messages[1].tool_calls.append(ToolCall("call-2", "grep", {}, raw_arguments="{not json"))
    messages.insert(3, Message(role="tool", content="no matches", tool_call_id="call-2", name="grep"))
    store.append("default", messages)
    assert [m.to_json() for m in store.messages("default")] == [m.to_json() for m in messages]
    info = store.get("default")
    assert info.messages == 5
    assert info.updated >= info.created


def test_a_torn_last_line_is_skipped_and_appending_continues(store: ConversationStore) -> None:
    store.append("default", tool_exchange())
    path = store.transcript_path("default")
    whole = json.dumps({"type": "message", "message": Message(role="user", content="lost in a crash").to_json()})
    with open(path, "ab") as handle:
        handle.write(whole[: len(whole) // 2].encode())  # the process died mid-write

    assert len(store.messages("default")) == 4
    store.append("default", [Message(role="user", content="after the crash")])
    messages = store.messages("default")
    assert [m.content for m in messages][-1] == "after the crash"
    assert len(messages) == 5
    lines = lines_of(store, "default")
    assert len(lines) == 6  # the torn bytes stay on a line of their own
    assert sum(1 for line in lines if _parses(line)) == 5


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


WRITER = """
import sys
from pathlib import Path
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
store = ConversationStore(Path(sys.argv[1]))
for i in range(50):
    store.append(sys.argv[2], [Message(role="user", content=f"{sys.argv[3]}:{i}:" + "x" * 6000)])
"""


def test_two_processes_and_eight_threads_never_lose_or_interleave_lines(store: ConversationStore) -> None:
    conversation = store.create("busy").conversation_id
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.directory), conversation, name], env=env)
             for name in ("proc-a", "proc-b")]

    def thread_writer(name: str) -> None:
        for i in range(25):  # a batch of two must stay together
            store.append(conversation, [Message(role="user", content=f"{name}:{i}:first " + "y" * 3000),
                                        Message(role="assistant", content=f"{name}:{i}:second")])

    threads = [threading.Thread(target=thread_writer, args=(f"thread-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        assert proc.wait(timeout=60) == 0

    lines = lines_of(store, conversation)
    records = [json.loads(line) for line in lines]  # every line parses
    contents = [r["message"]["content"].split(":")[:2] for r in records]
    assert len(records) == 2 * 50 + 8 * 25 * 2
    assert len({tuple(c) for c in contents if c[0].startswith("proc")}) == 100
    for index, record in enumerate(records):
        if record["message"]["content"].startswith("thread") and record["message"]["role"] == "user":
            assert contents[index + 1] == contents[index]  # its batch partner follows directly
    for name in ("proc-a", "proc-b"):  # each writer's own order is kept
        assert [int(c[1]) for c in contents if c[0] == name] == list(range(50))
    assert store.get(conversation).messages == len(records)


def test_render_markdown_shows_roles_tool_calls_clipped_results_and_summaries(store: ConversationStore) -> None:
    messages = tool_exchange()
    messages[2].content = "R" * 5000
    store.append("default", messages)
    summary = Message(role="user", kind="summary", content="Note: 4 earlier messages are hidden. ...\n\nRead main.py.")
    store.record_compaction("default", messages[-1].id, summary, summarised=4, hidden=4, kept=0)
    store.mark_turn("default", "turn-x", "cancelled")

    text = store.render_markdown("default")
    assert text.startswith("# default\n")
    assert "## User · " in text and "## Assistant · " in text and "## Tool result · `read_file` · " in text
    assert "**Tool call** `read_file` (`call-1`)" in text
    assert '```json\n{\n  "path": "main.py"\n}\n```' in text
    assert "R" * 2000 + "\n… [3000 more characters]" in text and "R" * 2001 not in text
    assert "## Compaction summary" in text and "4 earlier messages were summarised" in text
    assert "Read main.py." in text
    assert "*Turn `turn-x` was cancelled" in text


def test_search_finds_past_messages_across_conversations(store: ConversationStore) -> None:
    store.append("default", [Message(role="user", content="The deploy script lives in scripts/deploy.sh",
                                     created="2024-01-01T00:00:00.000+00:00")])
    other = store.create("other").conversation_id
    store.append(other, [Message(role="assistant", content="I changed the DEPLOY timeout in the script to 30s",
                                 created="2024-02-01T00:00:00.000+00:00"),
                         Message(role="user", content="unrelated", created="2024-03-01T00:00:00.000+00:00")])

    hits = store.search("deploy")  # ranked by relevance (BM25): two mentions in a short message come first
    assert [(h.conversation_id, h.role, h.rank) for h in hits] == [("default", "user", 1), (other, "assistant", 2)]
    assert "DEPLOY timeout" in hits[1].snippet and hits[0].score > hits[1].score
    assert [h.conversation_id for h in store.search("script timeout")] == [other]  # all words, any order
    assert store.search("deploy", limit=1)[0].conversation_id == "default"
    assert store.search("nothing like this") == []
    assert store.search("   ") == []
    long = "word " * 100 + "needle" + " word" * 100
    store.append(other, [Message(role="user", content=long)])
    snippet = store.search("needle")[0].snippet
    assert "needle" in snippet and snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 200


def test_unknown_conversation_lists_the_valid_ids(store: ConversationStore) -> None:
    created = store.create("x").conversation_id
    with pytest.raises(UnknownConversationError) as caught:
        store.messages("conv-nope")
    assert isinstance(caught.value, KeyError)
    assert "conv-nope" in str(caught.value) and "default" in str(caught.value) and created in str(caught.value)
    with pytest.raises(UnknownConversationError):
        store.append("../../etc", [Message(role="user", content="x")])
    with pytest.raises(UnknownConversationError):
        store.set_last_used("conv-nope")


def test_a_crash_mid_turn_is_visible_and_the_history_stays_provider_valid(store: ConversationStore) -> None:
    call = ToolCall("call-9", "grep", {"pattern": "TODO"})
    store.mark_turn("default", "turn-1", "started")
    store.append("default", [Message(role="user", content="find todos", turn_id="turn-1"),
                             Message(role="assistant", tool_calls=[call], turn_id="turn-1")])
    # the process dies here: the call is the last thing on disk, it may still be running elsewhere
    assert store.unfinished_turns("default") == ["turn-1"]
    assert store.messages("default")[-1].tool_calls == [call]

    store.mark_turn("default", "turn-2", "started")  # the next turn settles it
    store.append("default", [Message(role="user", content="again", turn_id="turn-2")])
    history = store.messages("default")
    assert [m.role for m in history] == ["user", "assistant", "tool", "user"]
    assert history[2].content == NO_RESULT and history[2].tool_call_id == "call-9"
    assert store.messages("default")[2].id == history[2].id  # stable across reads
    assert store.get("default").messages == 3  # nothing synthetic was written
    assert store.unfinished_turns("default") == ["turn-1", "turn-2"]

    # a real result arriving late (another window) takes its place next to the call
    store.append("default", [Message(role="tool", content="3 matches", tool_call_id="call-9", name="grep")])
    assert [m.content for m in store.messages("default")][2:] == ["3 matches", "again"]
    store.mark_turn("default", "turn-2", "done")
    assert store.unfinished_turns("default") == ["turn-1"]


def test_a_lost_index_is_rebuilt_from_the_transcripts(store: ConversationStore) -> None:
    conversation = store.create().conversation_id
    store.append(conversation, [Message(role="user", content="rebuild me")])
    store.index_path.write_text("{ torn")
    infos = {i.conversation_id: i for i in store.list()}
    assert infos[conversation].title == "rebuild me" and infos[conversation].messages == 1
    assert "default" in infos


def test_times_this_process_stamps_never_tie() -> None:
    """Recency order rests on these stamps: two taken in the same millisecond must still order."""
    from letta_ls.agent.messages import now_iso

    stamps = [now_iso() for _ in range(2000)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_a_conversation_bumped_in_the_same_millisecond_still_leads(store: ConversationStore) -> None:
    for _ in range(20):
        older = store.create("older")
        newer = store.create("newer")
        store.append(older.conversation_id, [Message(role="user", content="bump")])
        listed = [c.conversation_id for c in store.list()]
        assert listed.index(older.conversation_id) < listed.index(newer.conversation_id)
