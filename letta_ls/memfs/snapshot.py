"""An immutable view of a memory tree: every file's path, blob id and bytes at one commit.

The prompt compiler, the memory tree and the doctor all read memory through a ``MemorySnapshot``, so
they see committed ``HEAD`` (or a directory on disk, for Letta Code folders without git, or ``HEAD``
with an editor buffer laid over it) and never half-written files. Parsed documents are cached by blob
id: content-addressed, so a cache entry can never go stale.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from letta_ls.memfs.frontmatter import MemoryDocument, parse_document
from letta_ls.memfs.letta_code_rules import INDEX_NAME, is_v2

SYSTEM_DIR = "system/"
SKILLS_DIR = "skills/"
PERSONA_PATH = "system/persona.md"
HUMAN_PATH = "system/human.md"
V2_PERSONA_PATH = "persona.md"


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (so on-disk and committed files compare directly)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def tier_of(path: str) -> str:
    """``system``, ``skill`` or ``external``: where a file's content reaches the model."""
    if path.startswith(SYSTEM_DIR):
        return "system"
    if path.startswith(SKILLS_DIR):
        return "skill"
    return "external"


def is_memory_markdown(path: str) -> bool:
    """Markdown files are memory; other files (a skill's scripts, an avatar) are assets."""
    return path.endswith(".md")


def decode_text(data: bytes) -> str | None:
    """UTF-8 text, or None for binary data (a NUL byte) and bytes that are not UTF-8."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _DocumentCache:
    """Parsed documents by blob id, bounded, shared by every snapshot in the process."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._items: OrderedDict[str, MemoryDocument] = OrderedDict()
        self._capacity = capacity

    def get(self, blob: str, text: str) -> MemoryDocument:
        doc = self._items.get(blob)
        if doc is None:
            doc = parse_document(text)
            self._items[blob] = doc
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return doc


DOCUMENTS = _DocumentCache()


def merged_files(files: Mapping[str, MemoryFile], changes: Mapping[str, MemoryFile | None]) -> dict[str, MemoryFile]:
    """``files`` (sorted by path) with ``changes`` applied (None removes a path), still sorted by path.

    A replaced file keeps its place and a new path is placed by bisection, so a change of a file or two costs a
    copy of the mapping (in C, allocating no pair per path: 10,000 pairs woke the cycle collector several times)
    rather than a sort of every path: a chat turn that writes memory makes two such snapshots per write (the
    write guard's and the commit's), of 10,000 paths each on a large memory (issue 14).
    """
    added = sorted(path for path, file in changes.items() if file is not None and path not in files)
    if added:
        paths = list(files)
        out: dict[str, MemoryFile] = {}
        items = iter(files.items())
        copied = 0
        for path in added:
            place = bisect.bisect_left(paths, path)
            out.update(itertools.islice(items, place - copied))
            copied = place
            out[path] = changes[path]  # type: ignore[assignment]
        out.update(items)
    else:
        out = dict(files)
    for path, file in changes.items():
        if file is None:
            out.pop(path, None)
        else:
            out[path] = file
    return out


@dataclass(frozen=True)
class MemoryFile:
    path: str
    blob: str
    data: bytes = field(repr=False)

    @cached_property
    def text(self) -> str | None:
        return decode_text(self.data)

    @property
    def tier(self) -> str:
        return tier_of(self.path)

    @property
    def document(self) -> MemoryDocument | None:
        """The parsed frontmatter and body, or None for a file that is not text."""
        text = self.text
        if text is None:
            return None
        return DOCUMENTS.get(self.blob, text)


def in_path_order(files: Mapping[str, MemoryFile]) -> dict[str, MemoryFile]:
    """``files`` sorted by path, without ``sorted(files.items())``'s one ``(path, file)`` tuple per file: on a
    10,000-file memory those tuples, built on every save, were enough garbage-collected allocations to set off
    a full collection of the server's heap every few saves (~100 ms holding the GIL). Paths are strings, which
    the collector does not track."""
    return {path: files[path] for path in sorted(files)}


@dataclass(frozen=True)
class SnapshotChange:
    """How a snapshot was made from another (``MemorySnapshot.with_files``): its files are ``parent``'s except,
    at most, at ``paths``. What is derived from a snapshot (the prompt's memory section, the memory's skills) can
    then follow a commit of one file in one step, where comparing every path cost a chat turn on a 10,000-file
    memory more than the rest of its prompt (issue 14)."""

    parent: Mapping[str, MemoryFile]
    paths: frozenset[str]


