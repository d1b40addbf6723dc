"""Reading transcripts through the tail-parsing cache: what another process appends is seen, a file that
was replaced, shrank or was rewritten in place is read again from the start, a torn last line is
skipped until the next append completes it, and the records never go stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.agent.transcripts import TRANSCRIPTS, TranscriptReader, summarise_tail

ROOT = Path(__file__).resolve().parents[2]

APPENDER = """
import sys
from pathlib import Path
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
store = ConversationStore(Path(sys.argv[1]))
store.append(sys.argv[2], [Message(role="user", content=text) for text in sys.argv[3:]])
"""


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations")


def line(content: str, role: str = "user") -> bytes:
    return (json.dumps({"type": "message", "message": Message(role=role, content=content).to_json()}) + "\n").encode()


def contents(store: ConversationStore, conversation_id: str = "default") -> list[str]:
    return [m.content for m in store.messages(conversation_id)]


class CountingReader(TranscriptReader):
    """Counts the bytes each read hands to the parser, to tell a tail read from a full one."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed: list[int] = []

    def _parse_tail(self, key, stat, known, data, start):  # type: ignore[override]
        self.parsed.append(len(data))
        return super()._parse_tail(key, stat, known, data, start)


def test_another_process_appending_is_seen_on_the_next_read(store: ConversationStore) -> None:
    store.append("default", [Message(role="user", content="from this window")])
    assert contents(store) == ["from this window"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", APPENDER, str(store.directory), "default", "from the other window",
                    "and one more"], env=env, check=True)
    assert contents(store) == ["from this window", "from the other window", "and one more"]
    assert store.get("default").messages == 3


def test_only_the_new_tail_is_parsed(tmp_path: Path) -> None:
    reader = CountingReader()
    path = tmp_path / "t.jsonl"
    path.write_bytes(line("one") + line("two"))
    assert [m.content for m in reader.read(path).raw_messages()] == ["one", "two"]
    whole = reader.parsed[-1]
    with open(path, "ab") as handle:
        handle.write(line("three"))
    assert [m.content for m in reader.read(path).raw_messages()] == ["one", "two", "three"]
    assert reader.parsed[-1] == len(line("three")) < whole
    reader.read(path)
    assert reader.parsed[-1] == 0  # nothing new: nothing parsed


def test_a_replaced_transcript_is_read_again_from_the_start(tmp_path: Path) -> None:
    reader = TranscriptReader()
    path = tmp_path / "t.jsonl"
    path.write_bytes(line("old one") + line("old two"))
    reader.read(path)
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(line("new one") + line("new two") + line("new three"))
    os.replace(replacement, path)  # another inode, longer than what was parsed
    assert [m.content for m in reader.read(path).raw_messages()] == ["new one", "new two", "new three"]


def test_a_shrunk_transcript_is_read_again_from_the_start(tmp_path: Path) -> None:
    reader = TranscriptReader()
    path = tmp_path / "t.jsonl"
    path.write_bytes(line("one") + line("two") + line("three"))
    reader.read(path)
    with open(path, "r+b") as handle:  # same inode, cut short
        handle.truncate(len(line("one")))
    assert [m.content for m in reader.read(path).raw_messages()] == ["one"]


def test_a_transcript_rewritten_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    reader = TranscriptReader()
    path = tmp_path / "t.jsonl"
    path.write_bytes(line("aaaa") + line("bbbb"))
    reader.read(path)
    with open(path, "r+b") as handle:  # same inode, same prefix length, different bytes, then more
        handle.write(line("cccc") + line("dddd") + line("eeee"))
    assert [m.content for m in reader.read(path).raw_messages()] == ["cccc", "dddd", "eeee"]


def test_a_deleted_transcript_reads_as_empty_and_a_new_one_is_read_whole(tmp_path: Path) -> None:
    reader = TranscriptReader()
    path = tmp_path / "t.jsonl"
    path.write_bytes(line("one"))
    reader.read(path)
    path.unlink()
    assert reader.read(path).records == []
    path.write_bytes(line("fresh"))
    assert [m.content for m in reader.read(path).raw_messages()] == ["fresh"]


def test_a_torn_last_line_is_skipped_until_an_append_completes_it(store: ConversationStore) -> None:
    store.append("default", [Message(role="user", content="before the crash")])
    path = store.transcript_path("default")
    torn = line("lost in the crash")
    with open(path, "ab") as handle:
        handle.write(torn[: len(torn) // 2])
    first = TRANSCRIPTS.read(path)
    assert [m.content for m in first.raw_messages()] == ["before the crash"] and first.skipped == 1
    store.append("default", [Message(role="user", content="after the crash")])
    second = TRANSCRIPTS.read(path)
    assert [m.content for m in second.raw_messages()] == ["before the crash", "after the crash"]
    assert second.skipped == 1  # the torn bytes, now a line of their own, are skipped for good
    assert store.get("default").messages == 2


def test_records_read_through_the_cache_equal_a_fresh_parse(store: ConversationStore) -> None:
    store.append("default", [Message(role="user", content=f"message {i}") for i in range(5)])
    store.mark_turn("default", "turn-1", "done")
    store.append("default", [Message(role="assistant", content="last")])
    cached = [m.to_json() for m in store.messages("default")]
    TRANSCRIPTS.clear()
    assert [m.to_json() for m in store.messages("default")] == cached
    assert store.turn_statuses("default") == {"turn-1": "done"}


def test_the_cache_forgets_the_least_recently_read_transcripts(tmp_path: Path) -> None:
    reader = TranscriptReader(capacity=2)
    paths = []
    for name in "abc":
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(line(name))
        paths.append(path)
        reader.read(path)
    assert len(reader._items) == 2 and os.path.abspath(paths[0]) not in reader._items
    assert [m.content for m in reader.read(paths[0]).raw_messages()] == ["a"]


def test_summarise_tail_counts_what_was_appended_after_an_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first = line("first question")
    marker = (json.dumps({"type": "turn", "turnId": "t1", "status": "done", "time": "2030-01-01T00:00:00.000+00:00"})
              + "\n").encode()
    path.write_bytes(first + line("an answer", role="assistant") + marker + b'{"type": "mess')
    summary = summarise_tail(path, len(first))
    assert summary is not None
    assert summary.messages == 1 and summary.first_user is None
    assert summary.last_activity == "2030-01-01T00:00:00.000+00:00"
    assert summary.end == path.stat().st_size - len(b'{"type": "mess')  # the torn line is left for later
    assert summarise_tail(path, path.stat().st_size + 10) is None  # shorter than what was counted
    assert summarise_tail(tmp_path / "missing.jsonl", 0).messages == 0  # type: ignore[union-attr]


def test_every_store_of_a_directory_reads_the_same_records(store: ConversationStore) -> None:
    store.append("default", [Message(role="user", content="hello")])
    other = ConversationStore(store.directory)
    assert [m.content for m in other.messages("default")] == ["hello"]
