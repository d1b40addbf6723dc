"""The same passage in two memory files: ``duplicate-content``.

Duplicated memory costs tokens twice and drifts: one copy gets updated, the other goes stale. A
passage is a paragraph (a run of non-blank body lines between blank lines, headings and code fences)
of at least ~200 characters or two sentences, or a run of three identical substantial lines anywhere.
Text is compared after normalising case, whitespace and list/quote markers; frontmatter, headings,
fence lines and short lines never count.

Exact copies are found by hashing each passage. Near copies (the same paragraph lightly edited) are
found in two steps. Each long paragraph is indexed under a MinHash sketch of its vocabulary: the six
smallest hashes of its distinct words, common English words left out. Paragraphs
whose word sets have Jaccard similarity J share at least two of those six with probability about
1 - (1-J)^6 - 6J(1-J)^5 (0.999 at J = 0.85, typical of a lightly edited copy), and only those
candidates are compared on word 3-gram shingles (similarity >= 0.5; unrelated paragraphs score
under 0.05, a copy with three words changed about 0.6), computed on demand and cached.
Everything is O(total text) with hashing, and the index is kept up to date incrementally per
snapshot ``head`` (only files whose blob changed are re-indexed), so checking one editor buffer
against 2,000 files costs a few dictionary look-ups.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from letta_ls.doctor.checks.common import BlobCache, CheckContext, finding, is_markdown, scan_file
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot

MIN_PASSAGE_CHARS = 200
MIN_SENTENCES_CHARS = 80
MIN_LINE_CHARS = 20
NEAR_THRESHOLD = 0.5
ANCHORS = 6
MIN_SHARED_ANCHORS = 2
MAX_BUCKET = 64  # an anchor shared by more paragraphs than this is boilerplate, not a lead
MAX_FINDINGS_PER_FILE = 10
# common words say nothing about which paragraph a word set comes from; left out of the sketch
_STOPWORDS = (
    "a an and are as at be but by can do for from has have he her his i if in into is it its me my no not of on "
    "or our she so that the their them then there these they this to up us was we were what when which who will "
    "with you your also about after all any because been before both each had how just like make more most "
    "must only other over same should some such than those through very where while would use used using "
    "could does did done get gets got one two new see"
)
_STOP_HASHES = frozenset(map(hash, _STOPWORDS.split()))

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
        anchors = sorted(set(map(hash, text.split())) - _STOP_HASHES)[:ANCHORS]
        if len(anchors) >= MIN_SHARED_ANCHORS:
            return Unit(start, end, hash(text), text, tuple(anchors))
    return Unit(start, end, hash(text), None, ())


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
    norms = [" ".join(t.split()) for t in _MARKERS.sub("", "\n".join(lines[start:])).lower().split("\n")]
    if "--" in "".join(norms):
        norms = ["" if t[:1] in "|:-" and _TABLE_RULE.match(t) else t for t in norms]
    hard = {line for line, _level, _text in scan.headings}
    hard.update(i for i in range(start, n) if scan.fence[i])
    # passages: blocks of lines between blank lines, headings, fences and horizontal rules
    bounds = [
        i for i, t in enumerate(norms, start)
        if not t or i in hard or (t[0] in _HR_FIRST and not code[i] and _HR.match(t) is not None)
    ]
    units: list[Unit] = []
    previous = start - 1
    for bound in [*bounds, n]:
        first, previous = previous + 1, bound
        if bound > first:
            text = " ".join(t for t in norms[first - start : bound - start] if t)
            if text:
                unit = _unit(first, bound - 1, text, code[first])
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


_PASSAGES: BlobCache[Passages] = BlobCache()


def passages_of(file: MemoryFile) -> Passages:
    return _PASSAGES.get(file.blob, lambda: _passages(file))


class PassageIndex:
    """Which files hold which passages; brought up to date with a snapshot by re-indexing changed files."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}
        self.passages: dict[str, Passages] = {}
        self.exact: dict[int, dict[str, int]] = {}  # unit hash -> {path: unit index}
        self.runs: dict[int, dict[str, int]] = {}  # run hash -> {path: run index}
        self.anchors: dict[int, set[tuple[str, int]]] = {}
        self.lock = threading.Lock()
        self.current: MemorySnapshot | None = None  # the snapshot the index was last brought up to date with

    def sync(self, snapshot: MemorySnapshot) -> None:
        current = {f.path: f for f in snapshot if is_markdown(f.path) and f.text is not None}
        for path in [p for p, blob in self.blobs.items() if p not in current or current[p].blob != blob]:
            self._remove(path)
        for path, file in current.items():
            if path not in self.blobs:
                self._add(path, file)

    def _add(self, path: str, file: MemoryFile) -> None:
        passages = passages_of(file)
        self.blobs[path] = file.blob
        self.passages[path] = passages
        for idx, unit in enumerate(passages.units):
            self.exact.setdefault(unit.key, {}).setdefault(path, idx)
            for anchor in unit.anchors:
                self.anchors.setdefault(anchor, set()).add((path, idx))
        for idx, (key, _first, _last) in enumerate(passages.runs):
            self.runs.setdefault(key, {}).setdefault(path, idx)

    def _remove(self, path: str) -> None:
        passages = self.passages.pop(path)
        del self.blobs[path]
        for idx, unit in enumerate(passages.units):
            holders = self.exact.get(unit.key)
            if holders is not None and holders.get(path) == idx:
                del holders[path]
                if not holders:
                    del self.exact[unit.key]
            for anchor in unit.anchors:
                bucket = self.anchors.get(anchor)
                if bucket is not None:
                    bucket.discard((path, idx))
                    if not bucket:
                        del self.anchors[anchor]
        for idx, (key, _first, _last) in enumerate(passages.runs):
            holders = self.runs.get(key)
            if holders is not None and holders.get(path) == idx:
                del holders[path]
                if not holders:
                    del self.runs[key]

    def matches(self, path: str) -> list[tuple[int, int, str, int, bool]]:
        """(first line, last line, other path, other line, exact) for each passage of ``path`` found elsewhere.

        Exact copies of whole paragraphs come first, then exact runs of lines outside them, then near
        copies of paragraphs that hold neither (an exact run is more precise than a near paragraph).
        """
        mine = self.passages.get(path)
        if mine is None:
            return []
        out: list[tuple[int, int, str, int, bool]] = []
        exact_spans: dict[str, list[tuple[int, int]]] = {}
        for unit in mine.units:
            for other, idx in (self.exact.get(unit.key) or {}).items():
                if other != path:
                    out.append((unit.start, unit.end, other, self.passages[other].units[idx].start, True))
                    exact_spans.setdefault(other, []).append((unit.start, unit.end))
        for key, first, last in mine.runs:
            for other, idx in (self.runs.get(key) or {}).items():
                if other == path or any(a <= first and last <= b for a, b in exact_spans.get(other, ())):
                    continue
                out.append((first, last, other, self.passages[other].runs[idx][1], True))
                exact_spans.setdefault(other, []).append((first, last))
        for unit in mine.units:
            if unit.anchors:
                out.extend(self._near(path, unit, exact_spans))
        return out

    def _near(
        self, path: str, unit: Unit, exact_spans: dict[str, list[tuple[int, int]]]
    ) -> list[tuple[int, int, str, int, bool]]:
        hits: dict[tuple[str, int], int] = {}
        for anchor in unit.anchors:
            bucket = self.anchors.get(anchor)
            if bucket and len(bucket) <= MAX_BUCKET:
                for entry in bucket:
                    hits[entry] = hits.get(entry, 0) + 1
        out: list[tuple[int, int, str, int, bool]] = []
        size = len(unit.text or "")
        mine: frozenset[int] | None = None
        for (other, idx), count in hits.items():
            if count < MIN_SHARED_ANCHORS or other == path:
                continue
            if any(a <= unit.end and unit.start <= b for a, b in exact_spans.get(other, ())):
                continue  # already reported as an exact copy
            other_unit = self.passages[other].units[idx]
            if not 0.6 * size <= len(other_unit.text or "") <= size / 0.6:
                continue
            mine = shingles_of(unit) if mine is None else mine
            theirs = shingles_of(other_unit)
            inter = len(mine & theirs)
            union = len(mine) + len(theirs) - inter
            if union and inter / union >= NEAR_THRESHOLD:
                out.append((unit.start, unit.end, other, other_unit.start, False))
        return out


