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
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")  # letters and digits: unicode61 splits on everything else, ``_`` included
PREFIX_MIN_CHARS = 3
MAX_WORDS = 32


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
