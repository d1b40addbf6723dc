"""A word of six to eight letters costs a search no more than a short one (issue 14's search p95).

Every query word of three letters or more matches as a prefix (``deploy`` finds ``deployment``). FTS5 answers
a prefix from a prefix index when it has one of that length; otherwise it merges the posting lists of every
term starting with it into one in memory, for every matching message, before it can rank any. With prefix
indexes of 3-5 letters only, a frequent 6-8 letter word (``function``, ``database``, a project's name) was
the slow tail of ``conversation_search`` at 100,000 messages (docs/benchmarks-search.md). The comparison
here is within one index and one process, a 7-letter word against its own 5-letter prefix, which match the
same messages: so the machine's load cancels out, and the answers must be the same too.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from letta_ls.agent.messages import Message
from letta_ls.agent.transcript_writer import append_records, message_record
from letta_ls.search.conversations import index_transcripts, search_conversations
from letta_ls.search.index import SearchIndex

FILLER = ["the", "build", "ran", "again", "and", "then", "we", "fixed", "tests", "for", "release", "notes"]


def write_messages(directory: Path, total: int) -> None:
    rng = random.Random(14)
    directory.mkdir(parents=True)
    for conversation in range(20):
        messages = []
        for n in range(total // 20):
            words = rng.choices(FILLER, k=rng.randint(8, 30))
            if rng.random() < 0.7:
                words.insert(rng.randrange(len(words)), "kumquat" if rng.random() < 0.85 else "kumquats")
            messages.append(Message(role="user" if n % 2 == 0 else "assistant", content=" ".join(words),
                                    created=f"2025-01-{1 + n % 28:02d}T10:{n % 60:02d}:00.000+00:00"))
        append_records(directory / f"conv-{conversation:04x}.jsonl", [message_record(m) for m in messages],
                       sync=False)


def fastest(search, rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        search()
        times.append(time.perf_counter() - started)
    return min(times)


def test_a_frequent_seven_letter_word_is_searched_as_fast_as_its_five_letter_prefix(tmp_path):
    directory = tmp_path / "agent" / "conversations"
    write_messages(directory, 20_000)
    index = SearchIndex.for_agent(tmp_path / "agent")
    index_transcripts(index, directory)

    def long_word():
        return search_conversations(index, directory, "kumquat")

    def short_word():
        return search_conversations(index, directory, "kumqu")

    assert [(h.message_id, h.rank) for h in long_word()] == [(h.message_id, h.rank) for h in short_word()]
    assert len(long_word()) == 20
    long_seconds, short_seconds = fastest(long_word), fastest(short_word)
    assert long_seconds <= 1.8 * short_seconds + 0.001, (
        f"'kumquat' took {long_seconds * 1000:.1f} ms, its prefix 'kumqu' {short_seconds * 1000:.1f} ms")
