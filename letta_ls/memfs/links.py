"""Links between memory files, and keeping them pointed at their files when those files move.

Two spellings occur in memory: wiki links ``[[reference/api]]`` (read from the memory root, as Letta Code's
agent writes them; ``[[target|label]]`` and ``[[target#heading]]`` too; as a fallback, relative to the
linking file's folder, which is how a skill reaches its ``references/``) and markdown links
``[label](../reference/api.md)`` (relative to the linking file, or to the root with a leading ``/``).
Links inside fenced code and inline code spans are examples, not links.

``retarget_after_move`` is why this module sits in memfs rather than in the doctor: a rename is a memory
operation, and the links that name the moved file belong in the same commit as the move, whoever moves it
(the agent's tool, the editor, a dream, a doctor fix). A link that pointed nowhere before the move is left
as it was; a link is rewritten only when the new spelling is checked to reach the moved file.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown

WIKI_LINK = re.compile(r"\[\[([^\[\]\n]+?)\]\]")
# [label](destination "optional title"): the destination has no spaces (or is in <...>, left alone)
_MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\[\]\n]*\]\(([^()\s<>]+)(?:\s+\"[^\"\n]*\")?\)")
_TICKS = re.compile(r"`+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BREAK = re.compile(r"\r\n|\r|\n")
ROOT_PREFIXES = ("${MEMORY_DIR}/", "$MEMORY_DIR/", "memory/", "./", "/")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

LinkKind = Literal["wiki", "markdown"]


@dataclass(frozen=True)
class LinkSpan:
    """Where a link's target text stands in a file's whole text (offsets), and what it names."""

    kind: LinkKind
    start: int
    end: int
    target: str


def mask_inline_code(line: str) -> str:
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


def normalize_target(target: str) -> str:
    """A wiki link's target as a path from the memory root (``memory/``, ``/`` and the like dropped)."""
    return _split_root(target)[1]


def _split_root(target: str) -> tuple[str, str]:
    """(the root prefixes a wiki target was written with, the path after them)."""
    t = target.strip()
    taken = ""
    changed = True
    while changed:
        changed = False
        for prefix in ROOT_PREFIXES:
            if t.startswith(prefix):
                t = t[len(prefix):]
                taken += prefix
                changed = True
    return taken, t.rstrip("/")


def resolve_wiki(files: Iterable[str] | frozenset[str], folders: frozenset[str] | set[str], target: str,
                 from_path: str) -> str | None:
    """The file (or folder) a wiki link target names, or None when it names nothing in memory."""
    candidates = [normalize_target(target)]
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


def resolve_markdown(files: Iterable[str] | frozenset[str], folders: frozenset[str] | set[str], target: str,
                     from_path: str) -> str | None:
    """The file (or folder) a markdown link's destination names: relative to its file, or to the root."""
    if target.startswith("/"):
        path = posixpath.normpath(target.lstrip("/"))
    else:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), target))
    if path.startswith("../") or path in (".", ".."):
        return None
    path = path.rstrip("/")
    if path in files or path in folders:
        return path
    return None


def link_spans(text: str) -> list[LinkSpan]:
    """Every link in a markdown file's body outside code, with its target's offsets in ``text``."""
    doc = parse_document(text)
    starts = [0, *(m.end() for m in _BREAK.finditer(text))]
    lines = [text[starts[i]:starts[i + 1]] if i + 1 < len(starts) else text[starts[i]:] for i in range(len(starts))]
    out: list[LinkSpan] = []
    fence: str | None = None
    for number in range(doc.body_start_line, len(lines)):
        line = lines[number]
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if "[" not in line:
            continue
        visible = mask_inline_code(line)
        base = starts[number]
        for match in WIKI_LINK.finditer(visible):
            target = re.split(r"[|#]", match.group(1), maxsplit=1)[0]
            lead = len(target) - len(target.lstrip())
            target = target.strip()
            if target:
                start = base + match.start(1) + lead
                out.append(LinkSpan("wiki", start, start + len(target), target))
        for match in _MARKDOWN_LINK.finditer(visible):
            destination = match.group(1)
            if _SCHEME.match(destination) or destination.startswith("#"):
                continue  # a URL, mailto: and the like, or a heading in the same file
            target = re.split(r"[#?]", destination, maxsplit=1)[0]
            if target:
                start = base + match.start(1)
                out.append(LinkSpan("markdown", start, start + len(target), target))
    return out


def _folders_of(files: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return frozenset(out)


def _spell(link: LinkSpan, goal: str, from_path: str) -> str:
    """How ``link`` should name ``goal`` from ``from_path``, in the link's own style."""
    keep_md = link.target.endswith(".md") or not goal.endswith(".md")
    name = goal if keep_md else goal.removesuffix(".md")
    if link.kind == "wiki":
        return _split_root(link.target)[0] + name  # wiki links are read from the root first
    if link.target.startswith("/"):
        return "/" + name
    return posixpath.relpath(name, posixpath.dirname(from_path) or ".")


def retarget_after_move(snapshot: MemorySnapshot, src: str, dst: str,
                        may_edit: Callable[[str], bool] = lambda _path: True) -> dict[str, str]:
    """The texts that change so every link keeps naming its file once ``src`` (a file or folder) is ``dst``.

    Keys are paths *after* the move (a moved file's own relative links are rewritten under its new
    path); files ``may_edit`` refuses (a read-only file, for the agent) are left as they are.
    """

    def moved(path: str) -> str:
        return dst + path[len(src):] if path == src or path.startswith(src + "/") else path

    old_files = frozenset(snapshot.files)
    old_folders = snapshot.folders
    new_files = frozenset(moved(p) for p in old_files)
    new_folders = _folders_of(new_files)
    resolvers = {"wiki": resolve_wiki, "markdown": resolve_markdown}
    out: dict[str, str] = {}
    for file in snapshot:
        text = file.text
        if text is None or not is_memory_markdown(file.path) or ("[[" not in text and "](" not in text):
            continue
        new_path = moved(file.path)
        if not may_edit(file.path):
            continue
        edits: list[tuple[int, int, str]] = []
        for link in link_spans(text):
            resolve = resolvers[link.kind]
            before = resolve(old_files, old_folders, link.target, file.path)
            if before is None:
                continue
            goal = moved(before)
            if resolve(new_files, new_folders, link.target, new_path) == goal:
                continue
            spelled = _spell(link, goal, new_path)
            if resolve(new_files, new_folders, spelled, new_path) == goal:
                edits.append((link.start, link.end, spelled))
        if edits:
            for start, end, spelled in sorted(edits, reverse=True):
                text = text[:start] + spelled + text[end:]
            out[new_path] = text
    return out
