"""Skills: finding them in their four sources, and reading one for the agent's ``skill`` tool.

A skill is a folder holding a ``SKILL.md`` (the name is matched case-insensitively) whose frontmatter
gives ``name`` and ``description``. Sources, weakest first, as in Letta Code: bundled (shipped with
letta-ls) < global (``LETTA_LS_HOME/skills/``) < agent (``skills/<id>/SKILL.md`` in memory) < project
(``<workspace>/.skills/`` (legacy), then ``<workspace>/.agents/skills/``); a later source replaces an
earlier skill with the same id. The id is the folder's path under its root, so ``web/scraper`` is a
valid id. Missing fields fall back like Letta Code: name → ``title`` → the id's last segment
title-cased; description → the first paragraph of the body; ``when_to_use`` is kept and shown after the
description as ``When to use: …``.

Agent skills are read from a memory snapshot (committed ``HEAD``), never from the working tree. Disk
sources are walked following symbolic links, each real folder at most once, so a link cycle ends.
Hidden entries (``.git``, ``.cache``) are skipped. Unreadable or non-UTF-8 ``SKILL.md`` files are
skipped: discovery never raises for bad content.

Discovery runs on every step of every turn, so parsing is cached, never the answer: a memory skill is
parsed once per blob (content-addressed, so never stale) and the skills of one snapshot are kept with
it; disk folders are walked every time, and a ``SKILL.md`` is re-read whenever its identity or stat
changed (inode, size, mtime, ctime). A file changed in the last ``RACY_SECONDS`` is always re-read, as
git treats "racily clean" files: a second edit within one tick of the file-system clock that kept the
size would otherwise look unchanged.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from letta_ls.memfs.frontmatter import MemoryDocument, one_line, parse_document, unquote
from letta_ls.memfs.snapshot import SKILLS_DIR, MemoryFile, MemorySnapshot, decode_text
from letta_ls.memfs.tree import TreeEntry, file_description, is_hidden, render_tree

log = logging.getLogger(__name__)

SkillSource = Literal["bundled", "global", "agent", "project"]
SOURCE_ORDER: tuple[SkillSource, ...] = ("bundled", "global", "agent", "project")
SKILL_FILENAME = "SKILL.md"
MEMORY_SKILLS_ROOT = "${MEMORY_DIR}/skills"
PROJECT_SKILL_DIRS = (".skills", ".agents/skills")  # weakest first: `.agents/skills` wins over legacy
MAX_LISTED_FILES = 2_000  # a skill folder listing stops here (a skill is not a source tree)
NO_DESCRIPTION = "No description available"

RACY_SECONDS = 2.0
_HEADING_ONLY = re.compile(r"\A(?:#{1,6}[ \t][^\n]*\n?)+\Z")


class SkillUnavailableError(LookupError):
    """A discovered skill's ``SKILL.md`` can no longer be read (deleted, moved, not text)."""


@dataclass(frozen=True)
class Skill:
    """A discovered skill. ``path`` is the absolute ``SKILL.md`` on disk (None for memory skills when the
    memory folder is not known); ``memory_path`` is its path inside memory for agent skills; ``root``
    is how its source folder is shown in the prompt; ``folder`` is its folder under that root."""

    id: str
    name: str
    description: str
    path: Path | None
    source: SkillSource
    memory_path: str | None = None
    when_to_use: str | None = None
    root: str = ""
    filename: str = SKILL_FILENAME

    @property
    def summary(self) -> str:
        """One line for the skill list: the description's first line, then ``When to use: …``."""
        first = next((line.strip() for line in self.description.strip().splitlines() if line.strip()), "")
        if self.when_to_use:
            when = f"When to use: {one_line(self.when_to_use)}"
            return f"{first} {when}" if first else when
        return first

    @property
    def location(self) -> str:
        """Where the ``SKILL.md`` is, as the agent should be told (memory paths use ``$MEMORY_DIR``)."""
        if self.memory_path is not None:
            return f"$MEMORY_DIR/{self.memory_path}"
        return str(self.path) if self.path is not None else f"{self.root}/{self.id}/{self.filename}"


