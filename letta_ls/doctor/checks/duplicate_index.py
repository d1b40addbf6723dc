"""Which files hold which passages, and the groups of copies they form, kept per snapshot ``head``.

The duplicate check used to ask, for every file, which *other files* hold each of its passages: on a
memory of 2,000 identical files that is 2,000 × 1,999 answers, and the doctor grew with the square of
the files (issue 14). Here every passage is hashed into an index once (only files whose blob changed
are re-indexed when the snapshot moves), and the copies are resolved into **groups** in one pass over
the index: all holders of one exact passage (or one run of three identical lines) form a group, and
paragraphs that are near copies of each other (found through their MinHash anchors, confirmed on word
3-gram shingles) are joined with a union-find into one near group. Each file then gets one hit per
group it belongs to, holding a reference to the shared group, so the work and the memory grow with the
total text, not with the pairs of files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from letta_ls.doctor.checks.common import is_markdown
from letta_ls.doctor.checks.passages import MIN_SHARED_ANCHORS, Passages, Unit, passages_of, shingles_of
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot

NEAR_THRESHOLD = 0.5
MAX_BUCKET = 64  # an anchor shared by more paragraphs than this is boilerplate, not a lead


@dataclass(frozen=True, eq=False)
class DuplicateGroup:
    """Files holding the same passage: each member's path with the (0-based) line where its copy starts.

    ``exact`` is False for a group of near copies (the same paragraph lightly edited). Members are sorted
    by path, one entry per file.
    """

    members: tuple[tuple[str, int], ...]
    exact: bool
    ident: int = field(default=0, compare=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DuplicateGroup) and (self.members, self.exact) == (other.members, other.exact)

    def __hash__(self) -> int:
        return hash((self.members, self.exact))


class Hit(NamedTuple):
    """One passage of a file (lines ``first``..``last``) that belongs to ``group``."""

    first: int
    last: int
    group: DuplicateGroup


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        while parent != item:
            grand = self.parent[parent]
            self.parent[item] = grand
            item, parent = parent, grand
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


class PassageIndex:
    """The passages of one snapshot's files, brought up to date by re-indexing the files that changed."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}
        self.passages: dict[str, Passages] = {}
        self.exact: dict[int, dict[str, int]] = {}  # unit hash -> {path: unit index}
        self.runs: dict[int, dict[str, int]] = {}  # run hash -> {path: run index}
        self.anchors: dict[int, set[tuple[str, int]]] = {}
        self.lock = threading.Lock()
        self.current: MemorySnapshot | None = None  # the snapshot the index was last brought up to date with
        self._hits: dict[str, list[Hit]] | None = None  # resolved groups; None after a change
        self._groups: list[DuplicateGroup] = []
        # near-copy candidates of each paragraph (by text hash), valid while none of its anchors' buckets
        # changed: a commit re-examines only the paragraphs that share an anchor with what it changed
        self._near: dict[int, list[int]] = {}
        self._dirty: set[int] = set()

    def copy(self) -> PassageIndex:
        """A new index holding this one's passages (for the next ``HEAD``: only what changed is re-indexed)."""
        other = PassageIndex()
        with self.lock:
            other.blobs = dict(self.blobs)
            other.passages = dict(self.passages)
            other.exact = {key: dict(holders) for key, holders in self.exact.items()}
            other.runs = {key: dict(holders) for key, holders in self.runs.items()}
            other.anchors = {anchor: set(bucket) for anchor, bucket in self.anchors.items()}
            other._near = dict(self._near)
            other._dirty = set(self._dirty)
        return other

    # --- keeping the index up to date ------------------------------------------------------------
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
        self._hits = None
        # get-then-create rather than setdefault(key, {}): setdefault builds a new container on every call,
        # and a cold audit of 10,000 files makes ~100,000 of these calls
        exact, anchors, dirty = self.exact, self.anchors, self._dirty
        for idx, unit in enumerate(passages.units):
            holders = exact.get(unit.key)
            if holders is None:
                exact[unit.key] = {path: idx}
            elif path not in holders:
                holders[path] = idx
            for anchor in unit.anchors:
                bucket = anchors.get(anchor)
                if bucket is None:
                    bucket = anchors[anchor] = set()
                bucket.add((path, idx))
                if len(bucket) <= MAX_BUCKET + 1:  # a bucket over the cap before and after is never read
                    dirty.add(anchor)
        runs = self.runs
        for idx, (key, _first, _last) in enumerate(passages.runs):
            holders = runs.get(key)
            if holders is None:
                runs[key] = {path: idx}
            elif path not in holders:
                holders[path] = idx

    def _remove(self, path: str) -> None:
        passages = self.passages.pop(path)
        del self.blobs[path]
        self._hits = None
        for idx, unit in enumerate(passages.units):
            _drop(self.exact, unit.key, path, idx)
            for anchor in unit.anchors:
                bucket = self.anchors.get(anchor)
                if bucket is not None:
                    bucket.discard((path, idx))
                    if len(bucket) <= MAX_BUCKET:
                        self._dirty.add(anchor)
                    if not bucket:
                        del self.anchors[anchor]
        for idx, (key, _first, _last) in enumerate(passages.runs):
            _drop(self.runs, key, path, idx)

    # --- resolving the groups --------------------------------------------------------------------
    def hits(self, path: str) -> list[Hit]:
        """The passages of ``path`` that other files hold too, each with its group."""
        if self._hits is None:
            self._resolve()
        return self._hits.get(path, []) if self._hits is not None else []

    def groups(self) -> list[DuplicateGroup]:
        if self._hits is None:
            self._resolve()
        return list(self._groups)

    def _resolve(self) -> None:
        interned: dict[tuple[frozenset[str], bool], DuplicateGroup] = {}
        paths_of: dict[int, frozenset[str]] = {}
        hits: dict[str, list[Hit]] = {}

        def group_of(members: dict[str, int], exact: bool) -> DuplicateGroup:
            key = (frozenset(members), exact)
            group = interned.get(key)
            if group is None:
                group = interned[key] = DuplicateGroup(tuple(sorted(members.items())), exact, len(interned))
                paths_of[group.ident] = key[0]
            return group

        exact_spans: dict[str, list[tuple[int, int]]] = {}
        for holders in self.exact.values():
            if len(holders) < 2:
                continue
            lines = {p: self.passages[p].units[i].start for p, i in holders.items()}
            group = group_of(lines, True)
            for p, i in holders.items():
                unit = self.passages[p].units[i]
                hits.setdefault(p, []).append(Hit(unit.start, unit.end, group))
                exact_spans.setdefault(p, []).append((unit.start, unit.end))
        for holders in self.runs.values():
            if len(holders) < 2:
                continue
            lines = {p: self.passages[p].runs[i][1] for p, i in holders.items()}
            group: DuplicateGroup | None = None
            for p, i in holders.items():
                _key, first, last = self.passages[p].runs[i]
                if any(a <= first and last <= b for a, b in exact_spans.get(p, ())):
                    continue  # inside a paragraph already reported as an exact copy
                group = group or group_of(lines, True)
                hits.setdefault(p, []).append(Hit(first, last, group))
        self._resolve_near(hits, group_of, paths_of)
        for found in hits.values():
            found.sort(key=lambda hit: (hit.first, hit.last, hit.group.ident))
        self._hits = hits
        # distinct groups by their ident (hashing a group hashes its members: once per file would be quadratic)
        distinct = {h.group.ident: h.group for found in hits.values() for h in found}
        self._groups = sorted(distinct.values(), key=lambda g: (g.members[0], not g.exact, len(g.members)))

    def _resolve_near(self, hits: dict[str, list[Hit]], group_of, paths_of: dict[int, frozenset[str]]) -> None:
        """Join near-copy paragraphs into components; a component adds a hit where it names new files.

        A paragraph whose every near copy is already reported as an exact copy (the same lines in a list
        that otherwise differs) gets no near hit: the exact stretch is the more precise report.
        """
        links = _UnionFind()
        dirty, self._dirty = self._dirty, set()
        if len(self._near) > 2 * len(self.exact) + 1024:  # forget paragraphs no file holds any more
            self._near = {key: found for key, found in self._near.items() if key in self.exact}
        for key, holders in self.exact.items():
            path, idx = next(iter(holders.items()))
            unit = self.passages[path].units[idx]
            if not unit.anchors:
                continue
            near = self._near.get(key)
            if near is None or not dirty.isdisjoint(unit.anchors):
                near = self._near[key] = self._near_keys(unit)
            for other_key in near:
                if other_key in self.exact:
                    links.union(key, other_key)
        components: dict[int, list[int]] = {}
        for key in list(links.parent):
            components.setdefault(links.find(key), []).append(key)
        for keys in components.values():
            if len(keys) < 2:
                continue
            lines: dict[str, int] = {}
            for key in keys:
                for p, i in self.exact[key].items():
                    start = self.passages[p].units[i].start
                    if start < lines.get(p, start + 1):
                        lines[p] = start
            if len(lines) < 2:
                continue  # near copies inside one file
            group: DuplicateGroup | None = None
            for key in keys:
                holders = self.exact[key]
                if len(holders) >= len(lines):
                    continue  # every file of the component holds this exact text: the exact group says it all
                for p, i in holders.items():
                    unit = self.passages[p].units[i]
                    covered = {p}
                    for hit in hits.get(p, ()):
                        if hit.group.exact and hit.first <= unit.end and unit.start <= hit.last:
                            covered |= paths_of[hit.group.ident]
                    if covered.issuperset(lines):
                        continue
                    group = group or group_of(lines, False)
                    hits.setdefault(p, []).append(Hit(unit.start, unit.end, group))

    def _near_keys(self, unit: Unit) -> list[int]:
        counts: dict[tuple[str, int], int] = {}
        for anchor in unit.anchors:
            bucket = self.anchors.get(anchor)
            if bucket and len(bucket) <= MAX_BUCKET:
                for entry in bucket:
                    counts[entry] = counts.get(entry, 0) + 1
        out: list[int] = []
        size = len(unit.text or "")
        mine: frozenset[int] | None = None
        for (other, idx), count in counts.items():
            if count < MIN_SHARED_ANCHORS:
                continue
            other_unit = self.passages[other].units[idx]
            if other_unit.key == unit.key or not 0.6 * size <= len(other_unit.text or "") <= size / 0.6:
                continue
            mine = shingles_of(unit) if mine is None else mine
            theirs = shingles_of(other_unit)
            inter = len(mine & theirs)
            union = len(mine) + len(theirs) - inter
            if union and inter / union >= NEAR_THRESHOLD:
                out.append(other_unit.key)
        return out


