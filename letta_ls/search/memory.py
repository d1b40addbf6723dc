"""Memory files in the search index: kept at the repository's HEAD by blob id, searched by BM25.

The index records the commit its memory rows describe (``state.memory_head``) and the process that wrote
them (``state.memory_indexed_by``: the server hands a large memory's catch-up to its worker process).
Catching up to a newer HEAD asks git what changed between the two (``git diff-tree``) and rewrites only
those paths, reading just their blobs; when the old commit is unknown (a first index, a rewritten
history) it compares every path's blob id at HEAD (``git ls-tree``) with the rows and still rewrites
only the paths that differ. So a commit costs the index the files it touched, not the memory's size.
Reading HEAD costs no process (``MemoryRepo.head`` reads the ref files), so a search on an unchanged
memory spawns no git at all.
Text files are indexed whole (path, frontmatter ``description``, body); binary files are left out.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from letta_ls.memfs.git_plumbing import parse_ls_tree
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.memfs.repo_errors import MemoryRepoError
from letta_ls.memfs.snapshot import DOCUMENTS, decode_text
from letta_ls.search.index import SearchIndex, write_transaction
from letta_ls.search.query import matching_line, parse_query, ranked_rows

SNIPPET_TOKENS = 24
ELLIPSIS = "…"
WEIGHTS = (2.0, 4.0, 1.0)  # bm25 column weights: path, description, body (a description says what it is for)
ZERO_BLOB = "0" * 40
RANK_WINDOW_FILES = 500  # a file is ~10x a message to score: the same budget as ``query.RANK_WINDOW``


@dataclass(frozen=True)
class MemoryHit:
    """One matching memory file: its best line (1-based, in the whole file), a snippet, its score."""

    path: str
    line: int
    text: str
    description: str
    snippet: str
    score: float  # BM25, higher is better
    rank: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "text": self.text, "description": self.description,
                "snippet": self.snippet, "score": round(self.score, 4), "rank": self.rank}


def _changed_paths(repo: MemoryRepo, old: str, new: str) -> dict[str, str | None] | None:
    """``{path: new blob id, or None when deleted}`` between two commits; None when git cannot tell."""
    try:
        out = repo.run_git("diff-tree", "-r", "-z", "--no-renames", old, new)
    except MemoryRepoError:
        return None
    fields = out.split(b"\0")
    changes: dict[str, str | None] = {}
    for header, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = header.decode().lstrip(":").split()
        if len(parts) < 5:
            continue
        new_mode, blob = parts[1], parts[3]
        changes[path.decode("utf-8", "surrogateescape")] = None if blob == ZERO_BLOB or new_mode == "160000" else blob
    return changes


def _all_paths(db: sqlite3.Connection, repo: MemoryRepo, head: str) -> dict[str, str | None]:
    """Every path whose blob at ``head`` differs from its row, and every row no longer at ``head``."""
    tree = parse_ls_tree(repo.run_git("ls-tree", "-r", "-z", "--full-tree", head))
    rows = dict(db.execute("SELECT path, blob FROM memory_rows"))
    changes: dict[str, str | None] = {path: blob for path, blob in tree.items() if rows.get(path) != blob}
    changes.update({path: None for path in rows if path not in tree})
    return changes


def _row(path: str, blob: str, data: bytes) -> tuple[str, str, str, str, str] | None:
    text = decode_text(data)
    if text is None:
        return None
    document = DOCUMENTS.get(blob, text)
    description = document.fields.get("description")
    return (path, blob, description.strip() if isinstance(description, str) else "", document.body, text)


def _catch_up(db: sqlite3.Connection, repo: MemoryRepo) -> str | None:
    """Bring the memory rows to ``repo``'s HEAD; returns the HEAD indexed."""
    head = repo.head()
    indexed = _indexed_head(db)
    if head is None or head == indexed:
        return indexed
    changes = _changed_paths(repo, indexed, head) if indexed else None
    with write_transaction(db):
        if _indexed_head(db) != indexed:  # another process caught up meanwhile: start from where it got to
            indexed = _indexed_head(db)
            if indexed == head:
                return head
            changes = None
        if changes is None:
            changes = _all_paths(db, repo, head)
        blobs = repo.read_blobs([blob for blob in changes.values() if blob is not None])
        for path, blob in changes.items():
            db.execute("DELETE FROM memory_rows WHERE path = ?", (path,))
            row = _row(path, blob, blobs[blob]) if blob is not None else None
            if row is not None:
                db.execute("INSERT INTO memory_rows(path, blob, description, body, text) VALUES (?, ?, ?, ?, ?)",
                           row)
        for key, value in (("memory_head", head), ("memory_indexed_by", str(os.getpid()))):
            db.execute("INSERT INTO state(key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
    return head


def _indexed_head(db: sqlite3.Connection) -> str | None:
    found = db.execute("SELECT value FROM state WHERE key = 'memory_head'").fetchone()
    return found[0] if found else None


def indexed_head(index: SearchIndex) -> str | None:
    """The commit the index's memory rows describe (None: never indexed)."""
    return index.run(_indexed_head)


def index_memory(index: SearchIndex, repo: MemoryRepo) -> str | None:
    """Catch the index up with the memory repository's HEAD (after a commit); returns that HEAD."""
    return index.run(lambda db: _catch_up(db, repo))


def _search(db: sqlite3.Connection, repo: MemoryRepo, text: str, limit: int) -> list[MemoryHit]:
    _catch_up(db, repo)
    query = parse_query(text)
    if query is None or limit <= 0:
        return []
    weights = ", ".join(str(w) for w in WEIGHTS)
    sql_from = "memory_fts JOIN memory_rows r ON r.id = memory_fts.rowid"
    # rows are in order of last change, so a query that matches most files ranks the latest changed
    rows = ranked_rows(
        db, query, "memory_fts", sql_from,
        "r.path, r.description, r.text, r.body, "
        f"snippet(memory_fts, -1, '', '', '{ELLIPSIS}', {SNIPPET_TOKENS}), bm25(memory_fts, {weights}) AS score",
        "score, r.path", limit, lambda fts: ("memory_fts MATCH ?", [fts]), window=RANK_WINDOW_FILES)
    hits = []
    for rank, (path, description, full, body, snippet, score) in enumerate(rows, 1):
        line, line_text = _best_line(full, body, query.words)
        hits.append(MemoryHit(path, line, line_text.strip(), description, " ".join(snippet.split()), -score, rank))
    return hits


def _best_line(text: str, body: str, words: tuple[str, ...]) -> tuple[int, str]:
    """The line to show for a file: the best one of its body, else of its frontmatter, else its first."""
    body_line = text[:len(text) - len(body)].count("\n") + 1 if body and text.endswith(body) else 1
    return (matching_line(body, words, body_line) if body_line > 1 else None) or matching_line(text, words) \
        or (1, text.split("\n", 1)[0])


def search_memory(index: SearchIndex, repo: MemoryRepo, query: str, *, limit: int = 20) -> list[MemoryHit]:
    """The memory files matching ``query`` at HEAD, best first (BM25), after catching up with git."""
    return index.run(lambda db: _search(db, repo, query, limit))
