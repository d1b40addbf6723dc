"""Wiki links between memory files: ``link-broken``.

``[[path]]`` links (also ``[[path|label]]`` and ``[[path#heading]]``) are the discovery paths from
``system/`` to external memory, so one that points nowhere hides a file from the agent. A target
resolves to a file with or without ``.md``, or to a folder, relative to the memory root (a leading
``memory/`` or ``/`` is accepted, as the agent's tools accept it); as a fallback, relative to the
linking file's own folder (skills link to their ``references/`` that way). Links inside fenced code
and inline code spans are examples, not links, and are ignored. ``links_in`` is shared with the fixer,
which rewrites links when a file moves.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_right
from dataclasses import dataclass

from letta_ls.doctor.checks.common import BlobCache, CheckContext, basename, finding, is_markdown, scan_file, stem
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot

_LINK = re.compile(r"\[\[([^\[\]\n]+?)\]\]")
_TICKS = re.compile(r"`+")
_ROOT_PREFIXES = ("${MEMORY_DIR}/", "$MEMORY_DIR/", "memory/", "./", "/")


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


def _mask_inline_code(line: str) -> str:
    """Blank out inline code spans (a run of backticks up to the next run of the same length)."""
    if "`" not in line:
        return line
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(line)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    spans = []
    index = 0
    while index < len(runs):
        start, end = runs[index]
        later = by_length[end - start]
        position = bisect_right(later, index)
        if position == len(later):
            index += 1
            continue
        closing = later[position]
        spans.append((start, runs[closing][1]))
        index = closing + 1
    pieces = []
    previous = 0
    for start, end in spans:
        pieces += [line[previous:start], " " * (end - start)]
        previous = end
    pieces.append(line[previous:])
    return "".join(pieces)


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
            for match in _LINK.finditer(_mask_inline_code(line)):
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


def normalize_target(target: str) -> str:
    t = target.strip()
    changed = True
    while changed:
        changed = False
        for prefix in _ROOT_PREFIXES:
            if t.startswith(prefix):
                t = t[len(prefix):]
                changed = True
    return t.rstrip("/")


def resolve_link(
    snapshot: MemorySnapshot, target: str, from_path: str, folders: frozenset[str] | None = None
) -> str | None:
    """The file (or folder) a link target names, or None when it names nothing in memory."""
    folders = snapshot.folders if folders is None else folders
    files = snapshot.files
    root = normalize_target(target)
    candidates = [root]
    relative = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), target.strip()))
    if not relative.startswith("../") and relative not in (".", ".."):
        candidates.append(relative)
    for candidate in candidates:
        if not candidate:
            continue
        if candidate in files:
            return candidate
        if candidate + ".md" in files:
            return candidate + ".md"
        if candidate in folders:
            return candidate
    return None


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