@dataclass(frozen=True)
class MemorySnapshot:
    """Files by path (sorted), at commit ``head`` (None for a directory that is not a git commit); ``change`` says
    what it was made from, when it was made by changing another snapshot."""

    head: str | None
    files: Mapping[str, MemoryFile]
    change: SnapshotChange | None = field(default=None, compare=False, repr=False)

    def __iter__(self) -> Iterator[MemoryFile]:
        return iter(self.files.values())

    def __len__(self) -> int:
        return len(self.files)

    def __contains__(self, path: object) -> bool:
        return path in self.files

    def get(self, path: str) -> MemoryFile | None:
        return self.files.get(path)

    @cached_property
    def folders(self) -> frozenset[str]:
        """Every folder that holds a file, as ``a/b`` (no trailing slash)."""
        out: set[str] = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/".join(parts[:i]))
        return frozenset(out)

    def has_folder(self, path: str) -> bool:
        """``path in self.folders``, answered without building ``folders`` when it is not built yet: the
        first sorted path at or after ``path/`` starts with it exactly when some file is inside (the
        agent's create asks this once per write, and a 2,000-file memory has ~3 ms of folders to list)."""
        if "folders" in self.__dict__:
            return path in self.folders
        prefix = path + "/"
        paths = self.sorted_paths
        index = bisect.bisect_left(paths, prefix)
        return index < len(paths) and paths[index].startswith(prefix)

    @cached_property
    def sorted_paths(self) -> list[str]:
        """The paths in order (the mapping is kept sorted, so this is a linear pass in C, once per snapshot)."""
        return sorted(self.files)

    def under(self, prefix: str) -> list[MemoryFile]:
        """The files whose path starts with ``prefix`` (a folder and ``/``), found by bisection: ``letta/status``
        asks for ``system/`` after every commit, and a scan of a 10,000-file memory held the server ~3 ms."""
        paths = self.sorted_paths
        start = bisect.bisect_left(paths, prefix)
        end = bisect.bisect_left(paths, prefix[:-1] + chr(ord(prefix[-1]) + 1), start)
        return [self.files[path] for path in paths[start:end]]

    @cached_property
    def v2(self) -> bool:
        """MemFS v2 (a root ``MEMORY.md`` index): Letta Code then keeps the root Markdown files in context
        and projects only the files of child folders that carry their own ``MEMORY.md``."""
        return is_v2(self.files)

    @property
    def persona_path(self) -> str:
        return V2_PERSONA_PATH if self.v2 else PERSONA_PATH

    def tier(self, path: str) -> str:
        """Where a file's content reaches the model, as Letta Code decides it for this layout: ``system``
        (in the prompt: ``system/`` files, or a MemFS v2 memory's root Markdown files), ``skill`` or
        ``external`` (read on demand)."""
        if not self.v2:
            return tier_of(path)
        if path.startswith(SKILLS_DIR):
            return "skill"
        return "system" if "/" not in path and is_memory_markdown(path) else "external"

    def projected(self, path: str) -> bool:
        """Whether Letta Code treats the file as memory: always in the legacy layout; in MemFS v2 only a
        file whose every folder carries its own ``MEMORY.md`` index (a folder without one is not memory)."""
        if not self.v2:
            return True
        parts = path.split("/")[:-1]
        return all("/".join(parts[: i + 1]) + "/" + INDEX_NAME in self.files for i in range(len(parts)))

    def markdown(self, tier: str | None = None) -> list[MemoryFile]:
        """Markdown files, of one ``tier`` as this layout decides it (MemFS v2: the root files are ``system``)."""
        return [f for f in self.files.values()
                if is_memory_markdown(f.path) and (tier is None or self.tier(f.path) == tier)]

    def with_text(self, path: str, text: str | bytes | None) -> MemorySnapshot:
        """This snapshot with one file replaced (an editor buffer) or removed (None)."""
        if text is None:
            return self.with_files({path: None})
        data = text.encode("utf-8") if isinstance(text, str) else text
        return self.with_files({path: MemoryFile(path, git_blob_id(data), data)})

    def with_files(self, changes: Mapping[str, MemoryFile | None], *, head: str | None = None) -> MemorySnapshot:
        """This snapshot with ``changes`` laid over it (path -> its new file, or None to remove it), at ``head``
        (default: this one's), recording that it differs from this one only at those paths."""
        return MemorySnapshot(self.head if head is None else head, merged_files(self.files, changes),
                              SnapshotChange(self.files, frozenset(changes)))

    def paths_changed_since(self, files: Mapping[str, MemoryFile]) -> frozenset[str] | None:
        """The only paths at which this snapshot's files may differ from ``files``, when it was made from exactly
        that mapping (None: not known without comparing every path)."""
        change = self.change
        return change.paths if change is not None and change.parent is files else None

    @classmethod
    def from_mapping(cls, files: Mapping[str, str | bytes], head: str | None = None) -> MemorySnapshot:
        out = {}
        for path, content in sorted(files.items()):
            data = content.encode("utf-8") if isinstance(content, str) else content
            out[path] = MemoryFile(path, git_blob_id(data), data)
        return cls(head, out)

    @classmethod
    def from_directory(cls, root: Path, max_file_bytes: int = 8 * 1024 * 1024) -> MemorySnapshot:
        """Every file under ``root`` as it is on disk (hidden entries and symlinks leaving it skipped).

        Files larger than ``max_file_bytes`` are read only up to that size plus one byte, which is
        enough for every check to see that they are oversized without loading a huge file whole.
        """
        root = Path(root)
        root_real = os.path.realpath(root)
        out: dict[str, MemoryFile] = {}
        pending = [(str(root), "")]
        while pending:  # os.scandir: a regular file needs no realpath (only a symlink may leave the root)
            directory, prefix = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:  # unreadable: skipped, as os.walk skips it
                continue
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith("."):
                        pending.append((entry.path, prefix + name + "/"))
                    continue
                # hidden files are not memory, except the limits Letta Code's hook reads at the root
                if name.startswith(".") and not (name == ".memfs.config.json" and not prefix):
                    continue
                if entry.is_symlink():
                    real = os.path.realpath(entry.path)
                    if not real.startswith(root_real + os.sep) or not os.path.isfile(real):
                        continue
                elif not entry.is_file(follow_symlinks=False):
                    continue
                rel = prefix + name
                with open(entry.path, "rb") as handle:
                    data = handle.read(max_file_bytes + 1)
                out[rel] = MemoryFile(rel, git_blob_id(data), data)
        return cls(None, in_path_order(out))
