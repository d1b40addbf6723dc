"""Token size: ``file-oversized`` (one file over its ``limit`` or ``memory.fileTokenLimit``) and
``system-over-budget`` (``system/`` as a whole over ``memory.systemTokenBudget``).

Everything under ``system/`` is paid for on every turn, and a single huge file is hard for the agent to
keep current, so both are warnings with a way out: an oversized file with at least two headings can be
split into linked files (``split``), and the budget warning lands on the few largest system files that
account for the excess, which is where trimming or moving detail out pays off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from letta_ls.doctor.checks.common import CheckContext, Scan, doc_line, finding, is_markdown, scan_file
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.snapshot import MemoryFile

_SLUG_DROP = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Section:
    heading: str
    start: int  # the heading line
    end: int  # one past the last line


def split_sections(scan: Scan) -> tuple[int, list[Section]] | None:
    """Where a split would cut: the shallowest heading level used at least twice, and its sections."""
    counts: dict[int, int] = {}
    for _line, level, _text in scan.headings:
        counts[level] = counts.get(level, 0) + 1
    levels = sorted(level for level, count in counts.items() if count >= 2)
    if not levels:
        return None
    level = levels[0]
    cuts = [(line, lvl, text) for line, lvl, text in scan.headings if lvl <= level]
    sections = []
    for i, (line, lvl, text) in enumerate(cuts):
        if lvl == level:
            end = cuts[i + 1][0] if i + 1 < len(cuts) else len(scan.lines)
            sections.append(Section(text, line, end))
    if len(sections) < 2:
        return None
    return level, sections


def slugify(text: str, limit: int = 48) -> str:
    slug = _SLUG_DROP.sub("-", text.lower()).strip("-_")
    return slug[:limit].rstrip("-_")


def part_path(path: str, heading: str, index: int, taken: set[str]) -> str:
    """The sibling file a section moves to: ``dir/<stem>-<slug>.md`` (a folder ``<stem>/`` would clash)."""
    base = path[:-3]
    slug = slugify(heading) or f"part-{index + 1}"
    candidate = f"{base}-{slug}.md"
    n = 2
    while candidate in taken:
        candidate = f"{base}-{slug}-{n}.md"
        n += 1
    taken.add(candidate)
    return candidate


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    if not is_markdown(path) or file.text is None:
        return []
    out: list[Finding] = []
    if ctx.enabled("file-oversized"):
        out.extend(_oversized(ctx, file))
    if ctx.enabled("system-over-budget") and ctx.snapshot.tier(path) == "system" and path in ctx.over_budget:
        total, budget = ctx.system_total, ctx.settings.systemTokenBudget
        tokens = ctx.over_budget[path]
        in_context = "The root files are" if ctx.v2 else "`system/` is"  # MemFS v2 keeps its root files in context
        out.append(finding(
            "system-over-budget", path, 0,
            f"{in_context} {total:,} tokens, over the {budget:,}-token budget by {total - budget:,}, and this file "
            f"is one of its largest ({tokens:,} tokens). Move detail the agent does not need every turn into "
            "external files (linked with [[path]]) or trim it.",
        ))
    return out


def _oversized(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    doc = file.document
    text = file.text
    assert doc is not None and text is not None
    limit = doc.limit
    cap = limit or ctx.settings.fileTokenLimit
    tokens = ctx.tokens(file)
    if tokens <= cap:
        return []
    scan = scan_file(file)
    fix = None
    split = split_sections(scan) if scan is not None and not doc.error else None
    if split is not None:
        level, sections = split
        fix = Fix("split", f"Split into {len(sections)} linked files at its {'#' * level} headings",
                  {"level": level, "sections": len(sections)})
    source = "its `limit`" if limit else "`memory.fileTokenLimit`"
    line = doc_line(text, doc.key_line("limit") or 0) if limit else 0
    return [finding(
        "file-oversized", file.path, line,
        f"This file is {tokens:,} tokens, over {source} of {cap:,}. Split it into smaller linked files "
        "(one topic each) or move detail out of it.",
        fix=fix,
    )]
