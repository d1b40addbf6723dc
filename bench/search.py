"""Search benchmarks (issue 14): ``conversation_search`` over 1k / 10k / 100k messages in 200 conversations,
``memory_search`` over 100 / 1,000 / 10,000 files, and what indexing costs a turn and a commit.

Floors, measured in the same run on the same data: a raw SQLite FTS5 query (``MATCH`` + ``bm25()``, no
catch-up, no snippet) for both; ``grep -ril`` over the checked-out memory files for memory; and the
search letta-ls had before the index (every transcript read and every message scanned per call), to show
what the index changed. Targets: p95 < 50 ms for a query at 100k messages and at 10,000 files; a turn's
indexing < 2 ms.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

from bench.corpus import memory_corpus
from letta_ls.agent.conversation_search import searchable_text
from letta_ls.agent.messages import Message
from letta_ls.agent.transcript_writer import append_records, message_record
from letta_ls.agent.transcripts import TRANSCRIPTS
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.search.conversations import index_transcripts, search_conversations
from letta_ls.search.index import SearchIndex
from letta_ls.search.memory import index_memory, search_memory

AUTHOR = Author("Bench", "bench@letta-ls.local")
CONVERSATIONS = 200
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "pe", "do", "ga", "hi", "ja", "be", "fo"]
COMMON = ["the", "a", "to", "and", "of", "is", "in", "it", "for", "we", "this", "that", "you", "on", "with"]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def sentence(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    words = rng.choices(vocab, weights, k=rng.randint(10, 40))
    for n in range(0, len(words), 4):
        words[n] = rng.choice(COMMON)
    return " ".join(words)


def write_transcripts(directory: Path, total: int, seed: int = 14) -> tuple[list[str], list[float]]:
    """``total`` messages across ``CONVERSATIONS`` transcripts, written as the store writes them (Zipf words)."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    directory.mkdir(parents=True, exist_ok=True)
    per = max(1, total // CONVERSATIONS)
    for c in range(CONVERSATIONS):
        messages = [Message(role="user" if n % 2 == 0 else "assistant", content=sentence(rng, vocab, weights),
                            created=f"2025-{1 + c % 12:02d}-{1 + n % 28:02d}T10:00:00.000+00:00") for n in range(per)]
        append_records(directory / f"conv-{c:04x}.jsonl", [message_record(m) for m in messages], sync=False)
    return vocab, weights


def queries(rng: random.Random, vocab: list[str], count: int = 60) -> list[str]:
    """Frequent, middling and rare words, alone and in pairs and triples, as people type them."""
    out = []
    for n in range(count):
        band = [vocab[:20], vocab[20:500], vocab[500:]][n % 3]
        out.append(" ".join(rng.choice(band) for _ in range(1 + n % 3)))
    return out


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def stats(samples: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(samples) * 1000, 3), "p95_ms": round(percentile(samples, 95) * 1000, 3)}


