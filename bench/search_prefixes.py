"""Before/after of the search index's prefix indexes in one run (issue 14): ``conversation_search`` over the same
messages from two indexes, one built with the old prefix indexes (``3 4 5``) and one with the current ones, the
queries of ``bench/search.py`` alternating between them, beside the raw FTS5 floor; and whether both answer
every query with the same messages in the same order.

``python -m bench.search_prefixes [MESSAGES] [ROUNDS]`` (default 100,000 and 3); prints one JSON line per round.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import letta_ls.search.index as search_index
from bench.search import percentile, queries, raw_fts, raw_query, timed, vocabulary, write_transcripts
from letta_ls.agent.conversation_search import searchable_text
from letta_ls.agent.transcripts import TRANSCRIPTS
from letta_ls.search.conversations import index_transcripts, search_conversations

OLD_PREFIXES = "3 4 5"


def main(total: int, rounds: int, tmp: Path) -> None:
    source = tmp / "conversations"
    write_transcripts(source, total)
    current = list(search_index.SCHEMA)
    old = [statement.replace(f"prefix='{search_index.PREFIXES}'", f"prefix='{OLD_PREFIXES}'") for statement in current]
    indexes = {}
    for label, schema in (("before", old), ("after", current)):
        directory = tmp / label / "conversations"
        shutil.copytree(source, directory)
        search_index.SCHEMA = schema  # the index file is created with this schema on first use
        index = search_index.SearchIndex.for_agent(tmp / label)
        build = timed(index_transcripts, index, directory)
        indexes[label] = (index, directory)
        print(json.dumps({"index": label, "build_s": round(build, 2)}), flush=True)
    search_index.SCHEMA = current
    asked = queries(random.Random(total), vocabulary(random.Random(14)))
    same = sum([(h.message_id, h.rank) for h in search_conversations(*indexes["before"], q)]
               == [(h.message_id, h.rank) for h in search_conversations(*indexes["after"], q)] for q in asked)
    print(json.dumps({"same_results": same, "queries": len(asked)}), flush=True)
    texts = [(searchable_text(m),) for path in sorted(source.glob("*.jsonl"))
             for m in TRANSCRIPTS.read(path).raw_messages()]
    floor_db = raw_fts(texts, "text")
    for _ in range(rounds):
        times: dict[str, list[float]] = {"before": [], "after": [], "raw_fts5": []}
        for query in asked:
            for label in ("before", "after"):
                times[label].append(timed(search_conversations, *indexes[label], query))
            times["raw_fts5"].append(timed(raw_query, floor_db, query))
        print(json.dumps({label: {"p50_ms": round(statistics.median(v) * 1000, 2),
                                  "p95_ms": round(percentile(v, 95) * 1000, 2)} for label, v in times.items()}),
              flush=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="letta-bench-prefixes-") as where:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3,
             Path(where))