def _drop(table: dict[int, dict[str, int]], key: int, path: str, idx: int) -> None:
    holders = table.get(key)
    if holders is not None and holders.get(path) == idx:
        del holders[path]
        if not holders:
            del table[key]


_INDEXES: OrderedDict[str | None, PassageIndex] = OrderedDict()
_INDEXES_LOCK = threading.Lock()
MAX_INDEXES = 8


def _index_of(head: str | None) -> PassageIndex:
    with _INDEXES_LOCK:
        index = _INDEXES.get(head)
        if index is None:
            # a new HEAD starts from the latest index: the sync then re-indexes only the files that changed
            latest = next(reversed(_INDEXES.values()), None)
            index = _INDEXES[head] = latest.copy() if latest is not None else PassageIndex()
            while len(_INDEXES) > MAX_INDEXES:
                _INDEXES.popitem(last=False)
        else:
            _INDEXES.move_to_end(head)
        return index


def _synced(index: PassageIndex, snapshot: MemorySnapshot) -> None:
    if index.current is not snapshot:
        index.sync(snapshot)
        index.current = snapshot


def hits_in(snapshot: MemorySnapshot, path: str) -> list[Hit]:
    """The duplicated passages of ``path`` in ``snapshot`` (one index per ``head``, the last few kept)."""
    index = _index_of(snapshot.head)
    with index.lock:  # the index may be moved to another snapshot of the same head (an editor buffer)
        _synced(index, snapshot)
        return index.hits(path)


def groups_in(snapshot: MemorySnapshot) -> list[DuplicateGroup]:
    """Every group of copies in ``snapshot``."""
    index = _index_of(snapshot.head)
    with index.lock:
        _synced(index, snapshot)
        return index.groups()


def clear_indexes() -> None:
    with _INDEXES_LOCK:
        _INDEXES.clear()
