"""The system prompt: memory rendered the way Letta Code renders it, from one snapshot of memory.

This module owns the prompt format (see ``docs/prompt-format.md``): the ``Reminder:`` line, the
persona in ``<self>``, every other ``system/**/*.md`` file as nested XML elements inside ``<memory>``,
the external files as a tree in ``<external_projection>``, then ``<memory_metadata>`` and
``<available_skills>``. It reads only the ``MemorySnapshot`` it is given; building that snapshot from
the committed ``HEAD`` (never the working tree) is the caller's job. It never raises on bad memory
content: a file with broken frontmatter is shown whole, a file that is not UTF-8 is named with a note.

``compile_memory`` is cached per ``HEAD`` in a small LRU (with a check that the snapshot really holds
the same blobs, so an editor overlay on ``HEAD`` can never get a stale answer), so recompiling an
unchanged ``HEAD`` on every turn is a dictionary lookup and the prompt stays byte-identical (good for
provider prompt caches). Frontmatter parsing, the expensive part of a cold compile, is cached per blob
by the snapshot.
A new ``HEAD`` is compiled from the last one's parts (``section_parts.SectionParts``): only the paths whose
blob changed are moved, and the external tree redraws only the folders along them, so a commit on a
2,000-file memory costs about what it costs on 5 files. ``_render`` builds from scratch; a property test
holds the two equal over random histories. The base prompt, metadata and skills are ``prompt_text.py``'s.

A MemFS v2 memory (a root ``MEMORY.md`` index) is compiled as Letta Code treats it: every root Markdown
file is in context (``persona.md`` in ``<self>``, ``MEMORY.md`` and the other core files as elements of
``<memory>``), and ``<external_projection>`` lists only the files of child folders that carry their own
``MEMORY.md``; ``skills/`` and folders without an index are not memory there.

Deliberate differences from Letta Code: external files show their descriptions; leading blank lines of
a body are dropped (Letta Code would emit a whitespace-only line); path segments that are not valid XML
names are rewritten (``2024`` → ``_2024``, ``my notes`` → ``my_notes``); hidden paths are left out, and
so are files whose *name* holds a secret (letta-ls refuses such names; one made by hand with git is
flagged by the doctor, and must not reach the model meanwhile).
"""

from __future__ import annotations

import functools
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from letta_ls.memfs.frontmatter import one_line
from letta_ls.memfs.prompt_text import (  # noqa: F401 (re-exported: the prompt's public names live here too)
    CORE_MEMORY,
    DEFAULT_CONVERSATION,
    available_skills_block,
    compile_system_prompt,
    format_recompiled_at,
    inject_core_memory,
    memory_metadata,
    system_prompt_template,
)
from letta_ls.memfs.secret_gate import name_holds_secret
from letta_ls.memfs.section_parts import SectionParts
from letta_ls.memfs.snapshot import (
    SYSTEM_DIR,
    MemoryFile,
    MemorySnapshot,
    is_memory_markdown,
)
from letta_ls.memfs.tree import (
    TreeEntry,
    TreeLimits,
    is_hidden,
    memory_tree_entries,
    name_sort_key,
    render_tree,
    tree_limits,
)

MEMORY_DIR_VAR = "$MEMORY_DIR"
MEMORY_DIR_PLACEHOLDER = "${MEMORY_DIR}"
REMINDER = "Reminder: <projection> contains the local path of the memory file projection."
NOT_TEXT_NOTE = "(not shown: this file is not UTF-8 text)"
CACHE_SIZE = 32
SECTIONS_KEPT = 4
VARIANTS_PER_HEAD = 4


@dataclass(frozen=True)
class CompiledMemory:
    """The memory section of the prompt for one snapshot.

    ``text`` is everything between the base prompt and ``<memory_metadata>`` (empty when memory holds
    nothing to show); ``system_paths`` are the in-context files whose content it carries (``system/``,
    or the root files of a MemFS v2 memory), persona first; ``skipped`` are in-context files named in it
    without content because they are not text.
    """

    head: str | None
    text: str
    system_paths: tuple[str, ...]
    skipped: tuple[str, ...] = ()


# ---------------------------------------------------------------- XML element names

