"""Wiki links between memory files: ``link-broken``.

``[[path]]`` links (also ``[[path|label]]`` and ``[[path#heading]]``) are the discovery paths from
``system/`` to external memory, so one that points nowhere hides a file from the agent. A target
resolves to a file with or without ``.md``, or to a folder, relative to the memory root (a leading
``memory/`` or ``/`` is accepted, as the agent's tools accept it); as a fallback, relative to the
linking file's own folder (skills link to their ``references/`` that way). Links inside fenced code
and inline code spans are examples, not links, and are ignored. The link syntax and its resolution live
in ``memfs.links`` (a rename rewrites links there); this module caches the links of each blob.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from letta_ls.doctor.checks.common import BlobCache, CheckContext, basename, finding, is_markdown, scan_file, stem
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.links import WIKI_LINK, mask_inline_code, normalize_target, resolve_wiki
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot


@dataclass(frozen=True)
class Link:
    """A ``[[...]]`` link: the whole link's columns, and those of its target text inside it."""

    line: int
    column: int
    end_column: int
    target: str
    target_column: int
    target_end_column: int


_LINKS: BlobCache[list[Link]] = BlobCache()


def links_in(file: MemoryFile) -> list[Link]:
    """Every wiki link in a markdown file's body, outside code."""
    scan = scan_file(file)
    if scan is None or not is_markdown(file.path):
        return []

    def compute() -> list[Link]:
        out = []
        for i in scan.body_lines():
            line = scan.lines[i]
            if "[[" not in line or scan.code[i]:
                continue
            for match in WIKI_LINK.finditer(mask_inline_code(line)):
                inner = match.group(1)
                target = re.split(r"[|#]", inner, maxsplit=1)[0]
                lead = len(target) - len(target.lstrip())
                target = target.strip()
                if not target:
                    continue  # [[#heading]] points inside the same file
                start = match.start(1) + lead
                out.append(Link(i, match.start(), match.end(), target, start, start + len(target)))
        return out

    return _LINKS.get(file.blob, compute)


def resolve_link(
    snapshot: MemorySnapshot, target: str, from_path: str, folders: frozenset[str] | None = None
) -> str | None:
    """The file (or folder) a link target names, or None when it names nothing in memory."""
    return resolve_wiki(snapshot.files.keys(), snapshot.folders if folders is None else folders, target, from_path)


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    if not ctx.enabled("link-broken") or not is_markdown(file.path):
        return []
    links = links_in(file)
    if not links:
        return []
    out = []
    for link in links:
        if resolve_link(ctx.snapshot, link.target, file.path, ctx.folders) is not None:
            continue
        guesses = _guesses(ctx, link.target)
        fix = None
        hint = ""
        if len(guesses) == 1:
            new = guesses[0].removesuffix(".md") if not link.target.endswith(".md") else guesses[0]
            hint = f" Did you mean `[[{new}]]`?"
            fix = Fix("retarget-link", f"Point the link at `{guesses[0]}`", {
                "line": link.line, "column": link.target_column, "end_column": link.target_end_column,
                "old": link.target, "target": new,
            })
        elif guesses:
            hint = " Files with that name: " + ", ".join(f"`{g}`" for g in guesses[:3]) + "."
        out.append(finding(
            "link-broken", file.path, link.line,
            f"`[[{link.target}]]` points to nothing in memory. Links are relative to the memory root "
            f"(e.g. `[[reference/topic.md]]`); fix the path or create the file.{hint}",
            column=link.column, end_line=link.line, end_column=link.end_column, fix=fix,
        ))
    return out


def _guesses(ctx: CheckContext, target: str) -> list[str]:
    def index() -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = {}
        for path in ctx.snapshot.files:
            if is_markdown(path):
                by_name.setdefault(stem(path).lower(), []).append(path)
        return by_name

    by_name = ctx.memo("links.by_name", index)
    name = basename(normalize_target(target)).lower().removesuffix(".md")
    return sorted(by_name.get(name, []))
