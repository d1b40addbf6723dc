"""The passages the duplicate check compares, extracted from one file and cached by blob id.

A passage is a paragraph (a run of non-blank body lines between blank lines, headings and code fences)
of at least ~200 characters or two sentences, or a run of three identical substantial lines anywhere.
Text is normalised (case, whitespace, list/quote markers); frontmatter, headings, fence lines and short
lines never count. A long prose paragraph also carries a MinHash-style sketch (the six smallest hashes of
its uncommon words) so near copies can be found through an index instead of by comparing pairs.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import NamedTuple

from letta_ls.doctor.checks.common import BlobCache, scan_file
from letta_ls.memfs.snapshot import MemoryFile

MIN_PASSAGE_CHARS = 200
MIN_SENTENCES_CHARS = 80
MIN_LINE_CHARS = 20
ANCHORS = 6
MIN_SHARED_ANCHORS = 2
# common words say nothing about which paragraph a word set comes from; left out of the sketch
_STOPWORDS = (
    "a an and are as at be but by can do for from has have he her his i if in into is it its me my no not of on "
    "or our she so that the their them then there these they this to up us was we were what when which who will "
    "with you your also about after all any because been before both each had how just like make more most "
    "must only other over same should some such than those through very where while would use used using "
    "could does did done get gets got one two new see"
)
_STOP_WORDS = frozenset(_STOPWORDS.split())

_MARKERS = re.compile(r"^[ \t]*(?:[-*+][ \t]+(?:\[[ xX]\][ \t]+)?|\d+[.)][ \t]+|>[ \t]*)+", re.M)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_HR = re.compile(r"^(?:[-*_] ?){3,}$")  # on normalised text
_HR_FIRST = frozenset("-*_")


class Unit(NamedTuple):
    """A paragraph: its lines [start, end], the hash of its normalised text, and for a long prose
    paragraph the text itself (for shingles) and its sketch (the smallest hashes of its uncommon words)."""

    start: int
    end: int
    key: int
    text: str | None
    anchors: tuple[int, ...]


@dataclass(frozen=True)
class Passages:
    units: tuple[Unit, ...]
    runs: tuple[tuple[int, int, int], ...]  # (hash of three significant lines, first line, last line)


def _unit(start: int, end: int, text: str, is_code: bool) -> Unit | None:
    long_enough = len(text) >= MIN_PASSAGE_CHARS
    if not long_enough and (
        is_code or len(text) < MIN_SENTENCES_CHARS or len(_SENTENCE_END.findall(text)) < 2
    ):
        return None
    if long_enough and not is_code:
        anchors = _ANCHORS.get(text)
        if anchors is None:
            anchors = _anchors(text)
            if len(_ANCHORS) >= _ANCHORS_KEPT:
                _ANCHORS.clear()
            _ANCHORS[text] = anchors
        if len(anchors) >= MIN_SHARED_ANCHORS:
            return Unit(start, end, hash(text), text, anchors)
    return Unit(start, end, hash(text), None, ())


# a paragraph's sketch by its normalised text: the cost of a memory of copies (a shared header, a note pasted
# into many files) is then one sketch per distinct paragraph, not one per copy
_ANCHORS: dict[str, tuple[int, ...]] = {}
_ANCHORS_KEPT = 100_000


def _anchors(text: str) -> tuple[int, ...]:
    # distinct words first (a string caches its hash, so each word is hashed once), stopwords dropped as strings;
    # distinct words have distinct hashes but for a 64-bit collision, so no second set of hashes is built
    words = set(text.split())
    words -= _STOP_WORDS
    return tuple(sorted(map(hash, words))[:ANCHORS])


_SHINGLES: BlobCache[frozenset[int]] = BlobCache(20_000)


def shingles_of(unit: Unit) -> frozenset[int]:
    """The paragraph's word 3-grams, hashed; computed only for candidates of a near-copy, then cached."""

    def compute() -> frozenset[int]:
        words = (unit.text or "").split()
        return frozenset(map(hash, zip(words, words[1:], words[2:], strict=False)))

    return _SHINGLES.get(unit.key, compute)


def _passages(file: MemoryFile) -> Passages:
    scan = scan_file(file)
    if scan is None:
        return Passages((), ())
    lines, code = scan.lines, scan.code
    n, start = len(lines), scan.body_start
    if start >= n:
        return Passages((), ())
    # every body line normalised at once: list/quote markers dropped, lowercased, whitespace collapsed
    norms = normalised_lines(_MARKERS.sub("", "\n".join(lines[start:])).lower())
    if "--" in "".join(norms):
        norms = ["" if t[:1] in "|:-" and _TABLE_RULE.match(t) else t for t in norms]
    hard = {line for line, _level, _text in scan.headings}
    hard.update(itertools.compress(range(start, n), scan.fence[start:]))
    # passages: blocks of lines between blank lines, headings, fences and horizontal rules
    bounds = [
        i for i, t in enumerate(norms, start)
        if not t or i in hard or (t[0] in _HR_FIRST and not code[i] and _HR.match(t) is not None)
    ]
    units: list[Unit] = []
    previous = start - 1
    for bound in [*bounds, n]:
        first, previous = previous + 1, bound
        if bound > first:  # every blank line is a bound, so the lines between two bounds all hold text
            unit = _unit(first, bound - 1, " ".join(norms[first - start : bound - start]), code[first])
            if unit is not None:
                units.append(unit)
    # runs of three consecutive substantial lines; blank lines between them are allowed, headings,
    # fences and short lines end a run
    seq = [(i, t if len(t) >= MIN_LINE_CHARS and i not in hard else "") for i, t in enumerate(norms, start)
           if t or i in hard]
    runs = tuple(
        (hash((a[1], b[1], c[1])), a[0], c[0])
        for a, b, c in zip(seq, seq[1:], seq[2:], strict=False) if a[1] and b[1] and c[1]
    )
    return Passages(tuple(units), runs)


_ODD_SPACES = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def normalised_lines(body: str) -> list[str]:
    """Each line of ``body`` with its whitespace collapsed to single spaces and trimmed (``" ".join(line.split())``).

    Most memory text is ASCII with single spaces: then a line needs at most its ends trimmed, and the split and
    join of every line (a fifth of the cold duplicate check) is left to the text that needs it."""
    if body.isascii() and "  " not in body and not any(space in body for space in _ODD_SPACES):
        return [t.strip(" ") if t[:1] == " " or t[-1:] == " " else t for t in body.split("\n")]
    return [" ".join(t.split()) for t in body.split("\n")]


_PASSAGES: BlobCache[Passages] = BlobCache()


def passages_of(file: MemoryFile) -> Passages:
    return _PASSAGES.get(file.blob, lambda: _passages(file))


def keep_passages(blob: str, passages: Passages) -> None:
    """Keep the passages of a blob computed in another process (a forked half of an audit)."""
    _PASSAGES.put(blob, passages)