def _is_skill_file(name: str) -> bool:
    return name.upper() == "SKILL.MD"


def _text_field(fields: dict, key: str) -> str | None:
    value = fields.get(key)
    if isinstance(value, str):
        value = unquote(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _strip_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _first_paragraph(body: str) -> str | None:
    for paragraph in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n").strip()):
        paragraph = paragraph.strip()
        if paragraph and not _HEADING_ONLY.match(paragraph):
            return paragraph
    return None


def _title_from_id(skill_id: str) -> str:
    last = skill_id.rsplit("/", 1)[-1]
    words = re.sub(r"[-_]+", " ", last)
    return re.sub(r"\b\w", lambda m: m.group(0).upper(), words).strip() or skill_id


def _document_parts(doc: MemoryDocument) -> tuple[dict, str]:
    """Fields and body; a file whose frontmatter cannot be read is all body."""
    if doc.error is not None:
        return {}, doc.text.removeprefix("\ufeff")
    return doc.fields, doc.body


def skill_from_text(
    text: str,
    *,
    skill_id: str,
    source: SkillSource,
    path: Path | None,
    memory_path: str | None,
    root: str,
    filename: str = SKILL_FILENAME,
) -> Skill:
    """A ``Skill`` from the text of its ``SKILL.md`` with Letta Code's fallbacks for missing fields."""
    fields, body = _document_parts(parse_document(text))
    name = _text_field(fields, "name") or _text_field(fields, "title") or _title_from_id(skill_id)
    description = _text_field(fields, "description") or _first_paragraph(body) or NO_DESCRIPTION
    return Skill(
        id=skill_id,
        name=one_line(name),
        description=_strip_quotes(description),
        path=path,
        source=source,
        memory_path=memory_path,
        when_to_use=_text_field(fields, "when_to_use"),
        root=root,
        filename=filename,
    )


class _Lru:
    """A small thread-safe least-recently-used map for the parse caches below."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_SKILL_PARSES = _Lru(4_096)  # Skill by (blob id or disk stat, how it was found)
_SNAPSHOT_SKILLS = _Lru(8)  # id(snapshot.files) -> (files, memory_dir, skills)


def clear_skill_caches() -> None:
    """Forget every cached parse (tests and benchmarks that measure a cold start)."""
    _SKILL_PARSES.clear()
    _SNAPSHOT_SKILLS.clear()


def memory_skills(snapshot: MemorySnapshot, memory_dir: Path | None = None) -> list[Skill]:
    """Skills stored in memory at ``skills/<id>/SKILL.md`` (a ``SKILL.md`` directly in ``skills/`` is a
    flat file, not a skill, and is left out)."""
    cached = _kept_skills(snapshot.files, memory_dir)
    if cached is not None:
        return list(cached)
    change = snapshot.change  # a commit outside skills/ keeps the skills of the snapshot it was made from
    kept = None if change is None or any(p.startswith(SKILLS_DIR) for p in change.paths) else \
        _kept_skills(change.parent, memory_dir)
    skills = list(kept) if kept is not None else _memory_skills(snapshot.files, memory_dir)
    _SNAPSHOT_SKILLS.put(id(snapshot.files), (snapshot.files, memory_dir, tuple(skills)))
    return skills


def _kept_skills(files: Mapping[str, MemoryFile], memory_dir: Path | None) -> tuple[Skill, ...] | None:
    cached = _SNAPSHOT_SKILLS.get(id(files))
    if isinstance(cached, tuple) and cached[0] is files and cached[1] == memory_dir:
        return cached[2]
    return None


def _memory_skills(files: Mapping[str, MemoryFile], memory_dir: Path | None) -> list[Skill]:
    out = []
    for path, file in files.items():
        if not path.startswith(SKILLS_DIR) or is_hidden(path):
            continue
        folder, _, filename = path[len(SKILLS_DIR) :].rpartition("/")
        if not folder or not _is_skill_file(filename):
            continue
        key = ("memory", path, file.blob, memory_dir)
        skill = _SKILL_PARSES.get(key)
        if skill is None:
            text = file.text
            if text is None:
                log.info("skipping skill %s: not UTF-8 text", path)
                continue
            skill = skill_from_text(
                text, skill_id=folder, source="agent", memory_path=path, root=MEMORY_SKILLS_ROOT,
                path=(Path(memory_dir) / path) if memory_dir is not None else None, filename=filename,
            )
            _SKILL_PARSES.put(key, skill)
        out.append(skill)
    return out


def _walk_skill_files(root: Path) -> list[tuple[str, Path]]:
    """(id, SKILL.md path) under ``root``, following links, each real folder visited once."""
    found: list[tuple[str, Path]] = []
    visited: set[str] = set()

    def visit(folder: Path, rel: str) -> None:
        try:
            real = os.path.realpath(folder)
        except OSError:
            return
        if real in visited:
            return
        visited.add(real)
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.info("cannot read skills folder %s: %s", folder, exc)
            return
        for item in items:
            if item.name.startswith("."):
                continue
            try:
                is_dir = item.is_dir()  # follows symbolic links
                is_file = not is_dir and item.is_file()
            except OSError:
                continue
            if is_dir:
                visit(Path(item.path), f"{rel}/{item.name}" if rel else item.name)
            elif is_file and rel and _is_skill_file(item.name):
                found.append((rel, Path(item.path)))

    if root.is_dir():
        visit(root, "")
    return found


def disk_skills(root: Path, source: SkillSource) -> list[Skill]:
    """Skills in a folder on disk (``<root>/<id>/SKILL.md``)."""
    root = Path(root).absolute()
    out = []
    for skill_id, skill_path in _walk_skill_files(root):
        try:
            stat = skill_path.stat()
        except OSError as exc:
            log.info("skipping skill %s: %s", skill_path, exc)
            continue
        key = ("disk", str(skill_path), skill_id, source, str(root), stat.st_dev, stat.st_ino, stat.st_size,
               stat.st_mtime_ns, stat.st_ctime_ns)
        skill = _SKILL_PARSES.get(key)
        if skill is None:
            skill = _read_disk_skill(root, source, skill_id, skill_path)
            if skill is None:
                continue
            if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > RACY_SECONDS * 1e9:
                _SKILL_PARSES.put(key, skill)
        out.append(skill)
    return out


def _read_disk_skill(root: Path, source: SkillSource, skill_id: str, skill_path: Path) -> Skill | None:
    try:
        data = skill_path.read_bytes()
    except OSError as exc:
        log.info("skipping skill %s: %s", skill_path, exc)
        return None
    text = decode_text(data)
    if text is None:
        log.info("skipping skill %s: not UTF-8 text", skill_path)
        return None
    return skill_from_text(text, skill_id=skill_id, source=source, path=skill_path, memory_path=None,
                           root=str(root), filename=skill_path.name)


def project_skill_roots(project_dirs: list[Path]) -> list[Path]:
    """The project skill folders of each workspace folder, weakest first."""
    return [Path(ws) / sub for ws in project_dirs for sub in PROJECT_SKILL_DIRS]


def discover_skills(
    snapshot: MemorySnapshot,
    *,
    project_dirs: list[Path],
    global_dir: Path | None,
    bundled_dir: Path | None = None,
    memory_dir: Path | None = None,
) -> list[Skill]:
    """Every skill the agent can use, one per id, sorted by id.

    ``project_dirs`` are workspace folders (their ``.agents/skills/`` and legacy ``.skills/`` are
    searched; with several folders a later one wins); ``global_dir`` is the global skills folder
    itself; ``bundled_dir`` is the folder of skills shipped with letta-ls (none today);
    ``memory_dir`` only fills in ``Skill.path`` for memory skills.
    """
    by_id: dict[str, Skill] = {}
    layers: list[list[Skill]] = []
    if bundled_dir is not None:
        layers.append(disk_skills(bundled_dir, "bundled"))
    if global_dir is not None:
        layers.append(disk_skills(global_dir, "global"))
    layers.append(memory_skills(snapshot, memory_dir))
    for root in project_skill_roots(project_dirs):
        layers.append(disk_skills(root, "project"))
    for layer in layers:
        for skill in layer:
            by_id[skill.id] = skill
    return sorted(by_id.values(), key=lambda s: (s.id.casefold(), s.id))


def find_skill(skills: list[Skill], name: str) -> Skill | None:
    """The skill the model asked for: by id, else by display name, else case-insensitively by either."""
    wanted = name.strip().strip("/")
    for matches in (
        lambda s: s.id == wanted,
        lambda s: s.name == wanted,
        lambda s: s.id.casefold() == wanted.casefold() or s.name.casefold() == wanted.casefold(),
    ):
        for skill in skills:
            if matches(skill):
                return skill
    return None


def _skill_body(text: str) -> str:
    _fields, body = _document_parts(parse_document(text))
    return body.replace("\r\n", "\n").strip("\n").rstrip()


def _memory_folder_listing(memory_path: str, snapshot: MemorySnapshot) -> tuple[str, list[TreeEntry]]:
    folder = memory_path.rpartition("/")[0] + "/"
    entries = [
        TreeEntry(path[len(folder) :], file_description(file))
        for path, file in snapshot.files.items()
        if path.startswith(folder) and not is_hidden(path)
    ]
    return f"$MEMORY_DIR/{folder}", entries


def _disk_folder_listing(folder: Path) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    visited: set[str] = set()

    def visit(current: Path, rel: str) -> None:
        real = os.path.realpath(current)
        if real in visited or len(entries) >= MAX_LISTED_FILES:
            return
        visited.add(real)
        try:
            with os.scandir(current) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for item in items:
            if item.name.startswith(".") or len(entries) >= MAX_LISTED_FILES:
                continue
            child = f"{rel}/{item.name}" if rel else item.name
            try:
                if item.is_dir():
                    visit(Path(item.path), child)
                elif item.is_file():
                    entries.append(TreeEntry(child))
            except OSError:
                continue

    visit(folder, "")
    return entries


def read_skill(skill: Skill, snapshot: MemorySnapshot) -> str:
    """What the ``skill`` tool returns: a header, the ``SKILL.md`` body, and the skill folder's files.

    Memory skills are read from ``snapshot``; others from disk. Raises ``SkillUnavailableError`` when
    the file is gone or is not text.
    """
    if skill.memory_path is not None:
        file = snapshot.get(skill.memory_path)
        text = file.text if file is not None else None
        if text is None:
            reason = "no longer exists" if file is None else "is not UTF-8 text"
            raise SkillUnavailableError(f"the skill {skill.id!r}: {skill.memory_path} {reason}")
        label, entries = _memory_folder_listing(skill.memory_path, snapshot)
    else:
        if skill.path is None:
            raise SkillUnavailableError(f"the skill {skill.id!r} has no SKILL.md to read")
        try:
            text = decode_text(skill.path.read_bytes())
        except OSError as exc:
            reason = f"cannot read {skill.path}: {exc.strerror}"
            raise SkillUnavailableError(f"the skill {skill.id!r}: {reason}") from exc
        if text is None:
            raise SkillUnavailableError(f"the skill {skill.id!r}: {skill.path} is not UTF-8 text")
        label = f"{skill.path.parent}/"
        entries = _disk_folder_listing(skill.path.parent)
    header = f"Skill `{skill.id}`: {skill.name} ({skill.source}) — {skill.location}"
    parts = [header]
    if skill.when_to_use:
        parts.append(f"When to use: {one_line(skill.when_to_use)}")
    body = _skill_body(text)
    parts.append(body if body else "(SKILL.md has no body)")
    listing = render_tree(entries, root_label=label)
    parts.append(f"Files in the skill folder (paths in SKILL.md are relative to it):\n{listing}")
    return "\n\n".join(parts)
