"""Which memory notes describe which workspace, so that one project's notes are never judged by another.

/init writes one overview per project folder (``system/project/<slug>.md``) whose facts line names the
project: ``- Repository: `<remote>` …; folder `<path>`.`` or ``- Folder: `<path>`.`` The record therefore
lives in the memory's own text, which Letta Code reads and writes like any other note (no frontmatter key
of ours). An overview and the files it links to (``reference/<slug>/…``), with the folders those sit in,
belong to that project. A note that belongs to no project is the agent's general memory of the workspace
it works in, and is checked; a note that belongs to another project is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from letta_ls.memfs.links import link_spans, resolve_markdown, resolve_wiki
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, is_memory_markdown

_REPOSITORY = re.compile(r"^- Repository: `([^`]+)`.*?folder `([^`]+)`", re.M)
_FOLDER = re.compile(r"^- Folder: `([^`]+)`", re.M)


@dataclass(frozen=True)
class ProjectRecord:
    """A project as /init recorded it, and the memory paths that describe it."""

    overview: str
    folder: str
    remote: str | None
    members: frozenset[str]


def normalize_remote(url: str | None) -> str | None:
    """``git@github.com:o/r.git``, ``https://github.com/o/r`` and ``ssh://git@github.com/o/r`` alike."""
    if not url:
        return None
    u = url.strip().lower().removesuffix("/").removesuffix(".git")
    u = re.sub(r"^[a-z+]+://", "", u)
    u = re.sub(r"^[^@/]+@", "", u)
    return u.replace(":", "/", 1)


def may_be_overview(file: MemoryFile) -> bool:
    """Whether a file can hold a project record (every overview passes; a few look-alikes may too)."""
    text = file.text
    return text is not None and is_memory_markdown(file.path) and ("- Repository: `" in text
                                                                   or "- Folder: `" in text)


def project_records(snapshot: MemorySnapshot) -> list[ProjectRecord]:
    """Every project overview in memory, with its member files."""
    files = frozenset(snapshot.files)
    folders = snapshot.folders
    out = []
    for file in snapshot:
        if not may_be_overview(file):
            continue
        text = file.text
        repository = _REPOSITORY.search(text)
        folder_only = _FOLDER.search(text)
        if repository:
            remote, folder = repository.group(1), repository.group(2)
        elif folder_only:
            remote, folder = None, folder_only.group(1)
        else:
            continue
        members = {file.path}
        for link in link_spans(text):
            resolve = resolve_wiki if link.kind == "wiki" else resolve_markdown
            target = resolve(files, folders, link.target, file.path)
            if target is None:
                continue
            members.add(target)
            if "/" in target and not target.startswith("system/"):
                parent = target.rsplit("/", 1)[0] + "/"
                members.update(p for p in files if p.startswith(parent))
        out.append(ProjectRecord(file.path, folder, remote, frozenset(members)))
    return out


def notes_about(snapshot: MemorySnapshot, root: Path, remote: str | None) -> frozenset[str]:
    """The notes to check against the workspace at ``root``: everything but other projects' notes."""
    mine: set[str] = set()
    theirs: set[str] = set()
    wanted_remote = normalize_remote(remote)
    for record in project_records(snapshot):
        same_folder = Path(record.folder).expanduser() == root
        same_remote = wanted_remote is not None and normalize_remote(record.remote) == wanted_remote
        (mine if same_folder or same_remote else theirs).update(record.members)
    return frozenset(p for p in snapshot.files if is_memory_markdown(p) and (p in mine or p not in theirs))


class ScopeCache:
    """``notes_about`` for one workspace, kept across snapshots.

    The editor asks for the scope on every keystroke in a note (its buffer laid over ``HEAD``), and reading
    every overview and resolving its links costs tens of milliseconds in a 2,000-file memory. The scope
    depends only on which files exist and on the overviews' text, so a snapshot with the same files, whose
    changed files neither are nor become overviews, has the scope last computed: comparing blob ids is cheap.
    """

    def __init__(self, root: Path, remote: str | None) -> None:
        self.root, self.remote = root, remote
        self._blobs: dict[str, str] = {}
        self._overviews: frozenset[str] = frozenset()
        self._scope: frozenset[str] | None = None

    def _reusable(self, snapshot: MemorySnapshot) -> bool:
        blobs = self._blobs
        if len(snapshot.files) != len(blobs):
            return False
        for path, file in snapshot.files.items():
            blob = blobs.get(path)
            if blob == file.blob:
                continue
            if blob is None or path in self._overviews or may_be_overview(file):
                return False
        return True

    def notes_about(self, snapshot: MemorySnapshot) -> frozenset[str]:
        if self._scope is not None and self._reusable(snapshot):
            return self._scope
        scope = self._scope = notes_about(snapshot, self.root, self.remote)
        self._blobs = {path: file.blob for path, file in snapshot.files.items()}
        self._overviews = frozenset(file.path for file in snapshot if may_be_overview(file))
        return scope
