"""The agent's search index as a user meets it: ranked answers, kept up to date as transcripts and commits
land, rebuilt from the truth when the file is damaged or old, and shared by two processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.search.conversations import MessageFilter, index_transcripts, search_conversations
from letta_ls.search.index import SCHEMA_VERSION, SearchIndex, fts5_available, index_path
from letta_ls.search.memory import index_memory, search_memory

AUTHOR = Author("Test Agent", "agent-test@letta-ls.local")
ROOT = Path(__file__).resolve().parents[2]


def memory_file(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}\n"


def commit(repo: MemoryRepo, changes: dict[str, str | None], reason: str) -> None:
    repo.commit({path: text.encode() if text is not None else None for path, text in changes.items()}, reason, AUTHOR)


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    return tmp_path / "agents" / "agent-1"


@pytest.fixture
def store(agent_dir: Path) -> ConversationStore:
    return ConversationStore(agent_dir / "conversations")


@pytest.fixture
def memory(agent_dir: Path) -> MemoryRepo:
    return MemoryRepo.create(agent_dir / "memory", {
        "system/persona.md": memory_file("Who I am.", "I am a careful coding agent."),
        "system/human.md": memory_file("What I know about the user.", "The user deploys with make deploy."),
        "reference/deploy.md": memory_file("How deployment works: deploy steps and rollback.",
                                           "Run make deploy.\nThen check the deploy log.\nRollback: make rollback."),
        "reference/tea.md": memory_file("Tea preferences.", "Green tea, no sugar."),
    }, AUTHOR)


def index_of(agent_dir: Path) -> SearchIndex:
    return SearchIndex.for_agent(agent_dir)


def say(store: ConversationStore, conversation: str, role: str, text: str, created: str | None = None) -> Message:
    message = Message(role=role, content=text, **({"created": created} if created else {}))
    store.append(conversation, [message])
    return message


def test_fts5_is_compiled_into_this_python():
    assert fts5_available()


def test_the_index_lives_in_the_agent_home_outside_the_memory_repo_in_wal_mode(agent_dir, store, memory):
    say(store, store.ensure_default().conversation_id, "user", "hello index")
    search_memory(index_of(agent_dir), memory, "careful")
    path = index_path(agent_dir)
    assert path.exists() and path.parent == agent_dir and memory.path not in path.parents
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "search.sqlite3" not in memory.run_git("ls-files").decode()


def test_messages_are_ranked_by_relevance_not_by_date(agent_dir, store):
    default = store.ensure_default().conversation_id
    say(store, default, "user", "deploy deploy: the deploy script failed again on deploy", "2024-01-01T00:00:00+00:00")
    other = store.create("other").conversation_id
    say(store, other, "assistant", "I looked at many things today, among them one deploy", "2024-06-01T00:00:00+00:00")
    say(store, other, "user", "nothing to see here", "2024-07-01T00:00:00+00:00")
    hits = search_conversations(index_of(agent_dir), store.directory, "deploy")
    assert [(h.conversation_id, h.rank) for h in hits] == [(default, 1), (other, 2)]
    assert hits[0].score > hits[1].score > 0
    assert "deploy script" in hits[0].snippet


def test_a_turn_is_indexed_when_it_ends_and_costs_little(agent_dir, store):
    conversation = store.ensure_default().conversation_id
    index_transcripts(index_of(agent_dir), store.directory)  # the index exists before the turn
    store.begin_turn(conversation, "turn-1", Message(role="user", content="where is the zebra config?"))
    started = time.perf_counter()
    store.end_turn(conversation, "turn-1", "done", [Message(role="assistant", content="The zebra config is in etc")])
    elapsed = time.perf_counter() - started
    with sqlite3.connect(index_path(agent_dir)) as db:  # indexed by the turn itself, before any search
        texts = [row[0] for row in db.execute("SELECT text FROM message_rows ORDER BY id")]
    assert texts == ["where is the zebra config?", "The zebra config is in etc"]
    assert elapsed < 0.5  # the whole end of the turn, fsync included (the bench measures the indexing alone)


def test_appends_from_outside_the_hook_are_caught_up_by_the_next_search(agent_dir, store):
    conversation = store.ensure_default().conversation_id
    assert search_conversations(index_of(agent_dir), store.directory, "giraffe") == []
    say(store, conversation, "user", "a giraffe walked in")
    assert [h.snippet for h in search_conversations(index_of(agent_dir), store.directory, "giraffe")] == [
        "a giraffe walked in"]
    # a transcript replaced by a shorter one is indexed again from its start, a deleted one is forgotten
    store.transcript_path(conversation).write_text("")
    say(store, conversation, "user", "an okapi")
    assert search_conversations(index_of(agent_dir), store.directory, "giraffe") == []
    assert len(search_conversations(index_of(agent_dir), store.directory, "okapi")) == 1
    store.transcript_path(conversation).unlink()
    assert search_conversations(index_of(agent_dir), store.directory, "okapi") == []


def test_filters_narrow_by_role_dates_and_conversation(agent_dir, store):
    default = store.ensure_default().conversation_id
    other = store.create("other").conversation_id
    say(store, default, "user", "kiwi from the user", "2024-01-10T09:00:00+00:00")
    say(store, default, "assistant", "kiwi from the agent", "2024-02-10T09:00:00+00:00")
    say(store, other, "user", "kiwi elsewhere", "2024-03-10T09:00:00+00:00")
    index = index_of(agent_dir)

    def found(**filters) -> set[str]:
        hits = search_conversations(index, store.directory, "kiwi", filters=MessageFilter(**filters))
        return {h.snippet for h in hits}

    assert found(roles=("assistant",)) == {"kiwi from the agent"}
    assert found(since="2024-02-01") == {"kiwi from the agent", "kiwi elsewhere"}
    assert found(until="2024-02-10") == {"kiwi from the user", "kiwi from the agent"}  # the whole day
    assert found(conversation_id=other) == {"kiwi elsewhere"}


@pytest.mark.parametrize("query", ['"foo AND (bar', "NEAR(x y", "col:umn ^start", "a*b OR -c", "'", "***", "\\"])
def test_queries_with_fts_syntax_never_raise(agent_dir, store, memory, query):
    say(store, store.ensure_default().conversation_id, "user", "foo and bar together, start column")
    index = index_of(agent_dir)
    search_conversations(index, store.directory, query)
    search_memory(index, memory, query)
    hits = search_conversations(index, store.directory, '"foo AND (bar')
    assert [h.snippet for h in hits] == ["foo and bar together, start column"]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_query_that_answers(tmp_path_factory, text):
    agent_dir = tmp_path_factory.mktemp("any")
    store = ConversationStore(agent_dir / "conversations")
    say(store, store.ensure_default().conversation_id, "user", "plain words to find")
    hits = search_conversations(SearchIndex.for_agent(agent_dir), store.directory, text)
    assert all(h.conversation_id == "default" for h in hits)


def test_memory_search_ranks_files_and_names_the_matching_line(agent_dir, memory):
    hits = search_memory(index_of(agent_dir), memory, "deploy")
    assert hits[0].path == "reference/deploy.md" and hits[0].rank == 1
    assert {h.path for h in hits} == {"reference/deploy.md", "system/human.md"}
    assert (hits[0].line, hits[0].text) == (4, "Run make deploy.")  # the body's first best line
    assert hits[0].description.startswith("How deployment works")
    assert hits[0].score > hits[1].score
    rollback = search_memory(index_of(agent_dir), memory, "rollback make")[0]
    assert (rollback.path, rollback.line, rollback.text) == ("reference/deploy.md", 6, "Rollback: make rollback.")


def test_commits_update_only_the_paths_they_changed(agent_dir, memory):
    index = index_of(agent_dir)
    index_memory(index, memory)
    with sqlite3.connect(index_path(agent_dir)) as db:
        before = dict(db.execute("SELECT path, id FROM memory_rows"))
    commit(memory, {"reference/tea.md": memory_file("Tea preferences.", "Oolong now, still no sugar.")}, "tea")
    commit(memory, {"reference/new.md": memory_file("A new note.", "Oolong storage tips.")}, "new")
    commit(memory, {"system/human.md": None}, "forget")
    assert {h.path for h in search_memory(index, memory, "oolong")} == {"reference/new.md", "reference/tea.md"}
    assert search_memory(index, memory, "green") == []
    assert [h.path for h in search_memory(index, memory, "deploy")] == ["reference/deploy.md"]
    with sqlite3.connect(index_path(agent_dir)) as db:
        after = dict(db.execute("SELECT path, id FROM memory_rows"))
        head = db.execute("SELECT value FROM state WHERE key = 'memory_head'").fetchone()[0]
    assert head == memory.head()
    assert after["system/persona.md"] == before["system/persona.md"]  # untouched rows are not rewritten
    assert after["reference/deploy.md"] == before["reference/deploy.md"]
    assert after["reference/tea.md"] != before["reference/tea.md"] and "system/human.md" not in after


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"this is not sqlite " * 5 + b"\0" * 5
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def scribble_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):
        data[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [garble, truncate, scribble_pages, lambda p: p.write_bytes(b"")])
def test_a_damaged_index_is_rebuilt_by_the_next_search(agent_dir, store, memory, damage):
    conversation = store.ensure_default().conversation_id
    for n in range(300):
        say(store, conversation, "user", f"message number {n} about the quokka habitat")
    index = index_of(agent_dir)
    assert len(search_conversations(index, store.directory, "quokka", limit=500)) == 300
    assert search_memory(index, memory, "sugar")[0].path == "reference/tea.md"
    damage(index_path(agent_dir))
    assert len(search_conversations(index, store.directory, "quokka", limit=500)) == 300
    assert search_memory(index, memory, "sugar")[0].path == "reference/tea.md"


def test_an_index_of_another_schema_version_is_rebuilt(agent_dir, store):
    say(store, store.ensure_default().conversation_id, "user", "the wombat")
    path = index_path(agent_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:  # what an older letta-ls might have left
        db.execute("CREATE TABLE messages(text)")
        db.execute("INSERT INTO messages VALUES ('stale')")
        db.execute("PRAGMA user_version = 0")
    hits = search_conversations(index_of(agent_dir), store.directory, "wombat")
    assert [h.snippet for h in hits] == ["the wombat"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "messages" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}


WRITER = """
import sys
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
store = ConversationStore(sys.argv[1])
conversation = store.create(sys.argv[2]).conversation_id
for n in range(int(sys.argv[3])):
    store.begin_turn(conversation, f"t{n}", Message(role="user", content=f"pelican question {sys.argv[2]} {n}"))
    store.end_turn(conversation, f"t{n}", "done", [Message(role="assistant", content=f"pelican answer {n}")])
