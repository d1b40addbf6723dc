"""The same passage in two or more memory files: ``duplicate-content`` (one finding per group, in each file).

Duplicated memory costs tokens twice and drifts: one copy gets updated, the other goes stale. What
counts as a passage (a paragraph of ~200 characters or two sentences, or three identical substantial
lines) is defined in ``passages``; how copies are found and grouped without comparing pairs of files
is in ``duplicate_index``. Each file gets one finding per stretch of lines and group of copies, naming
the other members (all of them for a small group), so a memory of 2,000 copies of one note yields one
group and one finding per file, not 2,000 × 1,999 comparisons.
"""

from __future__ import annotations

from letta_ls.doctor.checks.common import CheckContext, finding, is_markdown, scan_file
from letta_ls.doctor.checks.duplicate_index import (
    DuplicateGroup,
    Hit,
    PassageIndex,
    clear_indexes,
    groups_in,
    hits_in,
)
from letta_ls.doctor.checks.passages import passages_of
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot

MAX_FINDINGS_PER_FILE = 10
MAX_NAMED = 8  # members named in a finding's message; the rest are counted

__all__ = ["DuplicateGroup", "check_file", "clear_indexes", "duplicate_groups"]


def duplicate_groups(snapshot: MemorySnapshot) -> list[DuplicateGroup]:
    """Every group of files holding the same passage (exact) or the same paragraph lightly edited (near)."""
    return groups_in(snapshot)


def _fresh_index(snapshot: MemorySnapshot) -> PassageIndex:
    index = PassageIndex()
    index.sync(snapshot)
    return index


def _stretches(hits: list[Hit]) -> list[Hit]:
    """Neighbouring passages shared with the same group of files, merged into one stretch."""
    merged: list[Hit] = []
    open_by_group: dict[int, int] = {}  # group ident -> index in merged of its latest stretch
    for hit in hits:
        at = open_by_group.get(hit.group.ident)
        if at is not None and hit.first <= merged[at].last + 2:
            merged[at] = Hit(merged[at].first, max(merged[at].last, hit.last), hit.group)
        else:
            open_by_group[hit.group.ident] = len(merged)
            merged.append(hit)
    merged.sort(key=lambda h: (h.first, h.last, h.group.ident))
    return merged


def _message(path: str, first: int, last: int, group: DuplicateGroup) -> str:
    # the first member that is not this file (members are one per file): O(1), not a copy of the group
    other, other_line = group.members[1] if group.members[0][0] == path else group.members[0]
    span = f"line {first + 1}" if first == last else f"lines {first + 1}–{last + 1}"
    more = len(group.members) - 2
    also = f" (and {more} more file{'s' if more > 1 else ''})" if more else ""
    same = "is repeated" if group.exact else "is nearly the same as a passage"
    names = ""
    if more:
        named = ", ".join(f"`{p}`" for p, _line in group.members[:MAX_NAMED])
        rest = len(group.members) - MAX_NAMED
        names = f" {len(group.members)} files hold it: {named}{f' and {rest} more' if rest > 0 else ''}."
    return (f"This passage ({span}) {same} in `{other}` at line {other_line + 1}{also}.{names} Keep it in one "
            f"file and link to it with [[{other}]] from the others, so the copies cannot drift apart.")


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    if not ctx.enabled("duplicate-content") or not is_markdown(file.path) or file.text is None:
        return []
    passages = passages_of(file)
    if not passages.units and not passages.runs:
        return []
    if ctx.fresh:  # a full audit from scratch: a private index, built once for this audit
        index = ctx.memo("duplicates.index", lambda: _fresh_index(ctx.snapshot))
        hits = index.hits(file.path)
    else:
        hits = hits_in(ctx.snapshot, file.path)
    if not hits:
        return []
    lines = scan_file(file).lines  # type: ignore[union-attr]
    return [
        finding("duplicate-content", file.path, hit.first, _message(file.path, hit.first, hit.last, hit.group),
                end_line=hit.last, end_column=len(lines[hit.last]))
        for hit in _stretches(hits)[:MAX_FINDINGS_PER_FILE]
    ]