_INDEXES: OrderedDict[str | None, PassageIndex] = OrderedDict()
_INDEXES_LOCK = threading.Lock()
MAX_INDEXES = 8


def _index_for(snapshot: MemorySnapshot) -> PassageIndex:
    with _INDEXES_LOCK:
        index = _INDEXES.get(snapshot.head)
        if index is None:
            index = _INDEXES[snapshot.head] = PassageIndex()
            while len(_INDEXES) > MAX_INDEXES:
                _INDEXES.popitem(last=False)
        else:
            _INDEXES.move_to_end(snapshot.head)
        return index


def duplicate_matches(ctx: CheckContext, path: str) -> list[tuple[int, int, str, int, bool]]:
    index = _index_for(ctx.snapshot)
    with index.lock:
        if index.current is not ctx.snapshot:
            index.sync(ctx.snapshot)
            index.current = ctx.snapshot
        return index.matches(path)


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    if not ctx.enabled("duplicate-content") or not is_markdown(file.path) or file.text is None:
        return []
    if not passages_of(file).units and not passages_of(file).runs:
        return []
    matches = duplicate_matches(ctx, file.path)
    if not matches:
        return []
    # merge neighbouring passages found in the same other file into one stretch
    by_other: dict[str, list[tuple[int, int, int, bool]]] = {}
    for first, last, other, other_line, exact in sorted(matches):
        stretches = by_other.setdefault(other, [])
        if stretches and first <= stretches[-1][1] + 2:
            a, b, o, e = stretches[-1]
            stretches[-1] = (a, max(b, last), o, e and exact)
        else:
            stretches.append((first, last, other_line, exact))
    # one finding per stretch of this file, naming every other file that holds it
    by_stretch: dict[tuple[int, int], list[tuple[str, int, bool]]] = {}
    for other, stretches in by_other.items():
        for first, last, other_line, exact in stretches:
            by_stretch.setdefault((first, last), []).append((other, other_line, exact))
    lines = scan_file(file).lines  # type: ignore[union-attr]
    out = []
    for (first, last), others in sorted(by_stretch.items())[:MAX_FINDINGS_PER_FILE]:
        others.sort()
        other, other_line, exact = others[0]
        span = f"line {first + 1}" if first == last else f"lines {first + 1}–{last + 1}"
        also = f" (and {len(others) - 1} more file{'s' if len(others) > 2 else ''})" if len(others) > 1 else ""
        same = "is repeated" if exact else "is nearly the same as a passage"
        out.append(finding(
            "duplicate-content", file.path, first,
            f"This passage ({span}) {same} in `{other}` at line {other_line + 1}{also}. Keep it in one file "
            f"and link to it with [[{other}]] from the other, so the copies cannot drift apart.",
            end_line=last, end_column=len(lines[last]),
        ))
    return out