_NAME_START = (
    "A-Za-z_\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NAME_REST = _NAME_START + r"\-.0-9\u00b7\u0300-\u036f\u203f-\u2040"
_INVALID_NAME_CHAR = re.compile(f"[^{_NAME_REST}]")
_VALID_NAME_START = re.compile(f"[{_NAME_START}]")


@functools.lru_cache(maxsize=8192)
def xml_element_name(segment: str) -> str:
    """``segment`` as a valid XML element name: each character XML forbids (and ``:``) becomes ``_``,
    and ``_`` is put in front of a name that would start with a digit, ``-`` or ``.``."""
    name = _INVALID_NAME_CHAR.sub("_", segment)
    if not name or not _VALID_NAME_START.match(name[0]):
        name = "_" + name
    return name


# ---------------------------------------------------------------- rendering

_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def _clean_body(body: str) -> str:
    body = body.replace("\r\n", "\n").removeprefix("\ufeff")
    return _LEADING_BLANK_LINES.sub("", body).rstrip()


@dataclass(frozen=True)
class _Content:
    body: str
    description: str | None
    text: bool


def _content(file: MemoryFile) -> _Content:
    """Body and description; a file with unreadable frontmatter is all body, with no description."""
    doc = file.document
    if doc is None:
        return _Content("", None, False)
    if doc.error is not None:
        return _Content(_clean_body(doc.text), None, True)
    desc = doc.description
    return _Content(_clean_body(doc.body), one_line(desc) if desc else None, True)


@dataclass
class _Element:
    file: MemoryFile | None = None
    children: dict[str, _Element] = field(default_factory=dict)


def _system_tree(files: Iterable[MemoryFile]) -> _Element:
    root = _Element()
    for file in files:
        label = file.path.removeprefix(SYSTEM_DIR).removesuffix(".md")
        node = root
        for part in (p for p in label.split("/") if p):
            node = node.children.setdefault(part, _Element())
        node.file = file
    return root


def _render_system(root: _Element, out: list[str], skipped: list[str], shown: list[str]) -> None:
    def render(node: _Element, depth: int) -> None:
        pad = "  " * depth
        for name, child in sorted(node.children.items(), key=lambda item: name_sort_key(item[0])):
            tag = xml_element_name(name)
            out.append(f"{pad}<{tag}>")
            if child.file is not None:
                out.append(f"{pad}  <projection>{MEMORY_DIR_VAR}/{child.file.path}</projection>")
                content = _content(child.file)
                if not content.text:
                    skipped.append(child.file.path)
                    out.append(f"{pad}  {NOT_TEXT_NOTE}")
                else:
                    shown.append(child.file.path)
                    if content.description:
                        out.append(f"{pad}  <description>{content.description}</description>")
                    if content.body:
                        out.append(f"{pad}  {content.body}")
            render(child, depth + 1)
            out.append(f"{pad}</{tag}>")

    render(root, 0)


def _without_secret_names(snapshot: MemorySnapshot) -> MemorySnapshot:
    """The snapshot without files whose path holds a secret. Each path is scanned once per process: a
    commit adds a path or two, and every step of a turn that wrote memory compiles a new ``HEAD``."""
    named = [path for path in snapshot.files if name_holds_secret(path)]
    if not named:
        return snapshot
    return MemorySnapshot(snapshot.head, {p: f for p, f in snapshot.files.items() if p not in named})


def _render(snapshot: MemorySnapshot, limits: TreeLimits) -> CompiledMemory:
    snapshot = _without_secret_names(snapshot)
    persona: MemoryFile | None = None
    persona_path = snapshot.persona_path
    system: list[MemoryFile] = []
    for path, file in snapshot.files.items():
        if snapshot.tier(path) != "system" or not is_memory_markdown(path) or is_hidden(path):
            continue
        if path == persona_path:
            persona = file
        else:
            system.append(file)
    external: list[TreeEntry] = [
        entry for entry in memory_tree_entries(snapshot, projected_only=True)
        if snapshot.tier(entry.path) == "external" and (not snapshot.v2 or is_memory_markdown(entry.path))
    ]

    tree_text = None
    if external:
        tree_text = render_tree(external, root_label=f"{MEMORY_DIR_PLACEHOLDER}/", max_lines=limits.max_lines,
                                max_chars=limits.max_chars, max_children=limits.max_children)
    return _assemble(snapshot.head, persona_path, persona, _system_part(system), tree_text)


def _system_part(system: Iterable[MemoryFile]) -> tuple[list[str], list[str], list[str]]:
    """The in-context files' elements: (lines, shown paths, skipped paths)."""
    lines: list[str] = []
    shown: list[str] = []
    skipped: list[str] = []
    _render_system(_system_tree(system), lines, skipped, shown)
    return lines, shown, skipped


def _assemble(head: str | None, persona_path: str, persona: MemoryFile | None,
              system_part: tuple[list[str], list[str], list[str]], tree_text: str | None) -> CompiledMemory:
    system_lines, system_shown, system_skipped = system_part
    if persona is None and not system_lines and tree_text is None:
        return CompiledMemory(head, "", ())
    lines = [REMINDER]
    shown: list[str] = []
    skipped: list[str] = []
    if persona is not None:
        lines += ["", "<self>", f"<projection>{MEMORY_DIR_VAR}/{persona_path}</projection>"]
        content = _content(persona)
        if not content.text:
            skipped.append(persona_path)
            lines.append(NOT_TEXT_NOTE)
        else:
            shown.append(persona_path)
            if content.body:
                lines.append(content.body)
        lines.append("</self>")
    if system_lines or tree_text is not None:
        lines += ["", "<memory>", *system_lines]
        if tree_text is not None:
            lines += ["<external_projection>", tree_text, "</external_projection>"]
        lines.append("</memory>")
    return CompiledMemory(head, "\n".join(lines), (*shown, *system_shown), (*skipped, *system_skipped))


class _KeptSection:
    """One memory's ``SectionParts`` with its in-context elements as last drawn (by ``system_version``)."""

    def __init__(self, parts: SectionParts) -> None:
        self.parts = parts
        self.system_version = -1
        self.system_part: tuple[list[str], list[str], list[str]] = ([], [], [])


_KEPT: list[_KeptSection] = []  # most recent first; a process may compile a few memories (subagents)
_KEPT_LOCK = threading.Lock()


def _render_from_kept(snapshot: MemorySnapshot, limits: TreeLimits) -> CompiledMemory:
    """``_render(snapshot)``, built by moving the changed paths of a kept section (see ``section_parts``)."""
    with _KEPT_LOCK:
        # the section a commit's snapshot was made from first: the last one compiled may be another memory's
        parent = snapshot.change.parent if snapshot.change is not None else None
        order = sorted(range(len(_KEPT)), key=lambda index: _KEPT[index].parts.files is not parent)
        for index in order:
            kept = _KEPT[index]
            if kept.parts.advance(snapshot, limits):
                _KEPT.insert(0, _KEPT.pop(index))
                break
        else:
            kept = _KeptSection(SectionParts(snapshot, limits))
            _KEPT.insert(0, kept)
            del _KEPT[SECTIONS_KEPT:]
        parts = kept.parts
        if kept.system_version != parts.system_version:
            kept.system_part = _system_part(parts.system.values())
            kept.system_version = parts.system_version
        tree_text = None
        if parts.tree.size:
            tree_text = parts.tree.draw(root_label=f"{MEMORY_DIR_PLACEHOLDER}/", max_lines=limits.max_lines,
                                        max_chars=limits.max_chars)
        return _assemble(snapshot.head, parts.persona_path, parts.persona, kept.system_part, tree_text)


# ---------------------------------------------------------------- cache


@dataclass
class _CacheEntry:
    files: Mapping[str, MemoryFile]  # the snapshot's mapping: the same object is the same content
    limits: TreeLimits
    compiled: CompiledMemory
    _signature: tuple[list[str], list[str]] | None = None

    @property
    def signature(self) -> tuple[list[str], list[str]]:
        """Listed only when another mapping claims this ``HEAD`` (an editor overlay): a commit's new ``HEAD``
        is compiled once per step, and two lists of every path and blob cost more than the compile (issue 14)."""
        if self._signature is None:
            self._signature = _signature(self.files)
        return self._signature


_blob_of = operator.attrgetter("blob")


def _signature(files: Mapping[str, MemoryFile]) -> tuple[list[str], list[str]]:
    """Paths and blob ids in order: equal signatures mean equal content."""
    return list(files), list(map(_blob_of, files.values()))


class _CompileCache:
    """The last few compiled memories by ``HEAD``; a hit must also hold the same blobs and limits.

    A ``HEAD`` keeps up to ``VARIANTS_PER_HEAD`` variants, so compiling an editor overlay on ``HEAD``
    does not evict the committed compile.
    """

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[str, list[_CacheEntry]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, snapshot: MemorySnapshot, limits: TreeLimits) -> CompiledMemory | None:
        head = snapshot.head
        if head is None:
            return None
        with self._lock:
            variants = self._items.get(head)
            if not variants:
                return None
            signature = None
            for index, entry in enumerate(variants):
                if entry.limits != limits:
                    continue
                if entry.files is not snapshot.files:
                    if signature is None:
                        signature = _signature(snapshot.files)
                    if entry.signature != signature:
                        continue
                self._items.move_to_end(head)
                if index:
                    variants.insert(0, variants.pop(index))
                return entry.compiled
            return None

    def put(self, snapshot: MemorySnapshot, limits: TreeLimits, compiled: CompiledMemory) -> CompiledMemory:
        head = snapshot.head
        if head is None:
            return compiled
        entry = _CacheEntry(snapshot.files, limits, compiled)
        with self._lock:
            variants = self._items.setdefault(head, [])
            variants.insert(0, entry)
            del variants[VARIANTS_PER_HEAD:]
            self._items.move_to_end(head)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _CompileCache(CACHE_SIZE)


def clear_compile_cache() -> None:
    """Forget every cached compile and kept section (tests; a change of tree-limit environment is picked
    up anyway)."""
    _CACHE.clear()
    with _KEPT_LOCK:
        _KEPT.clear()


def compile_memory(snapshot: MemorySnapshot) -> CompiledMemory:
    """The memory section for ``snapshot``; the same object again for an unchanged ``HEAD``."""
    limits = tree_limits()
    cached = _CACHE.get(snapshot, limits)
    if cached is not None:
        return cached
    return _CACHE.put(snapshot, limits, _render_from_kept(snapshot, limits))
