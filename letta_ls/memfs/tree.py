"""Drawing memory as a box-drawing tree, within the size limits Letta Code uses.

This module owns the tree *format*: ``├── `` / ``└── `` / ``│   `` connectors, folders before files,
names sorted, ``name (description)`` for files that have one, at most ``max_children`` entries per
folder followed by ``… (N more entries)``, and a whole render capped at ``max_lines`` lines and
``max_chars`` characters that ends with ``[Tree truncated: showing X of Y entries. Z omitted.]``. The
limits default to Letta Code's (500 lines, 20,000 characters, 50 children) and can be overridden by
``LETTA_MEMFS_TREE_MAX_LINES`` (2–50,000), ``LETTA_MEMFS_TREE_MAX_CHARS`` (128–5,000,000) and
``LETTA_MEMFS_TREE_MAX_CHILDREN_PER_DIR`` (1–5,000); a value that is not a whole number in range is
ignored.

It draws what it is given and never reads the disk or git; ``memory_tree_entries`` turns a snapshot into
entries. Unlike Letta Code, which lists external files by name only, descriptions are shown, so the
model can decide which file to open without opening them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from letta_ls.memfs.frontmatter import one_line
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, is_memory_markdown

DEFAULT_MAX_LINES = 500
DEFAULT_MAX_CHARS = 20_000
DEFAULT_MAX_CHILDREN = 50

ENV_MAX_LINES = "LETTA_MEMFS_TREE_MAX_LINES"
ENV_MAX_CHARS = "LETTA_MEMFS_TREE_MAX_CHARS"
ENV_MAX_CHILDREN = "LETTA_MEMFS_TREE_MAX_CHILDREN_PER_DIR"

_BRANCH = "├── "
_LAST = "└── "
_PIPE = "│   "
_SPACE = "    "


@dataclass(frozen=True)
class TreeEntry:
    """A file to draw: its ``/``-separated path under the root, and its description if it has one."""

    path: str
    description: str | None = None


@dataclass(frozen=True)
class TreeLimits:
    max_lines: int = DEFAULT_MAX_LINES
    max_chars: int = DEFAULT_MAX_CHARS
    max_children: int = DEFAULT_MAX_CHILDREN


def _env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        return default
    return value if low <= value <= high else default


def tree_limits(env: Mapping[str, str] | None = None) -> TreeLimits:
    """The limits in force: Letta Code's defaults, overridden by valid in-range environment values."""
    env = os.environ if env is None else env
    return TreeLimits(
        max_lines=_env_int(env, ENV_MAX_LINES, DEFAULT_MAX_LINES, 2, 50_000),
        max_chars=_env_int(env, ENV_MAX_CHARS, DEFAULT_MAX_CHARS, 128, 5_000_000),
        max_children=_env_int(env, ENV_MAX_CHILDREN, DEFAULT_MAX_CHILDREN, 1, 5_000),
    )


def name_sort_key(name: str) -> tuple[str, str]:
    """Case-insensitive order with a deterministic tie-break (close to Letta Code's localeCompare)."""
    return (name.casefold(), name)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    is_file: bool = False
    description: str | None = None

    def sorted_children(self) -> list[tuple[str, _Node]]:
        # folders first, then files, each by name (a node with children is drawn as a folder)
        return sorted(self.children.items(), key=lambda item: (not item[1].children, name_sort_key(item[0])))


def _build(entries: Iterable[TreeEntry]) -> _Node:
    root = _Node()
    for entry in entries:
        parts = [p for p in entry.path.split("/") if p]
        if not parts:
            continue
        node = root
        for part in parts:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.is_file = True
        if entry.description is not None:
            desc = one_line(entry.description)
            node.description = desc or None
    return root


def _count(node: _Node) -> int:
    total = 0
    stack = [node]
    while stack:
        current = stack.pop()
        total += len(current.children)
        stack.extend(current.children.values())
    return total


def _format_count(value: int) -> str:
    return f"{value:,}"