def raw_fts(rows: list[tuple[str, ...]], columns: str) -> sqlite3.Connection:
    """The floor: a bare FTS5 table of the same texts, with nothing of letta-ls around it."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5({columns}, tokenize='unicode61 remove_diacritics 2')")
    db.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in columns.split(','))})", rows)
    return db


def raw_query(db: sqlite3.Connection, text: str) -> list:
    match = " AND ".join(f'"{word}"*' for word in text.split())
    return db.execute("SELECT rowid, bm25(t) AS s FROM t WHERE t MATCH ? ORDER BY s LIMIT 20", (match,)).fetchall()


def scan_before(directory: Path, text: str) -> list:
    """What conversation_search did before the index: read every transcript, scan every message."""
    words = text.casefold().split()
    hits = []
    for path in sorted(directory.glob("*.jsonl")):
        for message in TRANSCRIPTS.read(path).raw_messages():
            folded = searchable_text(message).casefold()
            if all(word in folded for word in words):
                hits.append(message.id)
    return hits


def bench_messages(tmp: Path, total: int) -> dict:
    agent_dir = tmp / f"messages-{total}"
    directory = agent_dir / "conversations"
    vocab, _weights = write_transcripts(directory, total)
    index = SearchIndex.for_agent(agent_dir)
    build = timed(index_transcripts, index, directory)
    asked = queries(random.Random(total), vocab)
    ours = [timed(search_conversations, index, directory, q) for q in asked]
    texts = [(searchable_text(m),) for path in sorted(directory.glob("*.jsonl"))
             for m in TRANSCRIPTS.read(path).raw_messages()]
    floor_db = raw_fts(texts, "text")
    floor = [timed(raw_query, floor_db, q) for q in asked]
    before = [timed(scan_before, directory, q) for q in asked[:6]]
    turn = []  # what a turn's end adds: index the two messages it appended to one transcript
    rng = random.Random(1)
    for n in range(40):
        conversation = f"conv-{n % CONVERSATIONS:04x}"
        append_records(directory / f"{conversation}.jsonl",
                       [message_record(Message(role="user", content=f"turn {n} " + rng.choice(vocab))),
                        message_record(Message(role="assistant", content=f"answer {n} " + rng.choice(vocab)))],
                       sync=False)
        turn.append(timed(index_transcripts, index, directory, conversation))
    query = stats(ours)
    return {"name": f"conversation_search over {len(texts):,} messages in {CONVERSATIONS} conversations",
            "messages": len(texts), "index_build_s": round(build, 2), **query,
            "floor_raw_fts5": stats(floor), "before_scan_p50_ms": stats(before)["p50_ms"],
            "turn_indexing": stats(turn), "target_p95_ms": 50.0, "target_turn_ms": 2.0,
            "meets_target": query["p95_ms"] < 50.0 and stats(turn)["p50_ms"] < 2.0}


def bench_memory(tmp: Path, n_files: int) -> dict:
    files = memory_corpus(n_files)
    agent_dir = tmp / f"memory-{n_files}"
    repo = MemoryRepo.create(agent_dir / "memory", files, AUTHOR)
    index = SearchIndex.for_agent(agent_dir)
    build = timed(index_memory, index, repo)
    rng = random.Random(n_files)
    words = sorted({w for text in list(files.values())[:200] for w in text.split() if w.isalpha() and len(w) > 3})
    asked = [" ".join(rng.choice(words) for _ in range(1 + n % 3)) for n in range(60)]
    asked += [f"part {rng.randrange(n_files)}" for _ in range(15)]
    ours = [timed(search_memory, index, repo, q) for q in asked]
    floor_db = raw_fts([(p, t) for p, t in files.items()], "path, body")
    floor = [timed(raw_query, floor_db, q) for q in asked]
    grep = [timed(subprocess.run, ["grep", "-ril", "--include=*.md", q.split()[0], str(repo.path)],
                  capture_output=True) for q in asked[:20]]
    commits = []  # a commit that changes one file: the catch-up diffs two HEADs and reads one blob
    path = next(p for p in files if p.startswith("reference/"))
    for n in range(10):
        repo.commit({path: (files[path] + f"\nEdit {n}: migrations now take {n} s.\n").encode()}, f"edit {n}", AUTHOR)
        commits.append(timed(index_memory, index, repo))
    query = stats(ours)
    return {"name": f"memory_search over {n_files:,} files", "files": n_files, "index_build_s": round(build, 2),
            **query, "floor_raw_fts5": stats(floor), "floor_grep_r": stats(grep), "commit_catch_up": stats(commits),
            "target_p95_ms": 50.0, "meets_target": query["p95_ms"] < 50.0}


def run(tmp: Path, *, quick: bool) -> list[dict]:
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    file_counts = (100, 1_000) if quick else (100, 1_000, 10_000)
    results = [bench_messages(tmp, total) for total in sizes]
    results += [bench_memory(tmp, count) for count in file_counts]
    return results


if __name__ == "__main__":  # python -m bench.search [--quick]
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="letta-bench-search-") as where:
        print(json.dumps(run(Path(where), quick="--quick" in sys.argv), indent=2))
