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
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown

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


def project_records(snapshot: MemorySnapshot) -> list[ProjectRecord]:
    """Every project overview in memory, with its member files."""
    files = frozenset(snapshot.files)
    folders = snapshot.folders
    out = []
    for file in snapshot:
        text = file.text
        if text is None or not is_memory_markdown(file.path) or ("- Repository: `" not in text
                                                                 and "- Folder: `" not in text):
            continue
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
