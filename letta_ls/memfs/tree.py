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

import bisect
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


class _Node:
    """A file or folder of a ``DrawnTree``: its children kept in drawing order, and its own lines (one per
    visible child, plus the ``… (N more entries)`` line) drawn once and kept until a child changes."""

    __slots__ = ("children", "description", "drawn", "is_file", "keys", "order")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.is_file = False
        self.description: str | None = None
        self.order: list[str] = []  # children's names: folders first, then files, each by name
        self.keys: list[tuple[bool, tuple[str, str]]] = []  # the sort key of each name in ``order``
        self.drawn: list[tuple[str, _Node | None, str, bool]] | None = None  # (line, child, pad, is entry)

    def key(self, name: str) -> tuple[bool, tuple[str, str]]:
        # a node with children is drawn as a folder
        return (not self.children[name].children, name_sort_key(name))

    def place(self, name: str) -> None:
        key = self.key(name)
        index = bisect.bisect_left(self.keys, key)
        self.keys.insert(index, key)
        self.order.insert(index, name)
        self.drawn = None

    def unplace(self, name: str, key: tuple[bool, tuple[str, str]]) -> None:
        index = bisect.bisect_left(self.keys, key)
        del self.keys[index], self.order[index]
        self.drawn = None

    def lines(self, max_children: int) -> list[tuple[str, _Node | None, str, bool]]:
        if self.drawn is not None:
            return self.drawn
        visible = self.order[:max_children]
        omitted = len(self.order) - len(visible)
        count = len(visible) + (1 if omitted else 0)
        drawn = []
        for index, name in enumerate(visible):
            child = self.children[name]
            last = index == count - 1
            connector = _LAST if last else _BRANCH
            if child.children:
                line = f"{connector}{name}/"
                if child.description:
                    line += f" ({child.description})"
                drawn.append((line, child, _SPACE if last else _PIPE, True))
            elif child.description:
                drawn.append((f"{connector}{name} ({child.description})", None, "", True))
            else:
                drawn.append((f"{connector}{name}", None, "", True))
        if omitted:
            drawn.append((f"{_LAST}… ({_format_count(omitted)} more entries)", None, "", False))
        self.drawn = drawn
        return drawn


def _format_count(value: int) -> str:
    return f"{value:,}"


class DrawnTree:
    """Entries kept as a tree that is changed one path at a time and drawn within limits (the memory
    section's external tree is kept between ``HEAD`` s this way: a commit changes a file or two of ~2,000).

    Changing a path redraws only the lines of the folders along it, re-sorting nothing (a name is placed by
    bisection); drawing walks the kept lines and stops at the caps, so it costs the lines shown.
    """

    def __init__(self, max_children: int = DEFAULT_MAX_CHILDREN) -> None:
        self.root = _Node()
        self.max_children = max(1, max_children)
        self.size = 0  # files and folders in the tree

    @classmethod
    def from_entries(cls, entries: Iterable[TreeEntry], max_children: int = DEFAULT_MAX_CHILDREN) -> DrawnTree:
        tree = cls(max_children)
        for entry in entries:
            tree._put(entry.path, entry.description, replace=False)
        return tree

    def put(self, path: str, description: str | None) -> None:
        """Add the file ``path`` (or set its description)."""
        self._put(path, description, replace=True)

    def _put(self, path: str, description: str | None, *, replace: bool) -> None:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return
        node = self.root
        chain: list[tuple[_Node, str]] = []
        for part in parts:
            child = node.children.get(part)
            if child is None:
                if node.children or node is self.root:
                    node.children[part] = child = _Node()
                    node.place(part)
                else:  # the node becomes a folder: its place among its siblings changes
                    self._refolder(chain, lambda n=node, p=part: n.children.__setitem__(p, _Node()))
                    child = node.children[part]
                    node.place(part)
                self.size += 1
            chain.append((node, part))
            node = child
        node.is_file = True
        if description is not None:
            description = one_line(description) or None
        elif not replace:
            return
        if node.description != description:
            node.description = description
            parent, _ = chain[-1]
            parent.drawn = None

    def remove(self, path: str) -> None:
        """Take the file ``path`` out, and every folder left empty by it."""
        parts = [p for p in path.split("/") if p]
        chain: list[tuple[_Node, str]] = []
        node = self.root
        for part in parts:
            child = node.children.get(part)
            if child is None:
                return
            chain.append((node, part))
            node = child
        if not chain or not node.is_file:
            return
        node.is_file = False
        node.description = None
        chain[-1][0].drawn = None
        while chain and not node.children and not node.is_file:
            parent, name = chain.pop()
            key = parent.key(name)
            if len(parent.children) == 1 and parent is not self.root and chain:
                self._refolder(chain, lambda n=parent, k=key, m=name: (n.unplace(m, k), n.children.pop(m)))
            else:
                parent.unplace(name, key)
                del parent.children[name]
            self.size -= 1
            node = parent

    @staticmethod
    def _refolder(chain: list[tuple[_Node, str]], change) -> None:
        """Apply ``change`` to the last node of ``chain``, which turns it from a file into a folder (or
        back): its parent re-places it, since folders are drawn before files."""
        grandparent, name = chain[-1]
        key = grandparent.key(name)
        change()
        grandparent.unplace(name, key)
        grandparent.place(name)

    def draw(self, *, root_label: str, max_lines: int, max_chars: int) -> str:
        lines_cap, chars_cap, children_cap = max(2, max_lines), max(128, max_chars), self.max_children
        lines: list[str] = [root_label]
        is_entry: list[bool] = [False]
        chars = len(root_label)

        def fits(line: str) -> bool:
            return len(lines) + 1 <= lines_cap and chars + 1 + len(line) <= chars_cap

        def render(node: _Node, prefix: str) -> bool:
            nonlocal chars
            for line, child, pad, entry in node.lines(children_cap):
                line = prefix + line
                if not fits(line):
                    return False
                lines.append(line)
                is_entry.append(entry)
                chars += 1 + len(line)
                if child is not None and not render(child, prefix + pad):
                    return False
            return True

        if not render(self.root, ""):
            total = self.size
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
    tree = DrawnTree.from_entries(entries, max(1, max_children))
    return tree.draw(root_label=root_label, max_lines=max_lines, max_chars=max_chars)


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
