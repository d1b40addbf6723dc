"""What a person types, turned into an FTS5 query that cannot fail to parse.

FTS5 has its own syntax (``"``, ``AND``/``OR``/``NOT``, ``NEAR``, ``*``, ``^``, ``column:``, parentheses);
a user's ``"foo AND (bar`` must search for those words, not raise. So the query is cut into the words the
index's tokenizer (``unicode61``) would make, each word is quoted (a quoted string is always a plain term)
and words of three letters or more match as prefixes (``deploy`` finds ``deployment``, as the substring
search before it did). All words must match; when no message has them all, any of them will do, ranked
by BM25 (a search that finds nothing useful is worse than one that finds something close).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[^\W_]+")  # letters and digits: unicode61 splits on everything else, ``_`` included
PREFIX_MIN_CHARS = 3
MAX_WORDS = 32


RANK_WINDOW = 1000  # the most matches BM25 scores for one query (see ``window_start``)


def window_start(db: sqlite3.Connection, table: str, sql_from: str, where: str, params: list[Any],
                 window: int | None = None) -> int | None:
    """The first rowid to rank, so that BM25 scores at most ``RANK_WINDOW`` matches; None: rank them all.

    Scoring costs SQLite several microseconds a match, so a query made of words nearly every message holds
    (``the``, a project's name) would take a second over 100,000 messages. Finding the matches is cheap
    (posting lists, prefix indexes); so a query with more than ``RANK_WINDOW`` matches is ranked among its
    newest ``RANK_WINDOW`` (rows are appended in time order), which bounds the cost of any query
    (docs/benchmarks-search.md). Below that, and for every query with a rarer word, the ranking is BM25
    over all matches.
    ``window``: another size (memory files are longer than messages, so each costs more to score)."""
    found = db.execute(f"SELECT {table}.rowid FROM {sql_from} WHERE {where} ORDER BY {table}.rowid DESC "
                       "LIMIT 1 OFFSET ?", [*params, RANK_WINDOW if window is None else window]).fetchone()
    return None if found is None else found[0] + 1


def ranked_rows(db: sqlite3.Connection, query: FtsQuery, table: str, sql_from: str, select: str, order: str,
                limit: int, where_for: Callable[[str], tuple[str, list[Any]]], *, window_from: str | None = None,
                window: int | None = None) -> list[Any]:
    """``SELECT select FROM sql_from`` for the rows matching all of ``query``'s words or, when none does, any
    of them, best first by ``order``, ranked within ``window_start``'s window. ``where_for``: the WHERE
    clause and its parameters for an FTS5 query string; ``window_from``: the FROM clause the window is
    counted in (default ``table``)."""
    for fts in dict.fromkeys([query.all_words, query.any_word]):
        where, params = where_for(fts)
        start = window_start(db, table, window_from or table, where, params, window)
        if start is not None:
            where, params = f"{where} AND {table}.rowid >= ?", [*params, start]
        rows = db.execute(f"SELECT {select} FROM {sql_from} WHERE {where} ORDER BY {order} LIMIT ?",
                          [*params, limit]).fetchall()
        if rows:
            return rows
    return []


@dataclass(frozen=True)
class FtsQuery:
    words: tuple[str, ...]

    @property
    def all_words(self) -> str:
        return " AND ".join(self._terms())

    @property
    def any_word(self) -> str:
        return " OR ".join(self._terms())

    def _terms(self) -> list[str]:
        return [f'"{word}"*' if len(word) >= PREFIX_MIN_CHARS else f'"{word}"' for word in self.words]


def parse_query(text: str) -> FtsQuery | None:
    """The words of ``text`` as a safe FTS5 query; None when it has no word to search for."""
    words = tuple(dict.fromkeys(word.casefold() for word in _WORD.findall(text or "")))[:MAX_WORDS]
    return FtsQuery(words) if words else None


def matching_line(text: str, words: tuple[str, ...], first_line: int = 1) -> tuple[int, str] | None:
    """The first line of ``text`` holding the most of ``words`` (as word prefixes): its number, counted
    from ``first_line``, and its text. None when no line holds any."""
    best: tuple[int, int, str] | None = None
    patterns = [re.compile(r"(?<![^\W_])" + re.escape(word), re.IGNORECASE) for word in words]
    for number, line in enumerate(text.splitlines(), first_line):
        found = sum(1 for pattern in patterns if pattern.search(line))
        if found and (best is None or found > best[0]):
            best = (found, number, line)
            if found == len(patterns):
                break
    return (best[1], best[2]) if best else None