def render_tree(
    entries: Iterable[TreeEntry],
    *,
    root_label: str,
    max_lines: int | None = None,
    max_chars: int | None = None,
    max_children: int | None = None,
) -> str:
    """Draw ``entries`` under ``root_label``; a limit left as None comes from ``tree_limits()``.

    The first line is ``root_label``. Explicit limits are clamped to the same minimums as the
    environment (2 lines, 128 characters, 1 child), so the truncation marker always fits.
    """
    if max_lines is None or max_chars is None or max_children is None:
        env_limits = tree_limits()
        max_lines = env_limits.max_lines if max_lines is None else max_lines
        max_chars = env_limits.max_chars if max_chars is None else max_chars
        max_children = env_limits.max_children if max_children is None else max_children
    lines_cap, chars_cap, children_cap = max(2, max_lines), max(128, max_chars), max(1, max_children)

    root = _build(entries)
    lines: list[str] = [root_label]
    is_entry: list[bool] = [False]
    chars = len(root_label)

    def fits(line: str) -> bool:
        return len(lines) + 1 <= lines_cap and chars + 1 + len(line) <= chars_cap

    def add(line: str, entry: bool) -> bool:
        """Append ``line`` if it fits within the caps; False (and nothing added) when it does not."""
        nonlocal chars
        if not fits(line):
            return False
        lines.append(line)
        is_entry.append(entry)
        chars += 1 + len(line)
        return True

    def render(node: _Node, prefix: str) -> bool:
        children = node.sorted_children()
        visible = children[:children_cap]
        omitted = len(children) - len(visible)
        count = len(visible) + (1 if omitted else 0)
        for index, (name, child) in enumerate(visible):
            last = index == count - 1
            connector = _LAST if last else _BRANCH
            if child.children:
                line = f"{prefix}{connector}{name}/"
                if child.description:
                    line += f" ({child.description})"
            elif child.description:
                line = f"{prefix}{connector}{name} ({child.description})"
            else:
                line = f"{prefix}{connector}{name}"
            if not add(line, entry=True):
                return False
            if child.children and not render(child, prefix + (_SPACE if last else _PIPE)):
                return False
        if omitted:
            return add(f"{prefix}{_LAST}… ({_format_count(omitted)} more entries)", entry=False)
        return True

    if not render(root, ""):
        total = _count(root)
        while True:
            shown = sum(is_entry)
            notice = (
                f"[Tree truncated: showing {_format_count(shown)} of {_format_count(total)} entries. "
                f"{_format_count(total - shown)} omitted.]"
            )
            if fits(notice) or len(lines) == 1:
                lines.append(notice)
                break
            removed = lines.pop()
            is_entry.pop()
            chars -= 1 + len(removed)
    return "\n".join(lines)


def is_hidden(path: str) -> bool:
    """A path with a segment starting with ``.`` (``.gitignore``, ``.obsidian/…``) is not memory."""
    return path.startswith(".") or "/." in path


_DESCRIPTIONS: dict[str, str | None] = {}  # blob id -> one-line description (content-addressed: never stale)
_DESCRIPTIONS_KEPT = 100_000


def file_description(file: MemoryFile) -> str | None:
    """The one-line ``description`` of a markdown file with readable frontmatter, else None. Kept by blob id:
    the tree of a memory is listed after every commit, and a commit changes a file or two."""
    if not is_memory_markdown(file.path):
        return None
    try:
        return _DESCRIPTIONS[file.blob]
    except KeyError:
        pass
    if len(_DESCRIPTIONS) >= _DESCRIPTIONS_KEPT:
        _DESCRIPTIONS.clear()
    description = _DESCRIPTIONS[file.blob] = _description(file)
    return description


def _description(file: MemoryFile) -> str | None:
    doc = file.document
    if doc is None or doc.error is not None:
        return None
    desc = doc.description
    if desc is None:
        return None
    return one_line(desc) or None


def memory_tree_entries(
    snapshot: MemorySnapshot,
    *,
    exclude_prefixes: tuple[str, ...] = (),
    include_hidden: bool = False,
    projected_only: bool = False,
) -> list[TreeEntry]:
    """Every file of ``snapshot`` as a tree entry (markdown files with their description).

    ``exclude_prefixes`` drops whole folders (``("system/", "skills/")``); ``projected_only`` keeps only
    the files Letta Code treats as memory (in MemFS v2, folders with their own ``MEMORY.md``); hidden
    paths are left out unless asked for.
    """
    out = []
    for path, file in snapshot.files.items():
        if exclude_prefixes and path.startswith(exclude_prefixes):
            continue
        if projected_only and not snapshot.projected(path):
            continue
        if not include_hidden and is_hidden(path):
            continue
        out.append(TreeEntry(path, file_description(file)))
    return out