"""


def test_two_processes_updating_at_once_lose_and_double_nothing(agent_dir, store):
    store.ensure_default()
    turns = 60
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.directory), name, str(turns)],
                                cwd=ROOT, stderr=subprocess.PIPE) for name in ("first", "second")]
    index = index_of(agent_dir)
    while any(w.poll() is None for w in writers):  # this process searches (and catches up) meanwhile
        search_conversations(index, store.directory, "pelican", limit=5)
    for writer in writers:
        assert writer.wait() == 0, writer.stderr.read().decode()
    hits = search_conversations(index, store.directory, "pelican", limit=1000)
    assert len(hits) == 2 * 2 * turns
    assert len({h.message_id for h in hits}) == len(hits)


def test_a_query_matching_more_than_the_rank_window_is_ranked_among_its_newest_matches(agent_dir, store, monkeypatch):
    from letta_ls.search import query as query_module

    monkeypatch.setattr(query_module, "RANK_WINDOW", 5)
    conversation = store.ensure_default().conversation_id
    say(store, conversation, "user", "common common common word and a rare narwhal")  # the oldest, best for BM25
    for n in range(20):
        say(store, conversation, "user", f"common word number {n} with some padding text around it")
    index = index_of(agent_dir)
    assert [h.snippet for h in search_conversations(index, store.directory, "narwhal")] == [
        "common common common word and a rare narwhal"]  # a rarer word: BM25 over all its matches
    hits = search_conversations(index, store.directory, "common", limit=50)
    assert sorted(int(h.snippet.split()[3]) for h in hits) == [15, 16, 17, 18, 19]  # the 5 newest, ranked
    filtered = search_conversations(index, store.directory, "common", limit=50,
                                    filters=MessageFilter(conversation_id=conversation, roles=("user",)))
    assert len(filtered) == 5
